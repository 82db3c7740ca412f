"""Parquet shards of samples, written through ``datasets`` with ``inpaintbench.schema.FEATURES``, plus their records.

- Images are stored as PNG bytes: lossless (a lossy encoding would be a forensic artefact of its own) and
  deterministic (the encoder writes no timestamp, and its bytes are a function of the pixels), so a shard's bytes
  are a function of its samples.
- One encoder (``encode_png``, bytes made by ``builder.png_encoder``) for every image column of every label, with
  one policy: a fixed mode per column (``COLUMN_MODES``), 8-bit, not interlaced, every row Up-filtered, one zlib
  stream at the encoder's level, and no chunk but IHDR, one IDAT and IEND (no ICC profile, EXIF, text, gamma or
  pHYs). Anything else is a file-level difference between pristine and
  inpainted samples that a classifier can learn instead of the edit: the pristine image used to be the source
  photo saved as it was, and PIL copied its ICC profile into the PNG, so only pristine PNGs had an ``iCCP``
  chunk. ``write_shard`` checks every image's bytes against the policy (``png_policy_problem``), so bytes made
  any other way are refused, naming the sample and column. Colours are made right before this, in
  ``builder.image_io`` (a tagged photo is converted to sRGB there).
- Written as ``Dataset.from_dict(..., features=FEATURES).to_parquet`` writes them, byte for byte, without its
  cost (``builder.parquet_shard``): the Features are embedded in the Parquet schema metadata ("huggingface" key),
  so ``datasets.load_dataset("parquet", data_files=...)`` gives back exactly ``FEATURES``.
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

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from PIL import Image

from inpaintbench.atomic_io import atomic_path, atomic_write_json
from inpaintbench.digests import file_digest
from inpaintbench.schema import COLUMNS, FEATURES

from . import png_encoder
from .parquet_shard import write_parquet

RECORD_FORMAT = "inpaintbench-shard-record"
# 2: PNGs from the one metadata-free encoder, photos converted to sRGB. A version-1 shard (pristine PNGs may carry
# the source photo's ICC profile) is not a complete shard for a resumed run: it is rewritten, never mixed in.
# 3: PNGs from builder.png_encoder (Up filter, libdeflate) instead of PIL's writer (zlib level 6, adaptive
# filters): same pixels, other bytes, so a version-2 shard is rewritten too rather than mixed into a build.
RECORD_VERSION = 3
IMAGE_COLUMNS = tuple(name for name, feature in FEATURES.items() if isinstance(feature, datasets.Image))
# The per-sample fields a record keeps: what the manifest counts by.
SUMMARY_FIELDS = ("sample_id", "label", "source", "backend", "category", "strategy", "action", "mask_variant")


# The encoding policy (see the module docstring).
COLUMN_MODES = {"image": "RGB", "mask": "L", "original": "RGB", "changed_mask": "L"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPES = {"L": 0, "RGB": 2}  # IHDR colour type of each mode, at bit depth 8

if set(COLUMN_MODES) != set(IMAGE_COLUMNS):  # a new image column in the schema needs its mode here
    raise ImportError(
        f"builder.shards.COLUMN_MODES covers {sorted(COLUMN_MODES)}, the schema's image columns are {IMAGE_COLUMNS}"
    )


def encode_png(image: Image.Image) -> bytes:
    """The one PNG encoding of a sample image (mode RGB or L): pixels only, fixed options, no metadata."""
    if image.mode not in _PNG_COLOR_TYPES:
        raise ValueError(f"encode_png stores mode RGB or L images, got mode {image.mode}: convert it first")
    # Only the pixels reach the encoder: nothing of the image's info (ICC profile, transparency) can follow them.
    return png_encoder.encode(np.asarray(image))


@dataclass(frozen=True)
class PngChunk:
    type: str  # e.g. "IHDR", "iCCP"
    offset: int  # of the chunk's data in the file
    length: int  # of the chunk's data


def png_chunks(data: bytes) -> list[PngChunk]:
    """The chunks of PNG ``data``, in file order, up to IEND (lengths walked, CRCs not checked).

    ValueError when ``data`` is not a PNG or its chunk list is cut short."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (no PNG signature)")
    chunks, position = [], len(PNG_SIGNATURE)
    while True:
        if position + 8 > len(data):
            raise ValueError(f"chunk list cut short at byte {position} (no IEND)")
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8].decode("latin-1")
        if position + 12 + length > len(data):
            raise ValueError(f"chunk {kind!r} at byte {position} runs past the end of the file")
        chunks.append(PngChunk(kind, position + 8, length))
        position += 12 + length  # length, type, data, CRC
        if kind == "IEND":
            return chunks


def png_policy_problem(data: bytes, column: str) -> str:
    """What in ``data`` breaks the encoding policy for ``column`` ("" when nothing does)."""
    try:
        chunks = png_chunks(data)
    except ValueError as error:
        return str(error)
    types = [c.type for c in chunks]
    extra = sorted({t for t in types if t not in ("IHDR", "IDAT", "IEND")})
    if extra:
        return f"chunk(s) {', '.join(extra)} (the encoder writes only IHDR, IDAT and IEND: no profile or metadata)"
    if types[0] != "IHDR" or "IDAT" not in types:
        return "no IHDR first or no IDAT"
    if chunks[0].length != 13:
        return f"an IHDR of {chunks[0].length} bytes, not 13"
    header = data[chunks[0].offset : chunks[0].offset + 13]
    mode = COLUMN_MODES[column]
    if header[8] != 8 or header[9] != _PNG_COLOR_TYPES[mode] or header[12] != 0:
        return (f"bit depth {header[8]}, colour type {header[9]}, interlace {header[12]}; column {column!r} holds "
                f"8-bit {mode} PNGs (colour type {_PNG_COLOR_TYPES[mode]}), not interlaced")
    idats = [c for c in chunks if c.type == "IDAT"]
    if len(idats) != 1:
        return f"{len(idats)} IDAT chunks (the encoder writes its pixels as one)"
    stream = data[idats[0].offset : idats[0].offset + idats[0].length]
    if len(stream) < 2 or stream[1] >> 6 != png_encoder.ZLIB_FLEVEL:
        return f"pixels not compressed at the encoder's level {png_encoder.LEVEL} (the zlib header says otherwise)"
    try:  # the first row's filter type: one byte into the stream, decompressed alone
        first_filter = zlib.decompressobj().decompress(stream, 1)[:1]
    except zlib.error as error:
        return f"pixel stream does not decompress ({error})"
    if first_filter != bytes([png_encoder.UP_FILTER]):
        return f"first row filtered with type {first_filter.hex() or 'none'}, not {png_encoder.UP_FILTER} (Up)"
    return ""


def _encoded_image(value: Any, column: str, sample_id: str) -> dict[str, Any]:
    if isinstance(value, Image.Image):
        data = encode_png(value)
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError(
            f"sample {sample_id}: column {column!r} must be a PIL image or PNG bytes, got {type(value).__name__}"
        )
    problem = png_policy_problem(data, column)
    if problem:
        raise ValueError(f"sample {sample_id}: column {column!r}: not a PNG of the one sample encoder: {problem}")
    return {"bytes": data, "path": None}


def rows_to_columns(rows: Sequence[dict[str, Any]]) -> dict[str, list]:
    for row in rows:
        missing = [c for c in COLUMNS if c not in row]
        extra = [c for c in row if c not in FEATURES]
        if missing or extra:
            raise ValueError(f"sample {row.get('sample_id', '?')}: missing columns {missing}, unknown columns {extra}")
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    for name in IMAGE_COLUMNS:
        columns[name] = [_encoded_image(v, name, r["sample_id"]) for v, r in zip(columns[name], rows, strict=True)]
    return columns


def write_shard(rows: Sequence[dict[str, Any]], path: str | Path) -> tuple[str, int]:
    """Write ``rows`` (dicts with every FEATURES column) as one Parquet shard, atomically; returns (sha256, bytes)."""
    columns = rows_to_columns(rows)
    with atomic_path(path) as tmp:
        write_parquet(columns, FEATURES, tmp)
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
    # [source, image_id, pixels sha256, pHash hex] of each photo with samples (builder.release.photos): what the
    # manifest groups exact and near duplicates by.
    photos: list[list[str]] = field(default_factory=list)

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
            "photos": self.photos,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardRecord:
        if data.get("format") != RECORD_FORMAT or data.get("version") != RECORD_VERSION:
            raise ValueError(f"not a version-{RECORD_VERSION} {RECORD_FORMAT}")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def sample_summary(row: dict[str, Any]) -> dict[str, Any]:
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
