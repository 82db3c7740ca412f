"""SDXL inpainting, e.g. ``diffusers/stable-diffusion-xl-1.0-inpainting-0.1``; works around one megapixel."""

from __future__ import annotations

from typing import Any

from ..strategies import SizeRule
from .diffusion_common import DiffusionBackend
from .registry import register_backend


@register_backend("sdxl_inpaint")
class StableDiffusionXLInpaintBackend(DiffusionBackend):
    family = "sdxl"
    default_model = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"
    size_rule = SizeRule(multiple=8, area=1024 * 1024, max_long_side=1536)
    default_guidance = 8.0
    default_scheduler = "Euler"
    default_strength = 0.99  # the checkpoint's card: at exactly 1.0 it ignores the masked image

    def _load(self) -> Any:
        from diffusers import StableDiffusionXLInpaintPipeline

        return self._load_pipeline(StableDiffusionXLInpaintPipeline, self.params["model"])
