"""A small photo, a box mask and an inpainting request on them, for the backends' tests (64x48 by default: the
tiny diffusion pipelines work at 64 px)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from inpaintbench.builder.backends import InpaintRequest


def photo(width=64, height=48, seed=0) -> Image.Image:
    # Smooth gradients plus a little noise: something a canny detector finds edges in.
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) % 64 * 4], axis=-1)
    noise = np.random.default_rng(seed).integers(0, 30, (height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def box_mask(width=64, height=48, box=(16, 12, 44, 36)) -> Image.Image:
    mask = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask, mode="L")


def request(seed=7, prompt="a red armchair", **kw) -> InpaintRequest:
    return InpaintRequest(image=kw.get("image", photo()), mask=kw.get("mask", box_mask()), prompt=prompt,
                          negative_prompt="blurry", seed=seed)
