"""Pictures for people: a mask drawn over a photo, a detector's heatmap over the image it scored."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image

MASK_COLOR = np.array([255, 40, 80], dtype=np.float32)  # magenta-red reads on both skies and foliage


def _rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    return np.asarray(image, dtype=np.float32)


def mask_overlay(image: Image.Image | np.ndarray, mask: Image.Image | np.ndarray, alpha: float = 0.5) -> Image.Image:
    """``image`` with the mask's pixels tinted and its outline drawn solid, so thin masks stay visible."""
    rgb = _rgb(image)
    m = np.asarray(mask.convert("L") if isinstance(mask, Image.Image) else mask)
    if m.shape != rgb.shape[:2]:
        m = np.asarray(Image.fromarray(m.astype(np.uint8)).resize(rgb.shape[1::-1], Image.NEAREST))
    inside = m > 127
    out = rgb.copy()
    out[inside] = (1 - alpha) * rgb[inside] + alpha * MASK_COLOR
    padded = np.pad(inside, 1, mode="edge")
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    out[inside & ~interior] = MASK_COLOR
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def heatmap_overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.85) -> Image.Image:
    """``heatmap`` (HxW in [0, 1], any size) coloured with inferno and blended over ``image``.

    The blend weight follows the square root of the heat, so cold regions show the photo, and moderate heat is
    already visible (a linear weight leaves typical detector maps, mostly below 0.5, nearly invisible)."""
    rgb = _rgb(image)
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0).clip(0.0, 1.0)
    if heat.shape != rgb.shape[:2]:
        heat = np.asarray(Image.fromarray(heat).resize(rgb.shape[1::-1], Image.BILINEAR))
    colour = colormaps["inferno"](heat)[..., :3] * 255.0
    weight = (alpha * np.sqrt(heat))[..., None]
    return Image.fromarray(((1 - weight) * rgb + weight * colour).clip(0, 255).astype(np.uint8))
