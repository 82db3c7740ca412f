"""A real manifest for hand-made shards: the tests of the four readers of a build (harness, release, assess,
Space) write shards by hand and need the manifest the generator would have written for them."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def write_manifest_for(root: Path, seed: int = 0) -> dict:
    """Write ``<root>/manifest.json`` for the ``data/*.parquet`` already there, through the generator's own
    ``build_manifest`` (shard records made from the files), so hand-made shards form a valid build."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.manifest import build_manifest, write_manifest
    from inpaintbench.builder.shards import SUMMARY_FIELDS, ShardRecord
    from inpaintbench.digests import file_digest

    config = GenerateConfig(out_dir=str(root), seed=seed)
    paths = sorted((root / "data").glob("*.parquet"))
    records = []
    for index, path in enumerate(paths):
        samples = pq.read_table(path, columns=list(SUMMARY_FIELDS)).to_pylist()
        sha256, size = file_digest(path)
        rel = path.relative_to(root).as_posix()
        records.append(ShardRecord(config.config_hash, index, len(paths), rel, [], sha256, size, samples, []))
    manifest = build_manifest(config, records, num_images=sum(r.num_samples for r in records))
    write_manifest(root, manifest)
    return manifest
