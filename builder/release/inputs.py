"""Read and check a generator output dir (``<out>/manifest.json`` + the shards it lists, ``<out>/data/*.parquet``).

A release is only as good as its inputs, so everything is checked before one byte of the release is written:
the manifest's shape, each listed shard's presence, byte size and sha256 (``builder.manifest``, the one reader
of a build), and that each shard holds the schema's columns and the listed number of rows. Errors name the file
and what is wrong. Shards keep the manifest's order (shard order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from inpaintbench.folders import ManifestError, check_shards, read_manifest
from inpaintbench.schema import COLUMNS


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


def load_generator_output(root: str | Path, verify_hashes: bool = True) -> GeneratorOutput:
    # A release is published once and then trusted by everyone who downloads it: worth reading every byte
    # (sha256) of every shard here, unlike the Space or assess, which only browse or judge a local build.
    root = Path(root)
    try:
        manifest = read_manifest(root.resolve())  # shard paths absolute, as the release's error texts show them
        check_shards(manifest, verify="sha256" if verify_hashes else "size")
    except ManifestError as exc:
        raise GeneratorOutputError(str(exc)) from None

    shards = []
    for listed in manifest.shards:
        path, num = listed.path, listed.num_samples
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
        shards.append(ShardInput(path, num, listed.sha256, listed.bytes))

    counts = manifest.data["counts"]
    total = counts.get("total") if isinstance(counts, dict) else None
    if total is not None and int(total) != sum(s.num_samples for s in shards):
        raise GeneratorOutputError(
            f"{manifest.path}: counts.total is {total} but the shards hold {sum(s.num_samples for s in shards)} rows"
        )
    return GeneratorOutput(root, manifest.data, manifest.sha256, tuple(shards))
