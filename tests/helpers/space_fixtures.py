"""Small real shards for the Space's tests (imported by tests/test_space_*.py).

Samples are real photos shipped in scikit-image, downscaled, with an elliptical mask filled by OpenCV's Telea
inpainting, written through the project's FEATURES exactly as the generator writes them.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import datasets
import numpy as np
from PIL import Image
from skimage import data as skdata

from inpaintbench.schema import FEATURES
from tests.helpers.manifests import write_manifest_for

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
BACKENDS = ("telea", "navier_stokes")
SIZE = (160, 120)  # width, height: small enough that a test reads a shard in milliseconds


def _photo(name: str) -> np.ndarray:
    rgb = getattr(skdata, name)()
    return np.asarray(Image.fromarray(rgb).convert("RGB").resize(SIZE, Image.BILINEAR))


def sample_rows(with_split: bool = False) -> dict[str, list]:
    rows: dict[str, list] = {name: [] for name in FEATURES}
    if with_split:
        rows["split"] = []
    for k, name in enumerate(PHOTOS):
        photo = _photo(name)
        mask = np.zeros(photo.shape[:2], np.uint8)
        w, h = SIZE
        cv2.ellipse(mask, (w * (5 + k) // 16, h // 2), (w // 6, h // 6), 0, 0, 360, 255, -1)
        variants = [("pristine", "none", "none", np.zeros_like(mask), photo)]
        for backend in BACKENDS:
            flag = cv2.INPAINT_TELEA if backend == "telea" else cv2.INPAINT_NS
            filled = cv2.inpaint(photo, mask, 5, flag)
            variants.append(("inpainted", backend, "paste_back", mask, filled))
        for label, backend, strategy, m, image in variants:
            rows["sample_id"].append(f"embedded-{name}-{backend}")
            rows["label"].append(0 if label == "pristine" else 1)
            rows["image"].append(Image.fromarray(image))
            rows["mask"].append(Image.fromarray(m, mode="L"))
            rows["original"].append(Image.fromarray(photo))
            rows["source"].append("embedded")
            rows["source_image_id"].append(name)
            rows["object_id"].append("" if label == "pristine" else "1")
            rows["category"].append("" if label == "pristine" else ("person" if k % 2 == 0 else "cat"))
            rows["action"].append("none" if label == "pristine" else "remove")
            rows["replacement"].append("")
            rows["replacement_score"].append(float("nan"))
            rows["prompt"].append("")
            rows["backend"].append(backend)
            rows["backend_params"].append(json.dumps({"backend": backend, "radius": 5}))
            rows["strategy"].append(strategy)
            rows["seed"].append(1000 + k)
            rows["mask_variant"].append("object")
            rows["mask_dilation_pct"].append(0.0)
            rows["mask_area_fraction"].append(float((m > 0).mean()))
            rows["width"].append(SIZE[0])
            rows["height"].append(SIZE[1])
            rows["extra"].append("{}")
            rows["edit_id"].append("" if label == "pristine" else f"{name}-{backend}")
            rows["changed_mask"].append(Image.fromarray(m, mode="L"))
            rows["recipe"].append("{}")
            if with_split:
                rows["split"].append("test" if k == len(PHOTOS) - 1 else "train")
    return rows


def write_generator_output(root: Path, with_split: bool = False) -> Path:
    """``<root>/data/train-0000k-of-00002.parquet`` + manifest.json, like ``inpaintbench generate`` writes."""
    rows = sample_rows(with_split)
    features = FEATURES.copy()
    if with_split:
        features["split"] = datasets.Value("string")
    table = datasets.Dataset.from_dict(rows, features=features)
    (root / "data").mkdir(parents=True, exist_ok=True)
    half = len(table) // 2
    table.select(range(half)).to_parquet(root / "data" / "train-00000-of-00002.parquet")
    table.select(range(half, len(table))).to_parquet(root / "data" / "train-00001-of-00002.parquet")
    write_manifest_for(root)  # a real manifest: the Space reads a build through it
    return root


def write_release_folder(root: Path, config: str = "default") -> Path:
    """``<root>/data/<config>/<split>-*.parquet`` + README.md, like a release folder."""
    table = datasets.Dataset.from_dict(sample_rows(), features=FEATURES)
    folder = root / "data" / config
    folder.mkdir(parents=True, exist_ok=True)
    table.select(range(0, 9)).to_parquet(folder / "train-00000-of-00001.parquet")
    table.select(range(9, len(table))).to_parquet(folder / "test-00000-of-00001.parquet")
    (root / "README.md").write_text(
        f"---\nconfigs:\n- config_name: {config}\n  data_files:\n"
        f"  - split: train\n    path: data/{config}/train-*\n  - split: test\n    path: data/{config}/test-*\n"
        "---\n# test release\n"
    )
    return root


def decompression_bomb(path: Path, side: int = 20_000) -> Path:
    """A complete, valid ~40 kB grayscale PNG of side×side black pixels (400 MP, 400 MB decoded, at the default).

    Built without ever holding the pixels: one block of all-zero rows is deflated once, ending on a full flush
    (which resets the compressor, so every copy of that block compresses to the same bytes), and repeated."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = 100 if side % 100 == 0 else 1
    block = b"\x00" * ((side + 1) * rows)  # each row: filter byte 0 + one zero byte per pixel
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(side // rows):
        checksum = zlib.adler32(block, checksum)
    stream = b"\x78\xda" + piece * (side // rows) + deflate.flush() + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b""))
    return path


def write_leaderboard_results(generator_dir: Path, results_dir: Path, detectors=("ela", "noise")) -> Path:
    """Score the harness's baselines on ``generator_dir`` (real runs, few bootstrap draws): results JSONs."""
    from inpaintbench.atomic_io import atomic_write_json
    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.harness.run import EvalOptions, run_evaluation

    # The shards folder, not the run folder: results then name the data a folder of Parquet files (identity
    # kind "parquet"), what the leaderboard tests were written against.
    data = open_eval_data(generator_dir / "data")
    for name in detectors:
        options = EvalOptions(data=str(generator_dir / "data"), detector=name, bootstrap=20, progress=False)
        atomic_write_json(results_dir / f"{name}.json", run_evaluation(options, data, use_evaluate=False))
    return results_dir
