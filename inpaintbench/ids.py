"""Sample ids that name one content forever, and per-sample seeds.

A seed is a pure function of *what* a sample is (source, image, object, edit slot) and of the run's seed, never of
the order work was done in or how many processes did it: that is what makes shards byte-identical across process
counts and re-runs.

A sample id is derived from the sample's whole recipe *and* its result, read from the sample's own columns:
the photo's pixels, the object, the mask's pixels, what was asked (action, replacement, prompt), the backend and
its parameters, the seed, the strategy, and the pixels the detector sees. So:

- the same id can never name other pixels in a later version (another seed, mix, backend setting or a GPU that
  computes a different result all give another id); ``builder.release.index`` also checks this against every
  published version before a release goes out;
- anyone can recompute an id from a downloaded row (``recompute_sample_id``) and see that it is what it claims;
- a pristine sample's id ignores the seed (nothing random made it): the same photo keeps its id across rebuilds
  with other seeds, so an evaluation split does not change membership just because the edits were redrawn.

Float columns (scores, dilation, area) are left out: they round-trip through float32 and are derived from the
mask or the planner anyway, whose outputs are in the recipe.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any

from PIL import Image

ID_HASH_HEX = 16  # 64 bits after a readable "<source>-<image>-" prefix: collisions are per photo, so negligible
# Non-float columns that make up the recipe (with the pixels of image, mask and original).
RECIPE_COLUMNS = (
    "label", "source", "source_image_id", "object_id", "category", "action", "replacement", "prompt",
    "backend", "backend_params", "strategy", "seed", "mask_variant",
)
PIXEL_COLUMNS = ("image", "mask", "original")


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def derive_seed(global_seed: int, *parts: object) -> int:
    """A 63-bit seed from the run's seed and a sample's identity (independent of work order)."""
    return int.from_bytes(_digest(int(global_seed), *parts)[:8], "big") >> 1


def pixels_sha256(image: Image.Image | bytes | Mapping[str, Any]) -> str:
    """sha256 of an image's decoded pixels (mode, size, raw bytes): the same for any lossless encoding of them.

    Accepts a PIL image, encoded bytes, or a ``datasets`` image struct ``{"bytes": ..., "path": ...}``."""
    if isinstance(image, Mapping):
        image = image["bytes"]
    if isinstance(image, (bytes, bytearray)):
        with Image.open(io.BytesIO(image)) as opened:
            opened.load()
            return pixels_sha256(opened)
    digest = hashlib.sha256(f"{image.mode}\x1f{image.size[0]}x{image.size[1]}\x1f".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def recipe_digest(row: Mapping[str, Any], pixel_digests: Mapping[str, str]) -> str:
    """sha256 hex of a sample's recipe and result: its non-float columns plus its images' pixel digests."""
    recipe = {column: row[column] for column in RECIPE_COLUMNS}
    recipe["label"] = int(recipe["label"])
    recipe["seed"] = 0 if recipe["label"] == 0 else int(recipe["seed"])  # a pristine photo has no randomness
    recipe.update({f"{column}_pixels": pixel_digests[column] for column in PIXEL_COLUMNS})
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def make_edit_id(source: str, image_id: str, object_id: str, edit_slot: str, seed: int, backend_params: str) -> str:
    """The id of one edit (one request to one backend): every sample it gives shares it (``strategy: both``)."""
    return _digest("edit", source, image_id, object_id, edit_slot, int(seed), backend_params).hex()[:ID_HASH_HEX]


def make_sample_id(row: Mapping[str, Any], pixel_digests: Mapping[str, str]) -> str:
    """E.g. ``embedded-skimage_astronaut-3f9a1c2b7d4e0a51``: a readable prefix + 16 hex chars of the recipe digest.

    ``row`` holds the sample's columns (at least ``RECIPE_COLUMNS``); ``pixel_digests`` maps each of
    ``PIXEL_COLUMNS`` to ``pixels_sha256`` of that image."""
    safe_image = "".join(c if c.isalnum() else "_" for c in str(row["source_image_id"]))[:40]
    return f"{row['source']}-{safe_image}-{recipe_digest(row, pixel_digests)[:ID_HASH_HEX]}"


def recompute_sample_id(row: Mapping[str, Any]) -> str:
    """The id a stored row must carry: decodes its three images (slow-ish: used to verify, not to generate)."""
    return make_sample_id(row, {column: pixels_sha256(row[column]) for column in PIXEL_COLUMNS})
