"""Read and check a generator output dir (``<out>/manifest.json`` + ``<out>/shards/*.parquet``).

A release is only as good as its inputs, so everything is checked before one byte of the release is written:
the manifest's shape, each listed shard's presence, byte size and sha256, and that each shard holds the
schema's columns. Errors name the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..schema import COLUMNS
from ..shards import sha256_file

MANIFEST_NAME = "manifest.json"
REQUIRED_MANIFEST_KEYS = ("format", "format_version", "inpaintbench_version", "config", "seed", "counts", "shards")


class GeneratorOutputError(ValueError):
    """The generator output cannot be released; the message names the file and the problem."""


@dataclass(frozen=True)
class ShardInput:
    path: Path
    num_samples: int
    sha256: str
    bytes: int


@dataclass(frozen=True)
class GeneratorOutput:
    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    shards: tuple[ShardInput, ...]

    @property
    def total_samples(self) -> int:
        return sum(s.num_samples for s in self.shards)


def load_generator_output(root: str | Path, verify_hashes: bool = True) -> GeneratorOutput:
    root = Path(root)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise GeneratorOutputError(f"{manifest_path}: no manifest (is {root} a generator output dir?)")
    raw = manifest_path.read_bytes()
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise GeneratorOutputError(f"{manifest_path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise GeneratorOutputError(f"{manifest_path}: expected a JSON object at the top level")
    missing = [key for key in REQUIRED_MANIFEST_KEYS if key not in manifest]
    if missing:
        raise GeneratorOutputError(f"{manifest_path}: missing keys {missing}")
    if not isinstance(manifest["shards"], list) or not manifest["shards"]:
        raise GeneratorOutputError(f"{manifest_path}: 'shards' must be a non-empty list")

    shards = []
    for i, item in enumerate(manifest["shards"]):
        where = f"{manifest_path}: shards[{i}]"
        try:
            rel, num, sha, size = item["path"], int(item["num_samples"]), str(item["sha256"]), int(item["bytes"])
        except (KeyError, TypeError, ValueError):
            raise GeneratorOutputError(f"{where}: needs path, num_samples, sha256 and bytes, got {item!r}") from None
        path = (root / rel).resolve()
        if root.resolve() not in path.parents:
            raise GeneratorOutputError(f"{where}: path {rel!r} points outside {root}")
        if not path.is_file():
            raise GeneratorOutputError(f"{path}: listed in the manifest but missing")
        if path.stat().st_size != size:
            raise GeneratorOutputError(f"{path}: {path.stat().st_size} bytes, the manifest says {size}")
        if verify_hashes and sha256_file(path) != sha:
            raise GeneratorOutputError(f"{path}: sha256 differs from the manifest (corrupt or replaced shard)")
        try:
            metadata = pq.read_metadata(path)
            names = pq.read_schema(path).names  # top-level columns (metadata.schema lists leaves)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise GeneratorOutputError(f"{path}: not a readable Parquet file ({exc})") from None
        missing_columns = [c for c in COLUMNS if c not in names]
        if missing_columns:
            raise GeneratorOutputError(f"{path}: missing schema columns {missing_columns}")
        if metadata.num_rows != num:
            raise GeneratorOutputError(f"{path}: {metadata.num_rows} rows, the manifest says {num}")
        shards.append(ShardInput(path, num, sha, size))

    total = manifest["counts"].get("total") if isinstance(manifest["counts"], dict) else None
    if total is not None and int(total) != sum(s.num_samples for s in shards):
        raise GeneratorOutputError(
            f"{manifest_path}: counts.total is {total} but the shards hold {sum(s.num_samples for s in shards)} rows"
        )
    return GeneratorOutput(root, manifest, hashlib.sha256(raw).hexdigest(), tuple(sorted(shards, key=lambda s: s.path.name)))
