"""File fingerprints (sha256), in a module of their own: shards, manifests, releases and model files are all
hashed the same way, and light importers (a detector's model loader) must not pull in ``datasets`` for it."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: str | Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def sha256_file(path: str | Path) -> str:
    """sha256 hex of a file, read in blocks (shards, manifests, sidecars: everything the project fingerprints)."""
    return file_digest(path)[0]
