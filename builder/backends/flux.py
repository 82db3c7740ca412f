"""FLUX.1 Fill, e.g. ``black-forest-labs/FLUX.1-Fill-dev``: a flow-matching transformer trained for inpainting,
guidance-distilled (no negative prompt; guidance ~30); sides multiples of 16, around one megapixel."""

from __future__ import annotations

from typing import Any

from ..strategies import SizeRule
from .diffusion_common import FLOW_SCHEDULERS, DiffusionBackend
from .registry import register_backend


@register_backend("flux_fill")
class FluxFillBackend(DiffusionBackend):
    family = "flux"
    default_model = "black-forest-labs/FLUX.1-Fill-dev"
    size_rule = SizeRule(multiple=16, area=1024 * 1024, max_long_side=2048)
    default_steps = 50
    default_guidance = 30.0
    default_scheduler = "FlowMatchEuler"
    schedulers = FLOW_SCHEDULERS
    gpu_dtype = "bf16"
    takes_negative_prompt = False

    def _load(self) -> Any:
        from diffusers import FluxFillPipeline

        return self._load_pipeline(FluxFillPipeline, self.params["model"])
