"""ControlNet inpainting as in SAGI: an SD 1.5 inpainting base steered by a canny ControlNet whose edge map is
computed with OpenCV from the original image, so the new content follows the scene's structure."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

from ..models import load_pretrained
from ..strategies import SizeRule
from .diffusion_common import DiffusionBackend
from .registry import register_backend


def canny_control_image(image: Image.Image, low: int, high: int) -> Image.Image:
    """The canny edge map of ``image`` as a 3-channel image (what canny ControlNets were trained on)."""
    edges = cv2.Canny(np.asarray(image.convert("L")), low, high)
    return Image.fromarray(np.repeat(edges[..., None], 3, axis=2))


@register_backend("controlnet_inpaint")
class ControlNetInpaintBackend(DiffusionBackend):
    family = "controlnet"
    default_model = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    default_controlnet = "lllyasviel/control_v11p_sd15_canny"
    size_rule = SizeRule(multiple=8, long_side=512, max_long_side=1024)

    def _family_defaults(self, family_params: dict[str, Any]) -> dict[str, Any]:
        params = {
            "controlnet": str(family_params.pop("controlnet", self.default_controlnet)),
            "conditioning_scale": float(family_params.pop("conditioning_scale", 1.0)),
            "canny_low": int(family_params.pop("canny_low", 100)),
            "canny_high": int(family_params.pop("canny_high", 200)),
        }
        if not 0 <= params["canny_low"] <= params["canny_high"]:
            raise ValueError(f"{self.name}: need 0 <= canny_low <= canny_high, got {params['canny_low']}, "
                             f"{params['canny_high']}")
        super()._family_defaults(family_params)
        return params

    def _load(self) -> Any:
        from diffusers import ControlNetModel, StableDiffusionControlNetInpaintPipeline

        controlnet = load_pretrained(ControlNetModel, self.params["controlnet"], f"{self.name} controlnet",
                                     dtype=self.torch_dtype)
        return self._load_pipeline(StableDiffusionControlNetInpaintPipeline, self.params["model"],
                                   controlnet=controlnet, safety_checker=None, requires_safety_checker=False)

    def _call_kwargs(self, images, masks, size) -> dict[str, Any]:
        low, high = self.params["canny_low"], self.params["canny_high"]
        return {
            "control_image": [canny_control_image(image, low, high) for image in images],
            "controlnet_conditioning_scale": self.params["conditioning_scale"],
        }
