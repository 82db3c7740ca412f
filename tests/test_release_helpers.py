"""Fixtures for the release/hub tests: a small generator output dir of the generator's real format.

The shards are written exactly as the generator writes them (``Dataset.from_dict(..., features=FEATURES)
.to_parquet``) with ids from ``inpaintbench.ids``; the manifest has the generator's keys. Images are 16 px so the
whole release round trip stays fast.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BACKENDS = ("patchmatch", "opencv_ns")  # opencv_ns is held out by builder/release/default_splits.yaml
CATEGORIES = ("dog", "cup", "car", "chair")


def _png(array: np.ndarray) -> bytes:
    from inpaintbench.builder.shards import encode_png  # the generator's one encoder: write_shard accepts nothing else

    return encode_png(Image.fromarray(array))


def make_rows(photo_indices, source: str = "embedded", size: int = 16, seed: int = 0) -> list[dict]:
    """Photo ``p`` is the same for every ``seed``; its edits (fill colours, seed column) are drawn from ``seed``."""
    from inpaintbench.ids import derive_seed, recompute_sample_id

    rows = []
    for p in photo_indices:
        original = np.random.default_rng(p).integers(0, 255, (size, size, 3), dtype=np.uint8)
        rng = np.random.default_rng([p, seed])
        mask = np.zeros((size, size), np.uint8)
        mask[4:10, 3 + p % 4 : 9 + p % 4] = 255
        image_id = f"photo{p:03d}"
        category = CATEGORIES[p % len(CATEGORIES)]
        common = dict(source=source, source_image_id=image_id, width=size, height=size, extra="{}", recipe="{}")
        rows.append(
            dict(
                common,
                sample_id="",
                label=0, image=_png(original), mask=_png(np.zeros_like(mask)), original=_png(original),
                object_id="", category="", action="none", replacement="", replacement_score=math.nan,
                prompt="", backend="none", backend_params="{}", strategy="none", seed=0,
                mask_variant="", mask_dilation_pct=0.0, mask_area_fraction=0.0, edit_id="",
                changed_mask=_png(np.zeros_like(mask)),
            )
        )
        for backend in BACKENDS:
            edited = original.copy()
            # A noise fill, like the noise photo around it: a flat fill would compress better than the photo and make
            # the files themselves tell the labels apart (the shortcut audit, builder/release/audit.py, refuses that).
            edited[mask > 0] = rng.integers(0, 255, (int((mask > 0).sum()), 3), dtype=np.uint8)
            slot = f"{backend}/object"
            rows.append(
                dict(
                    common,
                    sample_id="",
                    label=1, image=_png(edited), mask=_png(mask), original=_png(original),
                    object_id="7", category=category, action="remove", replacement="", replacement_score=math.nan,
                    prompt="background", backend=backend, backend_params=json.dumps({"radius": 3}),
                    strategy="paste_back" if backend == "patchmatch" else "full_regeneration",
                    seed=derive_seed(seed, source, image_id, "7", slot), mask_variant="object",
                    mask_dilation_pct=0.0, mask_area_fraction=float((mask > 0).mean()),
                    edit_id=f"{image_id}-{backend}", changed_mask=_png(mask),
                )
            )
    for row in rows:  # ids as the generator makes them: from the whole row (inpaintbench.ids)
        row["sample_id"] = recompute_sample_id(row)
    return rows


def write_generator_output(out: Path, rows: list[dict], rows_per_shard: int = 10) -> Path:
    """Shards, records and manifest through the generator's own writers (builder.shards / builder.manifest)."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.manifest import build_manifest, write_manifest
    from inpaintbench.builder.shards import ShardRecord, summarize, write_shard

    config = GenerateConfig(out_dir=str(out), seed=0)
    chunks = [rows[start : start + rows_per_shard] for start in range(0, len(rows), rows_per_shard)]
    records = []
    for index, chunk in enumerate(chunks):
        rel = f"data/shard-{index:05d}.parquet"  # the generator's folder (names are free: the manifest lists them)
        sha256, size = write_shard(chunk, out / rel)
        items = sorted({(r["source"], r["source_image_id"]) for r in chunk})
        skipped = (
            [
                {
                    "stage": "load",
                    "source": "embedded",
                    "image_id": "broken",
                    "object_id": "",
                    "path": "x.png",
                    "reason": "no objects",
                }
            ]
            if index == 0
            else []
        )
        records.append(
            ShardRecord(
                config.config_hash,
                index,
                len(chunks),
                rel,
                [list(i) for i in items],
                sha256,
                size,
                [summarize(r) for r in chunk],
                skipped,
            )
        )
    write_manifest(out, build_manifest(config, records, num_images=len({r["source_image_id"] for r in rows})))
    return out


@pytest.fixture
def generator_output_v1(tmp_path) -> Path:
    return write_generator_output(tmp_path / "gen-v1", make_rows(range(12)))


def test_fixture_output_is_readable_by_the_release_loader(generator_output_v1):
    from inpaintbench.builder.release.inputs import load_generator_output

    generated = load_generator_output(generator_output_v1)
    assert generated.total_samples == 36
