"""Stable sample ids and per-sample seeds.

Both are pure functions of *what* a sample is (source, image, object, edit slot), never of the order work was
done in or how many processes did it. That is what makes shards byte-identical across process counts and
re-runs, and keeps sample ids stable from one release version to the next.
"""

from __future__ import annotations

import hashlib


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def make_sample_id(source: str, source_image_id: str, object_id: str, slot: str) -> str:
    """E.g. ``embedded-astronaut-3f9a1c2b7d4e`` (readable prefix + 12 hex chars of a hash)."""
    safe_image = "".join(c if c.isalnum() else "_" for c in str(source_image_id))[:40]
    return f"{source}-{safe_image}-{_digest(source, source_image_id, object_id, slot).hex()[:12]}"


def derive_seed(global_seed: int, *parts: object) -> int:
    """A 63-bit seed from the run's seed and a sample's identity (independent of work order)."""
    return int.from_bytes(_digest(int(global_seed), *parts)[:8], "big") >> 1
