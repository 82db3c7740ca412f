"""Bringing a working-size output up to the original's size: Lanczos, or a super-resolution model.

HD-Painter (one of SAGI's generators) inpaints at the model's size and upscales the result to up to 2048 px
before blending it in; a learned upscaler leaves different traces than a resampling filter, which is why the
method is recorded per sample. The model path is diffusers' latent-diffusion x4 super-resolution
(``CompVis/ldm-super-resolution-4x-openimages``): small, prompt-free, seedable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from ..models import load_pretrained

UPSCALERS = ("lanczos", "ldm_sr")
DEFAULT_LDM_SR_MODEL = "CompVis/ldm-super-resolution-4x-openimages"
# The LDM super-resolution pipeline crops its input to multiples of 32 px.
_LDM_MULTIPLE = 32


class LanczosUpscaler:
    method = "lanczos"

    def __call__(self, image: Image.Image, size: tuple[int, int], seed: int) -> tuple[Image.Image, dict[str, Any]]:
        return image.resize(size, Image.Resampling.LANCZOS), {"method": self.method}


class LDMSuperResolutionUpscaler:
    """Runs the model only when the output must grow; shrinking (or an exact fit) stays a Lanczos resize."""

    method = "ldm_sr"

    def __init__(self, model: str, steps: int, device: str, dtype: torch.dtype, what: str) -> None:
        from diffusers import LDMSuperResolutionPipeline

        self.model, self.steps, self.device = model, int(steps), device
        self.pipeline = load_pretrained(LDMSuperResolutionPipeline, model, f"{what} upscaler", dtype=dtype)
        self.pipeline.to(device)
        self.pipeline.set_progress_bar_config(disable=True)

    def __call__(self, image: Image.Image, size: tuple[int, int], seed: int) -> tuple[Image.Image, dict[str, Any]]:
        if image.width >= size[0] and image.height >= size[1]:
            return image.resize(size, Image.Resampling.LANCZOS), {"method": "lanczos"}
        # Pad (edge-replicated) up to the pipeline's multiple rather than resize: it would crop the input to a
        # multiple of 32 and so distort the aspect; the padding is cropped away again after upscaling.
        fit = [max(_LDM_MULTIPLE, -(-side // _LDM_MULTIPLE) * _LDM_MULTIPLE) for side in image.size]
        pixels = np.asarray(image.convert("RGB"))
        padded = np.pad(pixels, ((0, fit[1] - image.height), (0, fit[0] - image.width), (0, 0)), mode="edge")
        generator = torch.Generator(self.device if self.device.startswith("cuda") else "cpu").manual_seed(int(seed))
        with torch.inference_mode():
            upscaled = self.pipeline(
                image=Image.fromarray(padded), num_inference_steps=self.steps, generator=generator, eta=0.0,
            ).images[0]
        factor = upscaled.width / fit[0]
        upscaled = upscaled.crop((0, 0, round(image.width * factor), round(image.height * factor)))
        record = {"method": self.method, "model": self.model, "model_output": list(upscaled.size)}
        return upscaled.resize(size, Image.Resampling.LANCZOS), record


def create_upscaler(method: str, model: str | None, steps: int, device: str, dtype: torch.dtype, what: str):
    if method == "lanczos":
        return LanczosUpscaler()
    if method == "ldm_sr":
        return LDMSuperResolutionUpscaler(model or DEFAULT_LDM_SR_MODEL, steps, device, dtype, what)
    raise ValueError(f"{what}: unknown upscale {method!r}; known: {', '.join(UPSCALERS)}")
