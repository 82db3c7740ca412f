"""Classical (weight-free, CPU) inpainting backends: OpenCV Telea, OpenCV Navier-Stokes, PatchMatch.

They only fill the hole, so they are "paste_back" by nature: pixels outside the mask are the original's.
They ignore the prompt, which makes them object *removal* tools; the generator records the action it asked for.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from .registry import InpaintBackend, InpaintRequest, InpaintResult, register_backend


def _as_arrays(request: InpaintRequest) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(request.image.convert("RGB"))
    mask = (np.asarray(request.mask.convert("L")) > 127).astype(np.uint8) * 255
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    return image, mask


class _OpenCVBackend(InpaintBackend):
    follows_prompt = False
    flag: int

    def __init__(self, radius: int = 5) -> None:
        super().__init__(radius=int(radius))

    def inpaint(self, request: InpaintRequest) -> InpaintResult:
        image, mask = _as_arrays(request)
        filled = cv2.inpaint(image, mask, self.params["radius"], self.flag)
        return InpaintResult(Image.fromarray(filled), strategy="paste_back")


@register_backend("opencv_telea")
class TeleaBackend(_OpenCVBackend):
    """OpenCV's fast-marching inpainting (Telea 2004): each hole pixel a weighted average of known neighbours."""

    flag = cv2.INPAINT_TELEA


@register_backend("opencv_ns")
class NavierStokesBackend(_OpenCVBackend):
    """OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001): isophotes carried into the hole by fluid dynamics."""

    flag = cv2.INPAINT_NS


@register_backend("patchmatch")
class PatchMatchBackend(InpaintBackend):
    """PatchMatch (Barnes et al. 2009) via pypatchmatch; its random search is seeded per sample."""

    follows_prompt = False

    def __init__(self, patch_size: int = 15) -> None:
        super().__init__(patch_size=int(patch_size))

    def inpaint(self, request: InpaintRequest) -> InpaintResult:
        from patchmatch import patch_match  # imported lazily: it compiles/loads a C library on first use

        image, mask = _as_arrays(request)
        # pypatchmatch draws from C's rand(); seeding it is what makes the fill reproducible.
        patch_match.set_random_seed(int(request.seed) % (2**31))
        filled = patch_match.inpaint(image, mask=mask, patch_size=self.params["patch_size"])
        return InpaintResult(Image.fromarray(np.ascontiguousarray(filled)), strategy="paste_back")
