"""Make one sample again from its row and recipe, and say whether the pixels came out the same.

The row holds everything the backend was given: the original photo, the mask, the prompt (and the negative prompt
in ``extra``), the seed, the backend and its parameters. The recipe (``builder.recipes``) adds the call the sample
was made in: a batched model call's numbers depend on its whole batch, so every member of the call is rebuilt
and the call replayed, in its order. On the machine kind that made it (same library versions, CPU) the result is
bit-identical; elsewhere (another GPU, other kernels) the report gives the pixel difference.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds
from PIL import Image

from inpaintbench.atomic_io import atomic_write_bytes, atomic_write_json
from inpaintbench.ids import pixels_sha256

from .backends import InpaintRequest
from .backends.registry import BACKENDS
from .recipes import MODEL_PARAMS, describe_model, library_versions
from .shards import encode_png

READ_COLUMNS = ("sample_id", "label", "image", "mask", "original", "prompt", "backend", "backend_params",
                "strategy", "seed", "extra", "recipe")


class RegenerateError(ValueError):
    """The sample cannot be regenerated (unknown id, a run folder without shards, a row without a recipe)."""


@dataclass
class Regeneration:
    sample_id: str
    identical: bool
    stored_pixels_sha256: str
    regenerated_pixels_sha256: str
    max_abs_difference: int
    differing_pixel_fraction: float
    psnr_db: float | None  # None when identical (infinite)
    call_members: list[str]
    environment_differences: list[str] = field(default_factory=list)  # recorded vs here: libraries, revisions
    device: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decode(value: Any) -> Image.Image:
    data = value["bytes"] if isinstance(value, dict) else value
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.copy()


def read_rows(run_dir: str | Path, sample_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows of ``sample_ids`` from a build folder's shards (``<run>/data/*.parquet``)."""
    data = Path(run_dir) / "data"
    files = sorted(data.glob("*.parquet"))
    if not files:
        raise RegenerateError(f"{data}: no Parquet shards (is {run_dir} a build folder of `inpaintbench generate`?)")
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    missing_columns = [c for c in READ_COLUMNS if c not in dataset.schema.names]
    if missing_columns:
        raise RegenerateError(f"{data}: shards lack column(s) {', '.join(missing_columns)} (built before recipes "
                              "were recorded: such samples cannot be regenerated)")
    table = dataset.to_table(columns=list(READ_COLUMNS), filter=pc.field("sample_id").isin(sample_ids))
    return {row["sample_id"]: row for row in table.to_pylist()}


def _request(row: dict[str, Any]) -> InpaintRequest:
    extra = json.loads(row["extra"] or "{}")
    return InpaintRequest(image=_decode(row["original"]).convert("RGB"), mask=_decode(row["mask"]).convert("L"),
                          prompt=row["prompt"], negative_prompt=extra.get("negative_prompt", ""), seed=int(row["seed"]))


def build_backend(row: dict[str, Any], device: str | None = None):
    params = json.loads(row["backend_params"])
    name = params.pop("backend")
    cls = BACKENDS.get_class(name)
    for recorded in getattr(cls, "recorded_params", ()):
        params.pop(recorded, None)
    if device is not None and "device" in params:
        params["device"] = device
    return cls(**params)


def _environment_differences(recipe: dict[str, Any], backend, backend_params: str) -> list[str]:
    differences = []
    rebuilt = {k: v for k, v in backend.describe().items() if k not in getattr(backend, "recorded_params", ())}
    recorded = {k: v for k, v in json.loads(backend_params).items() if k not in getattr(backend, "recorded_params", ())}
    if rebuilt != recorded:
        changed = sorted(k for k in set(rebuilt) | set(recorded) if rebuilt.get(k) != recorded.get(k))
        differences.append(f"backend params as rebuilt differ in {', '.join(changed)} (another inpaintbench version?)")
    here = library_versions()
    for library, version in (recipe.get("libraries") or {}).items():
        if here.get(library) != version:
            differences.append(f"{library}: made with {version}, here {here.get(library)}")
    for key, recorded in (recipe.get("models") or {}).items():
        now = describe_model(str(backend.params[key])) if key in MODEL_PARAMS and backend.params.get(key) else None
        if now != recorded:
            differences.append(f"{key}: made with {recorded}, here {now}")
    made_on = recipe.get("device")
    here_on = backend.recipe().get("device")
    if made_on and made_on != here_on:
        differences.append(f"device: made on {made_on}, here {here_on}")
    return differences


def compare(stored: Image.Image, regenerated: Image.Image) -> dict[str, Any]:
    a = np.asarray(stored.convert("RGB"), dtype=np.int16)
    b = np.asarray(regenerated.convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        raise RegenerateError(
            f"regenerated image is {b.shape[1]}x{b.shape[0]}, the stored one {a.shape[1]}x{a.shape[0]}"
        )
    difference = np.abs(a - b)
    mse = float((difference.astype(np.float64) ** 2).mean())
    return {
        "max_abs_difference": int(difference.max()),
        "differing_pixel_fraction": float((difference.max(axis=2) > 0).mean()),
        "psnr_db": None if mse == 0 else round(10 * math.log10(255.0**2 / mse), 3),
    }


def regenerate(sample_id: str, run_dir: str | Path, out_dir: str | Path, device: str | None = None) -> Regeneration:
    """Rebuild ``sample_id`` of the build in ``run_dir``; write ``<out>/<id>.png`` and ``<out>/<id>.json``."""
    row = read_rows(run_dir, [sample_id]).get(sample_id)
    if row is None:
        raise RegenerateError(f"{Path(run_dir) / 'data'}: no sample {sample_id!r} in the shards")
    recipe = json.loads(row["recipe"] or "{}")
    if "format" not in recipe:
        raise RegenerateError(f"{sample_id}: the row has no recipe")
    stored = _decode(row["image"])
    if int(row["label"]) == 0:
        # A pristine sample is the normalised photo itself: nothing was generated, its image is its original.
        regenerated, members, backend, differences = _decode(row["original"]), [sample_id], None, []
    else:
        members = list(recipe["call"]["members"])
        rows = read_rows(run_dir, members)
        lost = [m for m in members if m not in rows]
        if lost:
            raise RegenerateError(f"{sample_id}: call member(s) {', '.join(lost)} are not in {run_dir}")
        backend = build_backend(row, device)
        results = backend.inpaint_batch([_request(rows[m]) for m in members])
        result = results[int(recipe["call"]["position"])]
        # A "both" call gives the paste-back result and, as ``also``, the full regeneration.
        candidates = [result] + ([result.also] if getattr(result, "also", None) is not None else [])
        matching = [r for r in candidates if r.strategy == row["strategy"]]
        if not matching:
            raise RegenerateError(f"{sample_id}: the backend returned strategy {candidates[0].strategy!r}, "
                                  f"the row says {row['strategy']!r}")
        regenerated = matching[0].image.convert("RGB")
        differences = _environment_differences(recipe, backend, row["backend_params"])
    stored_sha, new_sha = pixels_sha256(stored.convert("RGB")), pixels_sha256(regenerated)
    report = Regeneration(
        sample_id=sample_id, identical=stored_sha == new_sha, stored_pixels_sha256=stored_sha,
        regenerated_pixels_sha256=new_sha, call_members=members, environment_differences=differences,
        device=backend.recipe().get("device", "") if backend is not None else "", **compare(stored, regenerated),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / f"{sample_id}.png", encode_png(regenerated))
    atomic_write_json(out / f"{sample_id}.json", report.to_dict())
    return report
