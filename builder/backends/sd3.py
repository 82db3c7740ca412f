"""Stable Diffusion 3 / 3.5 inpainting (a flow-matching transformer), e.g.
``stabilityai/stable-diffusion-3-medium-diffusers``; sides multiples of 16, around one megapixel."""

from __future__ import annotations

from typing import Any

from ..strategies import SizeRule
from .diffusion_common import FLOW_SCHEDULERS, DiffusionBackend
from .registry import register_backend


@register_backend("sd3_inpaint")
class StableDiffusion3InpaintBackend(DiffusionBackend):
    family = "sd3"
    default_model = "stabilityai/stable-diffusion-3-medium-diffusers"
    size_rule = SizeRule(multiple=16, area=1024 * 1024, max_long_side=1536)
    default_steps = 28
    default_guidance = 7.0
    default_scheduler = "FlowMatchEuler"
    schedulers = FLOW_SCHEDULERS
    gpu_dtype = "bf16"
    # default_strength 1.0: the pipeline's own default, 0.6, keeps the old object's outline under the mask.

    def _load(self) -> Any:
        from diffusers import StableDiffusion3InpaintPipeline

        return self._load_pipeline(StableDiffusion3InpaintPipeline, self.params["model"])
