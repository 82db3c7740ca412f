"""Parquet shards of samples, written through ``datasets`` with ``builder.schema.FEATURES``, plus their records.

- Images are stored as PNG bytes: lossless (a lossy encoding would be a forensic artefact of its own) and
  deterministic (PIL writes no timestamp), so a shard's bytes are a function of its samples.
- ``Dataset.from_dict(..., features=FEATURES).to_parquet`` embeds the Features in the Parquet schema metadata
  ("huggingface" key): ``datasets.load_dataset("parquet", data_files=...)`` gives back exactly ``FEATURES``.
- A shard is written to a temp file, fsynced and renamed (``atomic_io``): it exists complete or not at all.
- Next to each shard's Parquet, a small JSON *record* (in ``<out>/work/shards/``) says what the shard holds:
  its config hash, work items, sha256, byte size, a per-sample summary (for the manifest's counts) and the
  inputs skipped while making it. The record is written after the shard, so a valid record proves a complete
  shard; resume checks the two against each other.

Size: a shard holds at most ``samples_per_shard`` samples (the generator cuts chunks so that even a chunk whose
every image yields its maximum stays under it); each sample stores three PNGs (image, mask, original).
Measured on real photos capped at 512 px: ~0.5 MB per sample (46 samples, 4 shards, 22.4 MB), so the default
16 samples make shards of at most ~8 MB. Size grows with pixel count: at 2048 px expect ~16x per sample, so
keep ``samples_per_shard`` near 32-64 there (the Hub suggests Parquet files well under ~500 MB).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import datasets
from PIL import Image

from .atomic_io import atomic_path, atomic_write_json
from .digests import file_digest, sha256_file  # noqa: F401  (callers hash through this module too)
from .schema import COLUMNS, FEATURES

RECORD_FORMAT = "inpaintbench-shard-record"
RECORD_VERSION = 1
IMAGE_COLUMNS = tuple(name for name, feature in FEATURES.items() if isinstance(feature, datasets.Image))
# The per-sample fields a record keeps: what the manifest counts by.
SUMMARY_FIELDS = ("sample_id", "label", "source", "backend", "category", "strategy", "action", "mask_variant")


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _encoded_image(value: Any, column: str, sample_id: str) -> dict[str, Any]:
    if isinstance(value, Image.Image):
        return {"bytes": encode_png(value), "path": None}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value), "path": None}
    raise TypeError(f"sample {sample_id}: column {column!r} must be a PIL image or PNG bytes, got {type(value).__name__}")


def rows_to_columns(rows: Sequence[dict[str, Any]]) -> dict[str, list]:
    for row in rows:
        missing = [c for c in COLUMNS if c not in row]
        extra = [c for c in row if c not in FEATURES]
        if missing or extra:
            raise ValueError(f"sample {row.get('sample_id', '?')}: missing columns {missing}, unknown columns {extra}")
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    for name in IMAGE_COLUMNS:
        columns[name] = [_encoded_image(v, name, r["sample_id"]) for v, r in zip(columns[name], rows)]
    return columns


def write_shard(rows: Sequence[dict[str, Any]], path: str | Path) -> tuple[str, int]:
    """Write ``rows`` (dicts with every FEATURES column) as one Parquet shard, atomically; returns (sha256, bytes)."""
    dataset = datasets.Dataset.from_dict(rows_to_columns(rows), features=FEATURES)
    # to_parquet draws its own progress bar per shard: noise under the generator's bar.
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        with atomic_path(path) as tmp:
            dataset.to_parquet(str(tmp))
    finally:
        if not bars_were_off:
            datasets.enable_progress_bars()
    return file_digest(path)


@dataclass
class ShardRecord:
    """The JSON record of one written shard (see the module docstring)."""

    config_hash: str
    chunk_index: int
    num_chunks: int
    path: str  # relative to the output directory, POSIX separators
    items: list[list[str]]  # [source, image_id] of every work item in the chunk
    sha256: str
    bytes: int
    samples: list[dict[str, Any]]  # SUMMARY_FIELDS of each sample, in shard order
    skipped: list[dict[str, Any]]  # {stage, source, image_id, object_id, path, reason}

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "config_hash": self.config_hash,
            "chunk_index": self.chunk_index,
            "num_chunks": self.num_chunks,
            "path": self.path,
            "items": self.items,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "num_samples": self.num_samples,
            "samples": self.samples,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShardRecord":
        if data.get("format") != RECORD_FORMAT or data.get("version") != RECORD_VERSION:
            raise ValueError(f"not a version-{RECORD_VERSION} {RECORD_FORMAT}")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def summarize(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in SUMMARY_FIELDS}


def write_record(record: ShardRecord, path: str | Path) -> None:
    atomic_write_json(path, record.to_dict())


def load_record(path: str | Path) -> ShardRecord:
    path = Path(path)
    try:
        return ShardRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: unreadable shard record ({error})") from None


def complete_record(
    out_dir: str | Path, record_path: str | Path, config_hash: str, items: list[list[str]]
) -> ShardRecord | None:
    """The shard's record if the shard is complete and valid for this config and these items, else None.

    Complete means: the record exists and parses, names this config hash and exactly these work items, and the
    Parquet file exists with the recorded size and sha256. Anything less means the shard is (re)written.
    """
    record_path = Path(record_path)
    if not record_path.is_file():
        return None
    try:
        record = load_record(record_path)
    except ValueError:
        return None
    if record.config_hash != config_hash or record.items != items:
        return None
    shard_path = Path(out_dir) / record.path
    if not shard_path.is_file() or shard_path.stat().st_size != record.bytes:
        return None
    if file_digest(shard_path)[0] != record.sha256:
        return None
    return record
