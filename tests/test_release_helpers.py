"""Fixtures for the release/hub tests: a small generator output dir of the generator's real format.

The shards are written exactly as the generator writes them (``Dataset.from_dict(..., features=FEATURES)
.to_parquet``) with ids from ``builder.ids``; the manifest has the generator's keys. Images are 16 px so the
whole release round trip stays fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BACKENDS = ("patchmatch", "opencv_ns")  # opencv_ns is held out by configs/splits.yaml
CATEGORIES = ("dog", "cup", "car", "chair")


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def make_rows(photo_indices, source: str = "embedded", size: int = 16) -> list[dict]:
    from inpaintbench.builder.ids import derive_seed, make_sample_id

    rows = []
    for p in photo_indices:
        rng = np.random.default_rng(p)
        original = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[4:10, 3 + p % 4 : 9 + p % 4] = 255
        image_id = f"photo{p:03d}"
        category = CATEGORIES[p % len(CATEGORIES)]
        common = dict(source=source, source_image_id=image_id, width=size, height=size, extra="{}")
        rows.append(
            dict(
                common,
                sample_id=make_sample_id(source, image_id, "", "pristine"),
                label=0, image=_png(original), mask=_png(np.zeros_like(mask)), original=_png(original),
                object_id="", category="", action="none", replacement="", replacement_score=math.nan,
                prompt="", backend="none", backend_params="{}", strategy="none", seed=0,
                mask_variant="object", mask_dilation_pct=0.0, mask_area_fraction=0.0,
            )
        )
        for backend in BACKENDS:
            edited = original.copy()
            edited[mask > 0] = rng.integers(0, 255, 3, dtype=np.uint8)
            slot = f"{backend}/object"
            rows.append(
                dict(
                    common,
                    sample_id=make_sample_id(source, image_id, "7", slot),
                    label=1, image=_png(edited), mask=_png(mask), original=_png(original),
                    object_id="7", category=category, action="remove", replacement="", replacement_score=math.nan,
                    prompt="background", backend=backend, backend_params=json.dumps({"radius": 3}),
                    strategy="paste_back" if backend == "patchmatch" else "full_regeneration",
                    seed=derive_seed(0, source, image_id, "7", slot), mask_variant="object",
                    mask_dilation_pct=0.0, mask_area_fraction=float((mask > 0).mean()),
                )
            )
    return rows


def write_generator_output(out: Path, rows: list[dict], rows_per_shard: int = 10) -> Path:
    import datasets

    from inpaintbench.builder.schema import COLUMNS, FEATURES, LABEL_NAMES

    shards_dir = out / "shards"
    shards_dir.mkdir(parents=True, exist_ok=True)
    shards = []
    for index, start in enumerate(range(0, len(rows), rows_per_shard)):
        chunk = rows[start : start + rows_per_shard]
        path = shards_dir / f"shard-{index:05d}.parquet"
        datasets.Dataset.from_dict({c: [r[c] for r in chunk] for c in COLUMNS}, features=FEATURES).to_parquet(str(path))
        data = path.read_bytes()
        shards.append({"path": f"shards/{path.name}", "num_samples": len(chunk), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    counts = {"total": len(rows)}
    for key in ("label", "backend", "source", "category", "strategy", "action", "mask_variant"):
        counts[f"by_{key}"] = dict(Counter(LABEL_NAMES[r[key]] if key == "label" else r[key] for r in rows))
    manifest = {
        "format": "inpaintbench-generator-output", "format_version": 1, "inpaintbench_version": "0.1.0",
        "config": {"sources": ["embedded"]}, "config_hash": "cafe0123", "seed": 0, "counts": counts,
        "skipped": [{"source": "embedded", "image_id": "broken", "path": "x.png", "reason": "no objects"}],
        "skipped_by_reason": {"no objects": 1}, "shards": shards,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


@pytest.fixture
def generator_output_v1(tmp_path) -> Path:
    return write_generator_output(tmp_path / "gen-v1", make_rows(range(12)))


def test_fixture_output_is_readable_by_the_release_loader(generator_output_v1):
    from inpaintbench.builder.release.inputs import load_generator_output

    generated = load_generator_output(generator_output_v1)
    assert generated.total_samples == 36
