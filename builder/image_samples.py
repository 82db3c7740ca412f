"""One image's samples: load the scene, select objects, make masks, plan, inpaint; plus its pristine negative.

A ``SampleMaker`` lives for a whole process: it creates each backend of the mix once, on first use, and reuses it
(diffusion backends are expensive to load). Nothing here raises for bad data: an unusable photo, an ineligible
object, a failed mask or a backend raising on one sample each becomes a *skip* record
``{stage, source, image_id, object_id, path, reason}`` that ends up in the manifest, and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import json
import math
import time
from collections import defaultdict
from typing import Any

from PIL import Image

from .backends import InpaintBackend, InpaintRequest, create_backend
from .config import GenerateConfig
from .draws import (
    SampleKey,
    draw_backend_index,
    draw_dilation_pct,
    draw_mask_variant,
    rng_for,
    sample_seed,
    wants_pristine,
)
from .ids import make_sample_id, pixels_sha256
from .masks import mask_to_pil, process_mask
from .planning import create_planner
from .release.photos import PhotoFingerprint, fingerprint
from .scene import Scene, SceneObject, SkippedInput
from .schema import INPAINTED, PRISTINE, STRATEGIES
from .shards import encode_png
from .selection import SelectionConfig, rejection_reason, select_objects


def _json(value: Any) -> str:
    # default=str: a backend's extra may hold e.g. a Path; sorted keys keep the bytes deterministic.
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


def skip_record(stage: str, source: str, image_id: str, reason: str, object_id: str = "", path: str = "") -> dict:
    return {
        "stage": stage,
        "source": source,
        "image_id": image_id,
        "object_id": object_id,
        "path": path,
        "reason": reason,
    }


@dataclass
class _Edit:
    """One inpainting edit between planning and the backend call."""

    key: SampleKey
    variant: str
    dilation: float
    mask: Any  # bool array
    mask_record: dict
    mask_image: Any  # PIL "L"
    planner_name: str
    plan: Any  # EditPlan
    backend_index: int
    request: InpaintRequest


class BackendLoadError(RuntimeError):
    """A configured backend could not be built (missing weights, bad params): the run stops before any sample."""


class SampleMaker:
    def __init__(self, config: GenerateConfig, sources: dict[str, Any]) -> None:
        self.config = config
        self.sources = sources
        self.planner = create_planner(config.planner, **config.planner_params)
        # For backends that ignore prompts (see InpaintBackend.follows_prompt): they can only remove.
        self.removal_planner = create_planner("simple")
        self.selection = SelectionConfig(
            min_area_fraction=config.min_area_fraction,
            max_area_fraction=config.max_area_fraction,
            min_pixels=config.min_object_pixels,
            max_objects=config.objects_per_image,
            skip_crowd=config.skip_crowd,
        )
        self._backends: dict[int, InpaintBackend] = {}
        # Time spent inside backend.inpaint, by backend name: what benchmarks/generate.py compares against.
        self.backend_seconds: dict[str, float] = defaultdict(float)
        self.backend_calls: dict[str, int] = defaultdict(int)
        # Fingerprint of each photo loaded, until the generator takes it for its shard record.
        self.fingerprints: dict[tuple[str, str], PhotoFingerprint] = {}

    def backend(self, index: int) -> InpaintBackend:
        if index not in self._backends:
            spec = self.config.backends[index]
            try:
                self._backends[index] = create_backend(spec.name, **spec.params)
            except Exception as error:  # noqa: BLE001 - re-raised with the backend named
                raise BackendLoadError(
                    f"backend #{index} {spec.name!r} ({_json(spec.params)}) could not be built: "
                    f"{type(error).__name__}: {error}"
                ) from error
        return self._backends[index]

    def load_backends(self) -> None:
        """Build every backend of the mix now: a missing model must stop the run at its start, not turn each
        sample that draws it into a skip hours later."""
        for index in range(len(self.config.backends)):
            self.backend(index)

    # ---- one image -----------------------------------------------------------------------------------------

    def samples_for(self, source_name: str, image_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(rows for the shard, skip records), both in a fixed order."""
        loaded = self.sources[source_name].load(image_id)
        if isinstance(loaded, SkippedInput):
            return [], [skip_record("load", source_name, image_id, loaded.reason, path=loaded.path)]
        scene: Scene = loaded
        path = str(scene.extra.get("file_name", ""))
        skipped = [
            skip_record("object", source_name, image_id, str(s.get("reason", "")), str(s.get("object_id", "")), path)
            for s in scene.extra.get("skipped_objects", [])
        ]
        selection = select_objects(scene.objects, rng_for(self.config.seed, "objects", source_name, image_id), self.selection)
        # Eligible objects left undrawn (objects_per_image reached) are not bad input: not counted as skips.
        by_id = {obj.object_id: obj for obj in scene.objects}
        skipped += [
            skip_record("select", source_name, image_id, reason, object_id, path)
            for object_id, reason in selection.rejected
            if object_id not in by_id or rejection_reason(by_id[object_id], self.selection)
        ]

        # Every sample of this photo stores it as "original": encoded to PNG once, not once per sample.
        original_png = encode_png(scene.image)
        # The photo's fingerprint, once: its pixel digest is part of every sample id of this photo (builder.ids),
        # and the shard record keeps it whole for the manifest's duplicate count (builder.release.photos).
        photo_print = fingerprint(scene.image)
        self.fingerprints[(source_name, image_id)] = photo_print
        original_pixels = photo_print.pixels
        rows: list[dict[str, Any]] = []
        # Objects in id order (not draw order): the shard's row order then reads naturally.
        chosen = sorted(selection.chosen, key=lambda o: _natural_key(o.object_id))
        # Every edit of this photo is prepared first, then each backend inpaints its share in one batched call:
        # all of them are the same size (the same photo), which is what a GPU pipeline batches best. Results and
        # rows keep the object/edit order, so batching never changes what a shard holds.
        prepared: list[tuple[SceneObject, _Edit | None, tuple[str, str] | None]] = []
        for obj in chosen:
            for edit in range(self.config.edits_per_object):
                key = SampleKey(source_name, image_id, obj.object_id, f"edit{edit}")
                prepared.append((obj, *self._prepare(scene, obj, key)))
        outcomes = self._run_backends([edit for _, edit, _ in prepared if edit is not None])
        for obj, edit, problem in prepared:
            if problem is None:
                row, problem = self._row(scene, obj, edit, outcomes[id(edit)], original_png, original_pixels)
            if problem is not None:
                skipped.append(skip_record(problem[0], source_name, image_id, problem[1], obj.object_id, path))
            else:
                rows.append(row)
        planned_edits = len(chosen) * self.config.edits_per_object
        if wants_pristine(self.config, source_name, image_id, planned_edits):
            rows.append(self._pristine(scene, original_png, original_pixels))
        return rows, skipped

    def _prepare(self, scene: Scene, obj: SceneObject, key: SampleKey) -> tuple[_Edit | None, tuple[str, str] | None]:
        """Mask, plan and backend request of one edit (no pixels inpainted yet), or why it cannot be made."""
        variant = draw_mask_variant(self.config, key)
        dilation = draw_dilation_pct(self.config, key)
        try:
            processed = process_mask(obj.mask, variant, dilation)
        except ValueError as error:
            return None, ("select", f"mask {variant} +{dilation}%: {error}")
        backend_index = draw_backend_index(self.config, key)
        backend = self.backend(backend_index)  # built up front by load_backends; a failure there ends the run
        planner = self.planner if backend.follows_prompt else self.removal_planner
        try:
            plan = planner.plan(scene, obj, rng_for(self.config.seed, "plan", *key.parts))
        except Exception as error:  # noqa: BLE001 - e.g. a model-backed planner failing on one object
            return None, ("plan", f"planner {planner.name} raised {type(error).__name__}: {error}")
        seed = sample_seed(self.config, key)
        mask_image = mask_to_pil(processed.mask)
        request = InpaintRequest(
            image=scene.image, mask=mask_image, prompt=plan.prompt, negative_prompt=plan.negative_prompt, seed=seed
        )
        edit = _Edit(key, variant, dilation, processed.mask, processed.record, mask_image, planner.name, plan,
                     backend_index, request)
        return edit, None

    def _run_backends(self, edits: list[_Edit]) -> dict[int, Any]:
        """Each backend's edits in one ``inpaint_batch`` call; ``{id(edit): InpaintResult or the exception}``.

        If a batch raises, its edits are retried one by one, so one bad sample costs only itself."""
        outcomes: dict[int, Any] = {}
        by_backend: dict[int, list[_Edit]] = {}
        for edit in edits:
            by_backend.setdefault(edit.backend_index, []).append(edit)
        for index in sorted(by_backend):
            group, backend = by_backend[index], self.backend(index)
            started = time.perf_counter()
            try:
                results = backend.inpaint_batch([edit.request for edit in group])
                if len(results) != len(group):
                    raise RuntimeError(f"inpaint_batch returned {len(results)} results for {len(group)} requests")
                outcomes.update((id(edit), result) for edit, result in zip(group, results))
            except Exception:  # noqa: BLE001 - find out which sample fails, keep the others
                for edit in group:
                    try:
                        outcomes[id(edit)] = backend.inpaint(edit.request)
                    except Exception as error:  # noqa: BLE001 - one sample's failure must not end the run
                        outcomes[id(edit)] = error
            self.backend_seconds[backend.name] += time.perf_counter() - started
            # Calls that produced an image, as before batching: benchmarks/generate.py divides by this.
            self.backend_calls[backend.name] += sum(not isinstance(outcomes[id(edit)], Exception) for edit in group)
        return outcomes

    def _row(
        self, scene: Scene, obj: SceneObject, edit: _Edit, result: Any, original_png: bytes, original_pixels: str
    ) -> tuple[dict | None, tuple[str, str] | None]:
        backend = self.backend(edit.backend_index)
        if isinstance(result, Exception):
            return None, ("inpaint", f"backend {backend.name} raised {type(result).__name__}: {result}")
        problem = _result_problem(result, scene.image.size)
        if problem:
            return None, ("inpaint", f"backend {backend.name}: {problem}")
        plan, mask = edit.plan, edit.mask
        width, height = scene.image.size
        edited = result.image.convert("RGB")
        row = {
            "sample_id": "",  # derived from the whole row below
            "label": INPAINTED,
            # Encoded now: a chunk's rows stay in memory until its shard is written (~4x smaller than pixels).
            "image": encode_png(edited),
            "mask": encode_png(edit.mask_image),
            "original": original_png,
            "source": scene.source,
            "source_image_id": scene.image_id,
            "object_id": obj.object_id,
            "category": obj.category,
            "action": plan.action,
            "replacement": plan.replacement,
            "replacement_score": float(plan.replacement_score),
            "prompt": plan.prompt,
            "backend": backend.name,
            "backend_params": _json(backend.describe()),
            "strategy": result.strategy,
            "seed": edit.request.seed,
            "mask_variant": edit.variant,
            "mask_dilation_pct": float(edit.dilation),
            "mask_area_fraction": float(mask.mean()),
            "width": width,
            "height": height,
            "extra": _json(
                {
                    "mask": edit.mask_record,
                    "negative_prompt": plan.negative_prompt,
                    "planner": edit.planner_name,
                    "plan": plan.extra,
                    "backend": result.extra,
                    "normalisation": scene.extra.get("normalisation", {}),
                }
            ),
        }
        pixels = {"image": pixels_sha256(edited), "mask": pixels_sha256(edit.mask_image), "original": original_pixels}
        row["sample_id"] = make_sample_id(row, pixels)
        return row, None

    def _pristine(self, scene: Scene, original_png: bytes, original_pixels: str) -> dict[str, Any]:
        key = SampleKey(scene.source, scene.image_id, "", "pristine")
        width, height = scene.image.size
        empty_mask = Image.new("L", scene.image.size, 0)
        row = {
            "sample_id": "",  # derived from the whole row below
            "label": PRISTINE,
            "image": original_png,
            "mask": encode_png(empty_mask),
            "original": original_png,
            "source": scene.source,
            "source_image_id": scene.image_id,
            "object_id": "",
            "category": "",
            "action": "none",
            "replacement": "",
            "replacement_score": math.nan,
            "prompt": "",
            "backend": "none",
            "backend_params": "{}",
            "strategy": "none",
            "seed": sample_seed(self.config, key),
            "mask_variant": "",
            "mask_dilation_pct": 0.0,
            "mask_area_fraction": 0.0,
            "width": width,
            "height": height,
            "extra": _json({"normalisation": scene.extra.get("normalisation", {})}),
        }
        pixels = {"image": original_pixels, "mask": pixels_sha256(empty_mask), "original": original_pixels}
        row["sample_id"] = make_sample_id(row, pixels)
        return row


def _result_problem(result: Any, size: tuple[int, int]) -> str:
    image = getattr(result, "image", None)
    if not isinstance(image, Image.Image):
        return f"returned {type(image).__name__} instead of a PIL image"
    if image.size != size:
        return f"returned a {image.size[0]}x{image.size[1]} image for a {size[0]}x{size[1]} input"
    if result.strategy not in STRATEGIES or result.strategy == "none":
        return f"reported strategy {result.strategy!r}; expected one of {', '.join(STRATEGIES[1:])}"
    return ""


def _natural_key(object_id: str) -> tuple:
    return (0, int(object_id), "") if object_id.isdigit() else (1, 0, object_id)
