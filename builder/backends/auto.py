"""Any inpainting checkpoint diffusers knows, through ``AutoPipelineForInpainting``: the way to add a generator
the six named families do not cover (Qwen-Image, Z-Image, FLUX.1-dev's latent-masked inpainting, PAG variants,
or a plain text-to-image SD checkpoint run as "legacy" inpainting by blending masked latents).

A benchmark of forgeries is only as good as its spread of generators, and the newest ones are the out-of-domain
cases detectors miss; this backend lets a config name them without new code. What the named families fix by hand
is read from the loaded pipeline instead:

- ``pipeline_class``: the class AutoPipelineForInpainting chose, recorded in every sample's ``backend_params``;
- size: the checkpoint's native resolution (its denoiser's ``sample_size`` times the VAE's scale factor) as the
  working long side, unless ``working_long_side`` says otherwise; sides multiples of 16 (64 for Kandinsky);
- scheduler: ``default`` keeps the checkpoint's own; a named one must match its kind (flow matching or not);
- ``negative_prompt`` and ``strength`` are passed only if the pipeline's ``__call__`` takes them.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from ..strategies import SizeRule
from .diffusion_common import FLOW_SCHEDULERS, SCHEDULERS, DiffusionBackend
from .registry import register_backend

FALLBACK_NATIVE_SIDE = 1024  # pipelines that say nothing of their size (e.g. Kandinsky's combined pipelines)
# Checkpoints AutoPipelineForInpainting cannot open, or opens as something else, that a named backend runs.
OWN_BACKEND_OF_CLASS = {
    "FluxFillPipeline": "flux_fill",
    "KandinskyV22InpaintPipeline": "kandinsky22_inpaint",
    "KandinskyV22PriorPipeline": "kandinsky22_inpaint",
}


@register_backend("auto_inpaint")
class AutoInpaintBackend(DiffusionBackend):
    family = "auto"
    default_model = ""  # no sensible default: the point is naming a checkpoint
    size_rule = SizeRule(multiple=16, long_side=FALLBACK_NATIVE_SIDE)
    default_scheduler = "default"
    schedulers = ("default", *SCHEDULERS)
    recorded_params = ("pipeline_class",)  # what _load found out, recorded in params; not a constructor argument

    def __init__(self, model: str | None = None, **params: Any) -> None:
        if not model:
            raise ValueError("auto_inpaint: needs model (a Hub id or local path of an inpainting or text-to-image "
                             "checkpoint that diffusers' AutoPipelineForInpainting can open)")
        super().__init__(model=model, **params)

    def _load(self) -> Any:
        from diffusers import AutoPipelineForInpainting

        self._refuse_checkpoints_with_their_own_backend()
        pipeline = self._load_pipeline(AutoPipelineForInpainting, self.params["model"])
        call = inspect.signature(pipeline.__call__).parameters
        self.takes_negative_prompt = "negative_prompt" in call
        self.takes_strength = "strength" in call
        self.size_rule = self._native_size_rule(pipeline)
        self.params["pipeline_class"] = type(pipeline).__name__
        return pipeline

    def _refuse_checkpoints_with_their_own_backend(self) -> None:
        # Only a local folder can be looked at before loading; for a Hub id diffusers' own error says the same.
        index = Path(self.params["model"]).expanduser() / "model_index.json"
        try:
            class_name = json.loads(index.read_text())["_class_name"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        if class_name in OWN_BACKEND_OF_CLASS:
            raise ValueError(f"auto_inpaint: {index} is a {class_name} checkpoint, which AutoPipelineForInpainting "
                             f"cannot run as intended; use the {OWN_BACKEND_OF_CLASS[class_name]} backend")

    @staticmethod
    def _native_size_rule(pipeline: Any) -> SizeRule:
        denoiser = getattr(pipeline, "unet", None) or getattr(pipeline, "transformer", None)
        sample_size = getattr(getattr(denoiser, "config", None), "sample_size", None)
        scale = getattr(pipeline, "vae_scale_factor", None)
        if isinstance(sample_size, (list, tuple)):
            sample_size = max(sample_size)
        native = int(sample_size * scale) if isinstance(sample_size, int) and isinstance(scale, int) else None
        multiple = 64 if "Kandinsky" in type(pipeline).__name__ else 16
        return SizeRule(multiple=multiple, long_side=native or FALLBACK_NATIVE_SIDE)

    def _set_scheduler(self, name: str) -> None:
        if name == "default":
            return  # the checkpoint's own scheduler, as its authors shipped it
        flow_model = type(self.pipeline.scheduler).__name__.startswith("FlowMatch")
        if flow_model != (name in FLOW_SCHEDULERS):
            kind = "a flow-matching" if flow_model else "a denoising (epsilon/v)"
            raise ValueError(f"{self.name}: {self.params['model']} is {kind} model; scheduler {name!r} does not "
                             f"fit it (use default)")
        super()._set_scheduler(name)
