"""Kandinsky 2.2 inpainting: a text-to-image-embedding prior (``kandinsky-community/kandinsky-2-2-prior``) and an
inpainting decoder (``kandinsky-community/kandinsky-2-2-decoder-inpaint``), loaded separately and joined in
diffusers' combined pipeline, so each can be a Hub id or a local path."""

from __future__ import annotations

from typing import Any

from ..models import load_pretrained
from ..strategies import SizeRule
from .diffusion_common import DiffusionBackend
from .registry import InpaintRequest, register_backend


@register_backend("kandinsky22_inpaint")
class Kandinsky22InpaintBackend(DiffusionBackend):
    family = "kandinsky"
    default_model = "kandinsky-community/kandinsky-2-2-decoder-inpaint"
    default_prior = "kandinsky-community/kandinsky-2-2-prior"
    # The decoder rounds latent sizes up to multiples of 64 px: anything else comes back larger than asked.
    size_rule = SizeRule(multiple=64, long_side=768, max_long_side=1024)
    default_guidance = 4.0
    default_scheduler = "DDIM"
    default_strength = None  # the Kandinsky 2.2 inpainting pipeline has no strength

    def _family_defaults(self, family_params: dict[str, Any]) -> dict[str, Any]:
        params = {
            "prior": str(family_params.pop("prior", self.default_prior)),
            "prior_steps": int(family_params.pop("prior_steps", 25)),
            "prior_guidance": float(family_params.pop("prior_guidance", 4.0)),
        }
        super()._family_defaults(family_params)
        return params

    def _load(self) -> Any:
        from diffusers import (
            KandinskyV22InpaintCombinedPipeline,
            KandinskyV22InpaintPipeline,
            KandinskyV22PriorPipeline,
        )

        prior = load_pretrained(KandinskyV22PriorPipeline, self.params["prior"], f"{self.name} prior",
                                dtype=self.torch_dtype)
        decoder = self._load_pipeline(KandinskyV22InpaintPipeline, self.params["model"])
        return KandinskyV22InpaintCombinedPipeline(
            unet=decoder.unet, scheduler=decoder.scheduler, movq=decoder.movq, prior_prior=prior.prior,
            prior_image_encoder=prior.image_encoder, prior_text_encoder=prior.text_encoder,
            prior_tokenizer=prior.tokenizer, prior_scheduler=prior.scheduler,
            prior_image_processor=prior.image_processor,
        )

    def _scheduler_holders(self) -> list[Any]:
        # The combined pipeline calls its inner decoder pipeline, which holds its own reference to the scheduler.
        return [self.pipeline.decoder_pipe, self.pipeline]

    def _call_kwargs(self, images, masks, size) -> dict[str, Any]:
        return {"prior_num_inference_steps": self.params["prior_steps"],
                "prior_guidance_scale": self.params["prior_guidance"]}

    def inpaint_batch(self, requests: list[InpaintRequest]):
        # diffusers' Kandinsky 2.2 inpainting re-imposes only the FIRST image's latents outside the mask
        # (``mask_image[:1] * image[:1]``), so a batch of different photos would leak image 0 into the others.
        results = []
        for request in requests:
            results += super().inpaint_batch([request])
        return results
