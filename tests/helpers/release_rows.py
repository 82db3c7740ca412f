"""Inputs of the release/hub tests: a small generator output dir of the generator's real format, the split
config the tests cut it with, and a comparison of released rows.

The shards are written exactly as the generator writes them (``Dataset.from_dict(..., features=FEATURES)
.to_parquet``) with ids from ``inpaintbench.ids``; the manifest has the generator's keys. Images are 16 px so the
whole release round trip stays fast (tests/test_helpers.py checks the release loader reads the output).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

BACKENDS = ("patchmatch", "opencv_ns")  # opencv_ns is held out by builder/release/default_splits.yaml
CATEGORIES = ("dog", "cup", "car", "chair")

SPLIT_CONFIG = {
    "salt": "inpaintbench-tests",  # with photos 0..11: train 5, validation 2, test 5 photos
    "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
    "out_of_domain": [{"split": "test_ood_backend", "backends": ["opencv_ns"]}],
    "configs": [
        {"name": "default"},
        {
            "name": "paste_back",
            "description": "pasted-back edits and pristine photos",
            "where": {"strategy": ["paste_back", "none"]},
        },
    ],
    "licenses": {
        "embedded": {
            "id": "other",
            "note": "photos bundled in Python wheels",
            "name": "embedded-photos",
            "link": "https://example.org/terms",
        }
    },
}


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
    from inpaintbench.builder.shards import ShardRecord, sample_summary, write_shard

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
                [sample_summary(r) for r in chunk],
                skipped,
            )
        )
    write_manifest(out, build_manifest(config, records, num_images=len({r["source_image_id"] for r in rows})))
    return out



def write_split_config(path: Path, **changes) -> Path:
    """``SPLIT_CONFIG`` (with ``changes`` on top) as the YAML file a release reads; returns ``path``."""
    path.write_text(yaml.safe_dump({**SPLIT_CONFIG, **changes}, sort_keys=False))
    return path


def rows_without_decoding(ds) -> list[dict]:
    """A released ``datasets.Dataset``'s rows with images left as stored bytes and NaN as the string "NaN", so two
    releases compare with ``==`` (NaN != NaN, and replacement_score is NaN for removals)."""
    import datasets

    for column in ("image", "mask", "original"):
        ds = ds.cast_column(column, datasets.Image(decode=False))
    return [
        {k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in ds.to_list()
    ]
