"""Stable Diffusion 1.5 / 2 inpainting (9-channel UNet), e.g. ``stable-diffusion-v1-5/stable-diffusion-inpainting``
or ``stabilityai/stable-diffusion-2-inpainting``: one backend, the checkpoint chosen by ``model``."""

from __future__ import annotations

from typing import Any

from ..strategies import SizeRule
from .diffusion_common import DiffusionBackend
from .registry import register_backend


@register_backend("sd_inpaint")
class StableDiffusionInpaintBackend(DiffusionBackend):
    family = "sd"
    default_model = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    size_rule = SizeRule(multiple=8, long_side=512, max_long_side=1024)

    def _load(self) -> Any:
        from diffusers import StableDiffusionInpaintPipeline

        # No safety checker: it silently returns black images, which would enter the data set labelled as forgeries.
        return self._load_pipeline(StableDiffusionInpaintPipeline, self.params["model"], safety_checker=None,
                                   requires_safety_checker=False)
