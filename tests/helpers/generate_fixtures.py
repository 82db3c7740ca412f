"""A small COCO-format photo set written on the fly, shared by the generator's tests, and what they build on it.

Real files read by the real COCO source: synthetic 96 px photos (a textured gradient with filled shapes), each
shape annotated as a COCO polygon, plus the bad inputs a real folder has: a truncated PNG, a file the JSON
names but the folder lacks, a crowd region and a tiny object (tests/test_helpers.py checks the set reads through
the real source). Also a generator config on such a set, and readers of a run's files: its bytes, its shards as
a ``datasets.Dataset`` or as rows of undecoded values.
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CATEGORIES = [{"id": 1, "name": "cup"}, {"id": 2, "name": "book"}, {"id": 3, "name": "ball"}]
SIZE = 96
PYTHON = sys.executable
# Objects of the synthetic photos are ~15-35 px across: the default 32x32-pixel floor would reject most.
SMALL_PHOTO_CONFIG = {"min_object_pixels": 50, "max_image_side": SIZE}


def _polygon(kind: str, cx: float, cy: float, r: float) -> list[float]:
    if kind == "box":
        points = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:  # a 16-gon for an ellipse-like ball
        points = [
            (cx + r * math.cos(a), cy + 0.8 * r * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)
        ]
    return [round(float(v), 2) for point in points for v in point]


def write_coco_set(root: Path, num_images: int = 8, bad_inputs: bool = True) -> tuple[Path, Path]:
    """Writes ``root/images/*.png`` and ``root/annotations.json``; returns (images dir, annotations file)."""
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    coco = {"images": [], "annotations": [], "categories": CATEGORIES}
    ann_id = 1
    for index in range(num_images):
        rng = np.random.default_rng(index)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        pixels = np.stack([xx * 2 + 20 * index, yy * 2, 255 - xx - yy // 2], axis=-1) % 256
        pixels = np.clip(pixels + rng.integers(-12, 13, pixels.shape), 0, 255).astype(np.uint8)
        photo = Image.fromarray(pixels)
        draw = ImageDraw.Draw(photo)
        for k in range(3):
            kind = "box" if (index + k) % 2 else "ball"
            cx, cy = 20 + 28 * k, 30 + 35 * ((index + k) % 2)
            r = 8 + (index * 3 + k * 5) % 7
            polygon = _polygon(kind, cx, cy, r)
            draw.polygon(
                list(zip(polygon[0::2], polygon[1::2], strict=False)),
                fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
            )
            xs, ys = polygon[0::2], polygon[1::2]
            coco["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": index + 1,
                    "category_id": 1 + (index + k) % 3,
                    "segmentation": [polygon],
                    "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                    "area": (max(xs) - min(xs)) * (max(ys) - min(ys)),
                    "iscrowd": 1 if (bad_inputs and index == 1 and k == 2) else 0,
                }
            )
            ann_id += 1
        file_name = f"photo_{index:02d}.png"
        photo.save(images_dir / file_name)
        coco["images"].append({"id": index + 1, "file_name": file_name, "width": SIZE, "height": SIZE})
    if bad_inputs:
        # A tiny object (2x2 px) on the first photo: rejected by selection with a reason.
        coco["annotations"].append(
            {"id": ann_id, "image_id": 1, "category_id": 3, "segmentation": [[5, 5, 7, 5, 7, 7, 5, 7]],
             "bbox": [5, 5, 2, 2], "area": 4, "iscrowd": 0}
        )
        # A truncated PNG (a download cut short) and a file the JSON names but the folder lacks.
        whole = (images_dir / "photo_00.png").read_bytes()
        (images_dir / "truncated.png").write_bytes(whole[: len(whole) // 2])
        for offset, name in ((1, "truncated.png"), (2, "missing.png")):
            image_id = num_images + offset
            coco["images"].append({"id": image_id, "file_name": name, "width": SIZE, "height": SIZE})
            coco["annotations"].append(
                {"id": 1000 + image_id, "image_id": image_id, "category_id": 1,
                 "segmentation": [_polygon("box", 48, 48, 12)], "bbox": [36, 36, 24, 24], "area": 576, "iscrowd": 0}
            )
    annotations = root / "annotations.json"
    annotations.write_text(json.dumps(coco), encoding="utf-8")
    return images_dir, annotations


def files_of(out: Path) -> dict[str, bytes]:
    """Every byte a build's result consists of (its shards and manifest): what byte-identity tests compare."""
    return {p.name: p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))} | {
        "manifest.json": (out / "manifest.json").read_bytes()
    }


def coco_source_spec(images_dir: Path, annotations: Path, name: str = "synth") -> dict:
    return {"type": "coco", "name": name, "images": str(images_dir), "annotations": str(annotations)}



def make_config(coco_set: tuple[Path, Path], out_dir, **changes):
    """A ``GenerateConfig`` on ``coco_set`` (images dir, annotations file) with the small-photo settings, 9 samples
    per shard (3 images: 10 images give 4 shards), and ``changes`` on top."""
    from inpaintbench.builder.config import GenerateConfig

    images_dir, annotations = coco_set
    data = {
        "sources": [coco_source_spec(images_dir, annotations)],
        "out_dir": str(out_dir),
        "samples_per_shard": 9,
        **SMALL_PHOTO_CONFIG,
        **changes,
    }
    return GenerateConfig.from_dict(data)


def load_shards(out_dir: Path, cache: Path):
    """A run's shards as one ``datasets.Dataset`` (split "train"), cached under ``cache``."""
    import datasets

    files = sorted(str(p) for p in (Path(out_dir) / "data").glob("*.parquet"))
    return datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(cache))


def rows_of(out: Path) -> list[dict]:
    """Every row of a run's shards, in shard order, images left as their stored ``{"bytes", "path"}``."""
    import pyarrow.parquet as pq

    return [row for path in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def decoded(value) -> np.ndarray:
    """The pixels of a stored image value (``{"bytes": PNG, ...}``) as an array."""
    return np.asarray(Image.open(io.BytesIO(value["bytes"])))
