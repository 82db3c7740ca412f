"""What every diffusers inpainting backend shares: loading, device/dtype, schedulers, seeding, sizes, batching,
the out-of-memory fallback and the paste-back/full-regeneration strategies.

A family module (sd.py, sdxl.py, ...) subclasses ``DiffusionBackend`` and supplies only what differs: its
default model, its ``SizeRule``, how to load its pipeline and which keyword arguments its ``__call__`` takes.
The backend object loads its pipeline once, in ``__init__`` (so a missing model fails before any work starts),
and reuses it for every sample of the process.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any

import numpy as np
import torch
from PIL import Image

from .. import strategies
from ..models import load_pretrained
from ..strategies import SizeRule
from .registry import InpaintBackend, InpaintRequest, InpaintResult

logger = logging.getLogger(__name__)

# Scheduler names accepted in configs -> diffusers classes. Denoising (epsilon/v) families take the first four;
# flow-matching families (SD3, FLUX) only their own Euler flow scheduler.
SCHEDULERS = {
    "UniPC": "UniPCMultistepScheduler",
    "DPMSolverMultistep": "DPMSolverMultistepScheduler",
    "Euler": "EulerDiscreteScheduler",
    "DDIM": "DDIMScheduler",
    "FlowMatchEuler": "FlowMatchEulerDiscreteScheduler",
}
DENOISING_SCHEDULERS = ("UniPC", "DPMSolverMultistep", "Euler", "DDIM")
FLOW_SCHEDULERS = ("FlowMatchEuler",)

DTYPES = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
          "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}


def resolve_device(device: str) -> str:
    """``auto``: this process's GPU if there is one (LOCAL_RANK, as set by accelerate/torchrun, picks it when
    several processes share a machine), else the CPU."""
    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for but CUDA is not available here")
    return device


def resolve_dtype(dtype: str, device: str, gpu_default: str) -> torch.dtype:
    """fp32 on CPU (half precision is slow or unsupported there), the family's half type on a GPU."""
    if dtype == "auto":
        dtype = gpu_default if device.startswith("cuda") else "fp32"
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; known: auto, {', '.join(DTYPES)}") from None


def _simulated_oom(limit: int | None, size: tuple[int, int], batch: int) -> None:
    # Emulates a card with ``limit`` pixels of room through the same except-branch a real OOM takes: lets the
    # fallback run (and be tested) on CPU, and lets a config cap sizes on a shared GPU.
    if limit is not None and size[0] * size[1] * batch > limit:
        raise torch.OutOfMemoryError(
            f"simulated out of memory: {batch} x {size[0]}x{size[1]} px exceeds max_pixels={limit}"
        )


class NonFiniteOutput(RuntimeError):
    """The pipeline produced NaN/inf pixels for a sample: it is skipped (and counted) rather than written."""


# Checkpoints loaded in this process, by (model, variant, dtype, device): a mix often names one checkpoint in
# several entries (SD 1.5 with two strategies, and as ControlNet's base); each would otherwise hold its own copy
# of the weights on the GPU. Weak values: a checkpoint is freed once no backend uses it.
_LOADED_PIPELINES: weakref.WeakValueDictionary[tuple, Any] = weakref.WeakValueDictionary()


class DiffusionBackend(InpaintBackend):
    """Base of the diffusers backends. Subclasses set the class attributes and implement ``_load`` and
    ``_call_kwargs``; everything else (sizes, seeding, strategies, batching, OOM fallback) lives here."""

    family: str = ""
    default_model: str = ""
    size_rule: SizeRule = SizeRule(multiple=8, long_side=512)
    default_steps: int = 50
    default_guidance: float = 7.5
    default_scheduler: str = "UniPC"
    gpu_dtype: str = "fp16"
    schedulers: tuple[str, ...] = DENOISING_SCHEDULERS
    takes_negative_prompt: bool = True
    # ``strength`` param's default, recorded and passed to the pipeline; None: the family has no strength. Below 1
    # the pipeline keeps part of the old object under the mask: a forgery benchmark wants it replaced.
    default_strength: float | None = 1.0

    def __init__(
        self,
        model: str | None = None,
        variant: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        scheduler: str | None = None,
        strategy: str = "paste_back",
        feather: float = 0.0,
        blend: str = "alpha",
        upscale: str = "lanczos",
        upscale_model: str | None = None,
        upscale_steps: int | None = 20,  # None (as recorded for lanczos): the default
        dtype: str = "auto",
        device: str = "auto",
        working_long_side: int | None = None,
        max_pixels: int | None = None,
        oom_min_long_side: int = 256,
        **family_params: Any,
    ) -> None:
        if strategy not in (*strategies.STRATEGY_CHOICES, strategies.BOTH_STRATEGIES):
            raise ValueError(f"{self.name}: unknown strategy {strategy!r}; known: "
                             f"{', '.join(strategies.STRATEGY_CHOICES)}, {strategies.BOTH_STRATEGIES}")
        from .upscalers import DEFAULT_LDM_SR_MODEL, UPSCALERS, create_upscaler  # here: upscalers imports this module

        if upscale not in UPSCALERS:
            raise ValueError(f"{self.name}: unknown upscale {upscale!r}; known: {', '.join(UPSCALERS)}")
        scheduler = scheduler or self.default_scheduler
        upscale_steps = 20 if upscale_steps is None else upscale_steps
        if scheduler not in self.schedulers:
            raise ValueError(f"{self.name}: scheduler {scheduler!r} does not fit this model family; "
                             f"known: {', '.join(self.schedulers)}")
        if blend not in strategies.BLEND_CHOICES:
            raise ValueError(f"{self.name}: unknown blend {blend!r}; known: {', '.join(strategies.BLEND_CHOICES)}")
        if float(feather) < 0:
            raise ValueError(f"{self.name}: feather radius must be >= 0, got {feather}")
        self.device = resolve_device(device)
        self.torch_dtype = resolve_dtype(dtype, self.device, self.gpu_dtype)
        strength = self._pop_strength(family_params)
        super().__init__(
            model=model or self.default_model, variant=variant, steps=self._positive_steps(steps),
            guidance=float(self.default_guidance if guidance is None else guidance), scheduler=scheduler,
            strategy=strategy, feather=float(feather), blend=blend, upscale=upscale,
            upscale_model=None if upscale == "lanczos" else (upscale_model or DEFAULT_LDM_SR_MODEL),
            upscale_steps=None if upscale == "lanczos" else int(upscale_steps),
            dtype=str(self.torch_dtype).split(".")[-1],
            # The device type, not its index: which GPU a process got must not change the recorded params.
            device=self.device.split(":")[0], working_long_side=working_long_side, max_pixels=max_pixels,
            oom_min_long_side=int(oom_min_long_side), **strength, **self._family_defaults(family_params),
        )
        self.takes_strength = bool(strength)  # a backend whose pipeline turns out to lack it may say so in _load
        self.pipeline = self._load()
        self._set_scheduler(scheduler)
        self.pipeline.to(self.device)
        # The generator shows one progress bar for the whole run; per-call bars would drown it.
        self.pipeline.set_progress_bar_config(disable=True)
        self.upscaler = create_upscaler(upscale, upscale_model, int(upscale_steps), self.device, self.torch_dtype,
                                        self.name)

    def _pop_strength(self, family_params: dict[str, Any]) -> dict[str, float]:
        if self.default_strength is None:
            return {}
        strength = float(family_params.pop("strength", self.default_strength))
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"{self.name}: strength must be in (0, 1], got {strength}")
        return {"strength": strength}

    def _positive_steps(self, steps: int | None) -> int:
        steps = self.default_steps if steps is None else int(steps)
        if steps < 1:
            raise ValueError(f"{self.name}: steps must be >= 1, got {steps}")
        return steps

    # ---- for subclasses ------------------------------------------------------------------------------------

    def _family_defaults(self, family_params: dict[str, Any]) -> dict[str, Any]:
        """Validate family-specific params and fill their defaults (recorded in ``describe()``)."""
        if family_params:
            raise TypeError(f"{self.name}: unknown parameter(s) {', '.join(sorted(family_params))}")
        return {}

    def _load(self) -> Any:
        raise NotImplementedError

    def _call_kwargs(self, images: list[Image.Image], masks: list[Image.Image], size: tuple[int, int]) -> dict:
        """Family-specific keyword arguments for the pipeline call (beyond prompt, image, mask, size, seed)."""
        return {}

    def _scheduler_holders(self) -> list[Any]:
        return [self.pipeline]

    # ---- shared machinery ----------------------------------------------------------------------------------

    def _load_pipeline(self, cls: Any, name: str, what: str | None = None, **kwargs: Any) -> Any:
        """The main checkpoint as a ``cls`` pipeline, its weights shared with any live backend of this process
        that already loaded them (``from_pipe``: a new pipeline object over the same modules, no new memory)."""
        key = (str(name), self.params["variant"], str(self.torch_dtype), self.device)
        loaded = _LOADED_PIPELINES.get(key)
        if loaded is not None:
            self._shared_root = loaded  # keeps the cache entry alive as long as any backend uses its weights
            return cls.from_pipe(loaded, **kwargs)
        # ``variant`` (e.g. "fp16": half-size weight files) applies to the main checkpoint only: companion repos
        # (ControlNet, prior) often ship without variants.
        if self.params["variant"]:
            kwargs["variant"] = self.params["variant"]
        pipeline = load_pretrained(cls, name, what or self.name, dtype=self.torch_dtype, **kwargs)
        _LOADED_PIPELINES[key] = self._shared_root = pipeline
        return pipeline

    def _set_scheduler(self, name: str) -> None:
        import diffusers

        scheduler_cls = getattr(diffusers, SCHEDULERS[name])
        for holder in self._scheduler_holders():
            # Always a new object: pipelines sharing weights must not share a scheduler's step state.
            holder.scheduler = scheduler_cls.from_config(holder.scheduler.config)

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        return strategies.working_size(width, height, self.size_rule, self.params["working_long_side"])

    def _check(self, request: InpaintRequest) -> None:
        if request.image.size != request.mask.size:
            raise ValueError(f"{self.name}: image {request.image.size} and mask {request.mask.size} differ in size")

    def pipeline_kwargs(self, requests: list[InpaintRequest], size: tuple[int, int]) -> dict[str, Any]:
        """The pipeline call's keyword arguments for same-size ``requests`` at working ``size``, but the seeded
        generators (benchmarks/diffusion.py times the bare call with exactly these)."""
        pairs = [strategies.resize_for_model(r.image, r.mask, size) for r in requests]
        images, masks = [p[0] for p in pairs], [p[1] for p in pairs]
        kwargs = dict(
            prompt=[r.prompt for r in requests], image=images, mask_image=masks, width=size[0], height=size[1],
            num_inference_steps=self.params["steps"], guidance_scale=self.params["guidance"],
        )
        if self.takes_negative_prompt:
            kwargs["negative_prompt"] = [r.negative_prompt for r in requests]
        if self.takes_strength:
            kwargs["strength"] = self.params["strength"]
        kwargs.update(self._call_kwargs(images, masks, size))
        return kwargs

    def _generate(self, requests: list[InpaintRequest], size: tuple[int, int]) -> list[Image.Image]:
        """One pipeline call for same-size requests at working ``size``; one seeded generator per sample."""
        _simulated_oom(self.params["max_pixels"], size, len(requests))
        generator_device = self.device if self.device.startswith("cuda") else "cpu"
        kwargs = self.pipeline_kwargs(requests, size)
        kwargs["generator"] = [torch.Generator(generator_device).manual_seed(int(r.seed)) for r in requests]
        # Float arrays, not PIL: diffusers casts NaN to 0 on the way to uint8, so a half-precision overflow (the
        # classic fp16 VAE failure) would come back as a plausible black image and enter the data as a forgery.
        kwargs["output_type"] = "np"
        with torch.inference_mode():
            arrays = np.asarray(self.pipeline(**kwargs).images)
        outputs = []
        for request, array in zip(requests, arrays, strict=False):
            if not np.isfinite(array).all():
                raise NonFiniteOutput(
                    f"{self.name}: the pipeline returned NaN/inf pixels for seed {request.seed} at {size[0]}x{size[1]} "
                    f"in {self.params['dtype']} (a half-precision overflow? try dtype: fp32, or a VAE made for fp16)"
                )
            # The same rounding as diffusers' numpy_to_pil, so results match the pipeline's own PIL output.
            out = Image.fromarray((array * 255).round().clip(0, 255).astype(np.uint8))
            outputs.append(out if out.size == size else out.resize(size, Image.Resampling.LANCZOS))
        return outputs

    def _generate_with_fallback(self, requests: list[InpaintRequest], size: tuple[int, int]):
        """Generate; on out-of-memory split the batch, then retry at smaller sizes. Returns (outputs, fallback)."""
        try:
            return self._generate(requests, size), None
        except torch.OutOfMemoryError as error:
            reason = str(error).splitlines()[0] if str(error) else "out of memory"
        # Outside the except block: the traceback, and the activations its frames still hold, are released
        # first, so emptying the cache actually returns memory before the retry.
        self._free_memory()
        if len(requests) > 1:
            logger.warning("%s: out of memory on a batch of %d at %s; one by one", self.name, len(requests), size)
            singles = [self._generate_with_fallback([r], size) for r in requests]
            return [outputs[0] for outputs, _ in singles], [fallback for _, fallback in singles]
        smaller = strategies.shrink_size(size, self.size_rule, self.params["oom_min_long_side"])
        if smaller is None:
            raise RuntimeError(
                f"{self.name}: out of memory even at {size[0]}x{size[1]} "
                f"(oom_min_long_side={self.params['oom_min_long_side']}): {reason}"
            )
        logger.warning("%s: out of memory at %s; retrying at %s", self.name, size, smaller)
        outputs, deeper = self._generate_with_fallback(requests, smaller)
        return outputs, deeper or smaller

    def _free_memory(self) -> None:
        import gc

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _model_recipe(self) -> dict[str, Any]:
        from ..recipes import models_of

        scheduler = self._scheduler_holders()[0].scheduler
        return {
            "pipeline_class": type(self.pipeline).__name__,
            "scheduler": {"class": type(scheduler).__name__, "config": scheduler_config(scheduler)},
            "dtype": str(self.torch_dtype).split(".")[-1],
            "device": self.device.split(":")[0],
            "models": models_of(self.params),
        }

    # ---- residency (builder.residency) ----------------------------------------------------------------------

    holds_model = True

    @property
    def on_accelerator(self) -> bool:
        return self.device != "cpu"

    def _device_modules(self) -> list[Any]:
        # The upscaler's pipeline moves with the main one: both are resident, or neither.
        upscaler = getattr(self.upscaler, "pipeline", None)
        return [self.pipeline] + ([upscaler] if upscaler is not None else [])

    def to_accelerator(self) -> None:
        for pipeline in self._device_modules():
            pipeline.to(self.device)

    def offload_to_cpu(self) -> None:
        for pipeline in self._device_modules():
            pipeline.to("cpu")
        self._free_memory()

    def enable_model_cpu_offload(self) -> None:
        # diffusers moves each component to the device only for its forward pass (the text encoder, then the
        # denoiser, then the VAE), so one component at a time is on the card.
        self.pipeline.enable_model_cpu_offload(device=self.device)

    def close(self) -> None:
        self.pipeline = self.upscaler = self._shared_root = None

    def inpaint(self, request: InpaintRequest) -> InpaintResult:
        return self.inpaint_batch([request])[0]

    def inpaint_batch(self, requests: list[InpaintRequest]) -> list[InpaintResult]:
        """Inpaint several requests, one pipeline call per group of same-size images (order kept).

        Each sample keeps its own seeded generator, so its result does not depend on what it was batched with
        beyond floating-point noise of batched kernels.
        """
        for request in requests:
            self._check(request)
        # Photos of different sizes often share a working size (640x480 and 1280x960 both run at 512x384).
        groups: dict[tuple[int, int], list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(self.working_size(*request.image.size), []).append(index)
        results: list[InpaintResult | None] = [None] * len(requests)
        for size, indices in groups.items():
            group = [requests[i] for i in indices]
            outputs, fallback = self._generate_with_fallback(group, size)
            split = isinstance(fallback, list)  # out of memory as a batch: it ran one by one
            fallbacks = fallback if split else [fallback] * len(group)
            for i, request, output, fell_back in zip(indices, group, outputs, fallbacks, strict=False):
                results[i] = self._finish(request, output, size, fell_back, 1 if split else len(group))
                if split:
                    results[i].extra["oom_batch_split"] = len(group)
        return results  # type: ignore[return-value]

    def _finish(self, request, output, size, fallback, batch_size) -> InpaintResult:
        record: dict[str, Any] = {}
        full = output
        if output.size != request.image.size:
            full, how = self.upscaler(output, request.image.size, request.seed)
            record["resize"] = {**how, "from": list(output.size), "to": list(request.image.size)}
        both = self.params["strategy"] == strategies.BOTH_STRATEGIES
        results = []
        # "both": one model output, finished twice; the paste-back sample first, its full regeneration after.
        for strategy in ("paste_back", "full_regeneration") if both else (self.params["strategy"],):
            image, finished = strategies.finish(
                request.image, request.mask, full, strategy, self.params["feather"], blend=self.params["blend"],
            )
            extra: dict[str, Any] = {
                "family": self.family,
                "working_size": list(output.size),
                "scheduler": type(self._scheduler_holders()[0].scheduler).__name__,
                "batch_size": batch_size,
                **record,
                **finished,
            }
            if fallback is not None:
                extra["oom_fallback_size"] = list(fallback)
                extra["planned_working_size"] = list(size)
            results.append(InpaintResult(image=image, strategy=strategy, extra=extra))
        if both:
            results[0].also = results[1]
        return results[0]


def scheduler_config(scheduler) -> dict[str, Any]:
    """A scheduler's config as the recipe stores it: diffusers' own, with ``_use_default_values`` sorted. diffusers
    builds that list from a set, so its order follows the process's string hash seed: unsorted, two processes
    writing the same sample wrote different recipe bytes (found by benchmarks/residency.py, whose two builds run in
    two processes)."""
    config = dict(scheduler.config)
    if isinstance(config.get("_use_default_values"), list):
        config["_use_default_values"] = sorted(config["_use_default_values"])
    return config
