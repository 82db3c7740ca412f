"""One image's samples: load the scene, select objects, make masks, plan, inpaint; plus its pristine negative.

A ``SampleMaker`` lives for a whole process. It makes a shard's samples in three passes (``shard_samples``): every
photo of the shard is loaded and its edits planned (masks, plans, requests); then the edits run backend by backend,
so each model is brought onto the accelerator at most once per shard and ``builder.residency`` keeps at most
``max_resident_models`` there; then the rows are assembled in photo order. Which backend ran first never changes a
row: each photo's edits for one backend are one batched call, as they would be photo by photo. The passes are
also callable one by one (``prepare_shard``, ``run_shard``, ``finish_shard``): ``builder.generate`` runs one
shard's backend calls while a worker thread prepares the next shard and finishes the previous one
(``builder.shard_pipeline``); only ``run_shard`` touches the models.
Nothing here raises for bad data: an unusable photo, an ineligible
object, a failed mask or a backend raising on one sample each becomes a *skip* record
``{stage, source, image_id, object_id, path, reason}`` that ends up in the manifest, and the run goes on.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from inpaintbench.ids import make_edit_id, make_sample_id, pixels_sha256
from inpaintbench.schema import CHANGED_PIXEL_THRESHOLD, INPAINTED, PRISTINE, STRATEGIES

from .backends import InpaintBackend, InpaintRequest, create_backend
from .backends.registry import BACKENDS
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
from .masks import mask_to_pil, process_mask
from .planning import create_planner
from .recipes import pristine_recipe, sample_recipe
from .release.photos import PhotoFingerprint, fingerprint
from .residency import ResidentModels
from .scene import Scene, SceneObject, SkippedInput
from .selection import SelectionConfig, rejection_reason, select_objects
from .shards import encode_png


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


@dataclass
class _Photo:
    """One photo of a shard between planning and row assembly."""

    source: str
    image_id: str
    skipped: list[dict[str, Any]]
    scene: Scene | None = None  # None: the photo could not be loaded (its skip record says why)
    path: str = ""
    prepared: list[tuple[SceneObject, _Edit | None, tuple[str, str] | None]] = field(default_factory=list)
    original_png: bytes = b""
    photo_print: PhotoFingerprint | None = None
    pristine: bool = False


@dataclass
class ShardSamples:
    rows: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    photos: list[list[str]]  # fingerprint records of the photos that gave rows (builder.release.photos)


@dataclass
class _Outcome:
    """A backend's answer for one edit, with the backend's description taken while it was alive: by the time the
    rows are assembled, ``builder.residency`` may have unloaded it."""

    result: Any  # InpaintResult, or the exception the backend raised
    backend_name: str
    backend_params: str
    backend_recipe: dict[str, Any]
    call: int  # which model call of the shard made it (its edits form the recipe's ``call``)


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
        self._loaded_once = False
        self.models = ResidentModels(self._build_backend, self._holds_model, config.max_resident_models,
                                     config.offload)
        # Time spent inside backend.inpaint, by backend name: what benchmarks/generate.py compares against.
        self.backend_seconds: dict[str, float] = defaultdict(float)
        self.backend_calls: dict[str, int] = defaultdict(int)

    def _build_backend(self, index: int) -> InpaintBackend:
        spec = self.config.backends[index]
        try:
            return create_backend(spec.name, **spec.params)
        except Exception as error:  # noqa: BLE001 - re-raised with the backend named
            raise BackendLoadError(
                f"backend #{index} {spec.name!r} ({_json(spec.params)}) could not be built: "
                f"{type(error).__name__}: {error}"
            ) from error

    def _backend_class(self, index: int) -> type:
        try:
            return BACKENDS.get_class(self.config.backends[index].name)
        except ValueError as error:
            raise BackendLoadError(f"backend #{index}: {error}") from None

    def _holds_model(self, index: int) -> bool:
        return bool(getattr(self._backend_class(index), "holds_model", False))

    def backend(self, index: int) -> InpaintBackend:
        """Backend ``index`` of the mix, ready on its device (built, or brought back, by ``self.models``)."""
        return self.models.get(index)

    def load_backends(self) -> None:
        """Build every backend of the mix once, before the first shard: a missing model must stop the run at its
        start, not turn each sample that draws it into a skip hours later. Built last to first, so that the first
        backend a shard runs is the one left resident. Later calls do nothing."""
        if self._loaded_once:
            return
        for index in reversed(range(len(self.config.backends))):
            self.backend(index)
        self._loaded_once = True

    # ---- one shard -----------------------------------------------------------------------------------------

    def shard_samples(self, items: list[tuple[str, str]], on_edits=None) -> ShardSamples:
        """The rows and skip records of a shard's photos ``[(source, image_id), ...]``, in photo order.
        ``on_edits(backend_name, edits_done, edits_in_shard)`` is called after each batched call (progress)."""
        photos = self.prepare_shard(items)
        return self.finish_shard(photos, self.run_shard(photos, on_edits))

    def prepare_shard(self, items: list[tuple[str, str]]) -> list[_Photo]:
        """Pass 1: every photo loaded and its edits planned (masks, plans, requests). No backend, no model."""
        return [self._plan_photo(source_name, image_id) for source_name, image_id in items]

    def run_shard(self, photos: list[_Photo], on_edits=None) -> dict[int, _Outcome]:
        """Pass 2: every edit of the prepared photos through its backend, backend by backend."""
        return self._run_backends(photos, on_edits)

    def finish_shard(self, photos: list[_Photo], outcomes: dict[int, _Outcome]) -> ShardSamples:
        """Pass 3: the rows (PNGs encoded), skip records and photo fingerprints, in photo order."""
        rows: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        prints: list[list[str]] = []
        for photo in photos:
            photo_rows, photo_skipped = self._photo_rows(photo, outcomes)
            if photo_rows and photo.photo_print is not None:
                prints.append(photo.photo_print.record(photo.source, photo.image_id))
            rows += photo_rows
            skipped += photo_skipped
        return ShardSamples(rows, skipped, prints)

    def samples_for(self, source_name: str, image_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(rows, skip records) of one photo: a shard of one."""
        made = self.shard_samples([(source_name, image_id)])
        return made.rows, made.skipped

    # ---- one image -----------------------------------------------------------------------------------------

    def _plan_photo(self, source_name: str, image_id: str) -> _Photo:
        """Load one photo, select its objects and prepare its edits (masks, plans, requests): no pixel inpainted."""
        loaded = self.sources[source_name].load(image_id)
        if isinstance(loaded, SkippedInput):
            return _Photo(source_name, image_id, [skip_record("load", source_name, image_id, loaded.reason,
                                                              path=loaded.path)])
        scene: Scene = loaded
        path = str(scene.extra.get("file_name", ""))
        skipped = [
            skip_record("object", source_name, image_id, str(s.get("reason", "")), str(s.get("object_id", "")), path)
            for s in scene.extra.get("skipped_objects", [])
        ]
        selection = select_objects(
            scene.objects, rng_for(self.config.seed, "objects", source_name, image_id), self.selection
        )
        # Eligible objects left undrawn (objects_per_image reached) are not bad input: not counted as skips.
        by_id = {obj.object_id: obj for obj in scene.objects}
        skipped += [
            skip_record("select", source_name, image_id, reason, object_id, path)
            for object_id, reason in selection.rejected
            if object_id not in by_id or rejection_reason(by_id[object_id], self.selection)
        ]
        photo = _Photo(source_name, image_id, skipped, scene, path)
        # Every sample of this photo stores it as "original": encoded to PNG once, not once per sample.
        photo.original_png = encode_png(scene.image)
        # The photo's fingerprint, once: its pixel digest is part of every sample id of this photo (inpaintbench.ids),
        # and the shard record keeps it whole for the manifest's duplicate count (builder.release.photos).
        photo.photo_print = fingerprint(scene.image)
        # Objects in id order (not draw order): the shard's row order then reads naturally.
        chosen = sorted(selection.chosen, key=lambda o: _natural_key(o.object_id))
        for obj in chosen:
            for edit in range(self.config.edits_per_object):
                key = SampleKey(source_name, image_id, obj.object_id, f"edit{edit}")
                photo.prepared.append((obj, *self._prepare(scene, obj, key)))
        planned_edits = len(chosen) * self.config.edits_per_object
        photo.pristine = wants_pristine(self.config, source_name, image_id, planned_edits)
        return photo

    def _photo_rows(self, photo: _Photo, outcomes: dict[int, _Outcome]) -> tuple[list[dict], list[dict]]:
        if photo.scene is None:
            return [], photo.skipped
        rows: list[dict[str, Any]] = []
        skipped = list(photo.skipped)
        calls: dict[int, list[tuple[_Edit, list[dict]]]] = {}  # model call -> its edits' rows, in call order
        for obj, edit, problem in photo.prepared:
            if problem is None:
                edit_rows, problem = self._rows(photo.scene, obj, edit, outcomes[id(edit)], photo.original_png,
                                                photo.photo_print.pixels)
            if problem is not None:
                skipped.append(skip_record(problem[0], photo.source, photo.image_id, problem[1], obj.object_id,
                                           photo.path))
            else:
                rows += edit_rows
                calls.setdefault(outcomes[id(edit)].call, []).append((edit, edit_rows))
        for members in calls.values():
            # A call is named by its requests' first samples (the paste-back one of a "both" edit), in call order.
            member_ids = [edit_rows[0]["sample_id"] for _, edit_rows in members]
            for position, (_, edit_rows) in enumerate(members):
                for row in edit_rows:
                    recipe = json.loads(row["recipe"])
                    recipe["call"] = {"members": member_ids, "position": position}
                    row["recipe"] = _json(recipe)
        if photo.pristine:
            rows.append(self._pristine(photo.scene, photo.original_png, photo.photo_print.pixels))
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
        # The class says whether the prompt steers the fill: planning needs no model on the card.
        follows_prompt = getattr(self._backend_class(backend_index), "follows_prompt", True)
        planner = self.planner if follows_prompt else self.removal_planner
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

    def _run_backends(self, photos: list[_Photo], on_edits=None) -> dict[int, _Outcome]:
        """Every edit of the shard, backend by backend (each backend fetched once from ``self.models``); within a
        backend, each photo's edits are one ``inpaint_batch`` call. ``{id(edit): _Outcome}``.

        If a batch raises, its edits are retried one by one, so one bad sample costs only itself."""
        outcomes: dict[int, _Outcome] = {}
        work: dict[int, list[list[_Edit]]] = {}  # backend index -> one list of edits per photo, in photo order
        for photo in photos:
            by_backend: dict[int, list[_Edit]] = {}
            for _, edit, _ in photo.prepared:
                if edit is not None:
                    by_backend.setdefault(edit.backend_index, []).append(edit)
            for index, group in by_backend.items():
                work.setdefault(index, []).append(group)
        total, done, calls = sum(len(group) for groups in work.values() for group in groups), 0, 0
        for index in sorted(work):
            backend = self.backend(index)
            name, params, recipe = backend.name, _json(backend.describe()), backend.recipe()
            for group in work[index]:
                started = time.perf_counter()
                results, batched = self._inpaint_group(backend, group)
                self.backend_seconds[name] += time.perf_counter() - started
                # Calls that produced an image, as before batching: benchmarks/generate.py divides by this.
                self.backend_calls[name] += sum(not isinstance(result, Exception) for result in results)
                for edit, result in zip(group, results, strict=False):
                    outcomes[id(edit)] = _Outcome(result, name, params, recipe, calls)
                    calls += not batched  # retried one by one: each edit was a call of its own
                calls += batched
                done += len(group)
                if on_edits is not None:
                    on_edits(name, done, total)
        return outcomes

    @staticmethod
    def _inpaint_group(backend: InpaintBackend, group: list[_Edit]) -> tuple[list[Any], bool]:
        """(results, whether they came from one ``inpaint_batch`` call)."""
        try:
            results = backend.inpaint_batch([edit.request for edit in group])
            if len(results) != len(group):
                raise RuntimeError(f"inpaint_batch returned {len(results)} results for {len(group)} requests")
            return list(results), True
        except Exception:  # noqa: BLE001 - find out which sample fails, keep the others
            results = []
            for edit in group:
                try:
                    results.append(backend.inpaint(edit.request))
                except Exception as error:  # noqa: BLE001 - one sample's failure must not end the run
                    results.append(error)
            return results, False

    def _rows(
        self, scene: Scene, obj: SceneObject, edit: _Edit, outcome: _Outcome, original_png: bytes,
        original_pixels: str,
    ) -> tuple[list[dict] | None, tuple[str, str] | None]:
        """The edit's row, or two when its call gave both strategies (``InpaintResult.also``)."""
        result = outcome.result
        if isinstance(result, Exception):
            return None, ("inpaint", f"backend {outcome.backend_name} raised {type(result).__name__}: {result}")
        results = [result] + ([result.also] if getattr(result, "also", None) is not None else [])
        for each in results:
            problem = _result_problem(each, scene.image.size)
            if problem:
                return None, ("inpaint", f"backend {outcome.backend_name}: {problem}")
        edit_id = make_edit_id(scene.source, scene.image_id, obj.object_id, edit.key.parts[-1], edit.request.seed,
                               outcome.backend_params)
        return [self._row(scene, obj, edit, outcome, each, edit_id, original_png, original_pixels)
                for each in results], None

    def _row(self, scene: Scene, obj: SceneObject, edit: _Edit, outcome: _Outcome, result: Any, edit_id: str,
             original_png: bytes, original_pixels: str) -> dict[str, Any]:
        plan, mask = edit.plan, edit.mask
        width, height = scene.image.size
        edited = result.image.convert("RGB")
        changed, changed_record = changed_pixels(scene.image, edited, mask)
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
            "backend": outcome.backend_name,
            "backend_params": outcome.backend_params,
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
                    "changed_mask": changed_record,
                    "normalisation": scene.extra.get("normalisation", {}),
                }
            ),
            "edit_id": edit_id,
            "changed_mask": encode_png(changed),
            # The call's members are filled in by _photo_rows once every sample of the call has its id.
            "recipe": _json(sample_recipe(outcome.backend_recipe, seed=edit.request.seed, key=list(edit.key.parts),
                                          run_seed=self.config.seed, strategy=result.strategy, call={})),
        }
        pixels = {"image": pixels_sha256(edited), "mask": pixels_sha256(edit.mask_image), "original": original_pixels}
        row["sample_id"] = make_sample_id(row, pixels)
        return row

    def _pristine(self, scene: Scene, original_png: bytes, original_pixels: str) -> dict[str, Any]:
        key = SampleKey(scene.source, scene.image_id, "", "pristine")
        width, height = scene.image.size
        empty_mask = Image.new("L", scene.image.size, 0)
        empty_png = encode_png(empty_mask)
        row = {
            "sample_id": "",  # derived from the whole row below
            "label": PRISTINE,
            "image": original_png,
            "mask": empty_png,
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
            "edit_id": "",
            "changed_mask": empty_png,  # nothing changed
            "recipe": _json(pristine_recipe(list(key.parts), self.config.seed)),
        }
        pixels = {"image": original_pixels, "mask": pixels_sha256(empty_mask), "original": original_pixels}
        row["sample_id"] = make_sample_id(row, pixels)
        return row


def changed_pixels(original: Image.Image, edited: Image.Image, mask: Any) -> tuple[Image.Image, dict[str, Any]]:
    """Where ``edited`` differs from ``original`` by more than ``CHANGED_PIXEL_THRESHOLD`` in some channel (mode
    "L", 255 = changed), and its record: the threshold, the changed share of the image, and the share of changed
    pixels that lie outside the intended ``mask`` (bool array): near 0 for paste-back, large for a regeneration."""
    difference = np.abs(np.asarray(edited, dtype=np.int16) - np.asarray(original.convert("RGB"), dtype=np.int16))
    # The channel maximum as two elementwise maxima: the same values, 8x faster than max(axis=2) over 3 channels.
    largest = np.maximum(np.maximum(difference[..., 0], difference[..., 1]), difference[..., 2])
    changed = largest > CHANGED_PIXEL_THRESHOLD
    count = int(changed.sum())
    record = {
        "threshold": CHANGED_PIXEL_THRESHOLD,
        "changed_fraction": round(count / changed.size, 6),
        "outside_mask_fraction": round(int((changed & ~mask).sum()) / count, 6) if count else 0.0,
    }
    return mask_to_pil(changed), record


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
