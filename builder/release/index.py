"""The sample index of a release: which id names which pixels, in which split and configs.

``index/samples.parquet`` (one row per released sample) travels with every release. It is what the next publish
compares against (``builder.release.versioning``): an id may never name other pixels in any later version, and
within a major version the evaluation splits keep their members. It is small (no images) and read without
``datasets``.

Reading a generator output for a release goes through ``scan_shards``: every row's id is recomputed from its own
columns (``inpaintbench.ids``) and a row whose id does not match is refused, naming the shard and the row; the photos'
fingerprints for duplicate grouping (``builder.release.photos``) come out of the same decoding pass.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tqdm.auto import tqdm

from inpaintbench.ids import PIXEL_COLUMNS, RECIPE_COLUMNS, make_sample_id, pixels_sha256

from .photos import PhotoFingerprint, PhotoKey, fingerprint

INDEX_PATH = "index/samples.parquet"
INDEX_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("split", pa.string()),  # every config puts a sample in the same split
        ("configs", pa.list_(pa.string())),
        ("label", pa.int8()),
        ("source", pa.string()),
        ("source_image_id", pa.string()),
        ("image_pixels_sha256", pa.string()),
        ("mask_pixels_sha256", pa.string()),
    ]
)


class SampleIdError(ValueError):
    """A row's id is not the one its content gives; the message names the shard and the row."""


@dataclass
class ScannedShards:
    pixels: dict[str, dict[str, str]] = field(default_factory=dict)  # sample_id -> {"image": sha, "mask": sha}
    photos: dict[PhotoKey, PhotoFingerprint] = field(default_factory=dict)
    # Encoded bytes of each sample's three images: what sizes release files, whatever the input's sharding.
    image_bytes: dict[str, int] = field(default_factory=dict)


def _bytes(value: Any) -> bytes:
    return value["bytes"] if isinstance(value, dict) else value


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def scan_shards(paths: Iterable[Path]) -> ScannedShards:
    """Verify every row's id against its content; collect pixel digests and photo fingerprints.

    Every sample of a photo stores the same ``original`` PNG (the generator encodes it once), and a pristine
    sample's ``image`` is that same PNG: its pixel digest is computed once per distinct file, not once per row."""
    scanned = ScannedShards()
    columns = ["sample_id", *RECIPE_COLUMNS, *PIXEL_COLUMNS]
    original_digests: dict[bytes, str] = {}  # sha256 of an original's PNG bytes -> its pixel digest
    for path in tqdm(list(paths), desc="release: checking sample ids", unit="shard"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64, columns=columns):
            for row in batch.to_pylist():
                original, image = _bytes(row["original"]), _bytes(row["image"])
                file_key = hashlib.sha256(original).digest()
                decoded_original = None
                if file_key not in original_digests:
                    decoded_original = _decode(original)
                    original_digests[file_key] = pixels_sha256(decoded_original)
                digests = {
                    "original": original_digests[file_key],
                    "image": original_digests[file_key] if image == original else pixels_sha256(_decode(image)),
                    "mask": pixels_sha256(_decode(_bytes(row["mask"]))),
                }
                expected = make_sample_id(row, digests)
                if row["sample_id"] != expected:
                    raise SampleIdError(
                        f"{path}: row {row['sample_id']!r} (source {row['source']!r}, photo "
                        f"{row['source_image_id']!r}) "
                        f"carries an id its content does not give (expected {expected!r}); ids name their content "
                        "(inpaintbench.ids), so this shard was edited or written by an older generator: regenerate it"
                    )
                scanned.pixels[expected] = {"image": digests["image"], "mask": digests["mask"]}
                scanned.image_bytes[expected] = sum(len(_bytes(row[c])) for c in PIXEL_COLUMNS)
                photo = (row["source"], row["source_image_id"])
                if photo not in scanned.photos:
                    scanned.photos[photo] = fingerprint(decoded_original or _decode(original))
    return scanned


def index_table(
    rows: list[dict[str, Any]], configs_of: dict[str, list[str]], pixels: dict[str, dict[str, str]]
) -> pa.Table:
    """The index of the released rows (``layout.ReleasePlan.rows``), sorted by id."""
    ordered = sorted(rows, key=lambda r: r["sample_id"])
    return pa.Table.from_pydict(
        {
            "sample_id": [r["sample_id"] for r in ordered],
            "split": [r["split"] for r in ordered],
            "configs": [configs_of[r["sample_id"]] for r in ordered],
            "label": [0 if r["label"] == "pristine" else 1 for r in ordered],
            "source": [r["source"] for r in ordered],
            "source_image_id": [r["source_image_id"] for r in ordered],
            "image_pixels_sha256": [pixels[r["sample_id"]]["image"] for r in ordered],
            "mask_pixels_sha256": [pixels[r["sample_id"]]["mask"] for r in ordered],
        },
        schema=INDEX_SCHEMA,
    )


def write_index(table: pa.Table, dest: Path) -> None:
    path = dest / INDEX_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def read_index(path: str | Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise ValueError(f"{path}: not a readable sample index ({exc})") from None
    missing = [name for name in INDEX_SCHEMA.names if name not in table.column_names]
    if missing:
        raise ValueError(f"{path}: sample index lacks columns {missing}")
    return table
