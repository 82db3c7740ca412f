"""FLOPs of one full-size inpainting call, counted without running the models: the same backend and pipeline
code, with every model on the meta device.

``meta_backend(family)`` is our real backend class for the family, whose pipeline (benchmarks/fullsize_models.py)
has its weights on the meta device, so FLUX's 12B parameters cost no memory. ``count_call_flops`` then makes the
call our backend makes (``backend.pipeline_kwargs`` for a request, so the same working size, steps, guidance and
strength) under ``torch.utils.flop_counter.FlopCounterMode``: the pipeline's own logic (schedulers, masks, latents)
runs on the CPU as usual, and each model component (text encoders, denoiser, ControlNet, VAE encode/decode, prior,
image encoder) is swapped for a twin that runs the real module on meta copies of its inputs, where the counter
sees every matmul, convolution and attention, and hands back zeros of the output's shape. So the count follows the
pipeline's real control flow: classifier-free guidance doubling the batch, strength 0.99 dropping a step, the
Kandinsky prior's 25 steps, SD3's three text encoders. FLOPs are FlopCounterMode's: 2 per multiply-add, matmul,
convolution and attention only (norms and element-wise ops are not counted; they are a few percent).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Any

import torch
from fullsize_models import FAMILIES, assemble, build_checkpoints

# The components whose one call is one denoising step (the ControlNet runs once per step beside the UNet).
DENOISERS = ("unet", "transformer")
PER_STEP = DENOISERS + ("controlnet",)
# The methods through which pipelines use their models: VAEs are called through encode/decode, and the Kandinsky
# prior un-normalises its output with its own (meta) statistics.
ENTRY_POINTS = ("forward", "encode", "decode", "post_process_latents")


@dataclass
class CallFlops:
    total: float = 0.0
    by_component: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def denoiser_calls(self) -> int:
        return sum(self.calls.get(name, 0) for name in DENOISERS)

    @property
    def per_step(self) -> float:
        """FLOPs of one denoising step (denoiser + ControlNet, classifier-free guidance included)."""
        calls = self.denoiser_calls
        return sum(self.by_component.get(name, 0.0) for name in PER_STEP) / calls if calls else 0.0

    @property
    def fixed(self) -> float:
        """FLOPs that do not grow with the steps: text encoders, prior, VAE encode and decode."""
        return self.total - self.per_step * self.denoiser_calls


def meta_backend(family: str, **params: Any):
    """Our backend for ``family`` (same class, same params handling) around a meta-device pipeline."""
    from inpaintbench.builder.backends.registry import BACKENDS

    spec = FAMILIES[family]
    cls = BACKENDS.get_class(spec.backend)

    def load(self):
        pipeline = assemble(family, build_checkpoints(family, device="meta"))
        pipeline.to = lambda *args, **kwargs: pipeline  # meta weights cannot be copied anywhere; nothing to move
        return pipeline

    twin = type(f"Meta{cls.__name__}", (cls,), {"_load": load})
    # Local paths that are never opened (``_load`` is replaced); extra checkpoints keep their defaults.
    names = {param: f"/meta/{family}/{param}" for param in spec.checkpoints}
    return twin(**{**names, **params, "device": "cpu", "dtype": "fp32"})


def _to_meta(value):
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_meta(v) for k, v in value.items()}
    return value


def _zeros_like_meta(value):
    """A CPU stand-in for a meta output: zeros of the same shape and dtype, in the same container type."""
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

    if isinstance(value, torch.Tensor):
        return torch.zeros(value.shape, dtype=value.dtype) if value.device.type == "meta" else value
    if isinstance(value, DiagonalGaussianDistribution):
        return DiagonalGaussianDistribution(_zeros_like_meta(value.parameters), value.deterministic)
    if isinstance(value, dict):  # diffusers BaseOutput and transformers ModelOutput are ordered dicts
        converted = {k: _zeros_like_meta(v) for k, v in value.items()}
        return type(value)(**converted) if type(value) is not dict else converted
    if isinstance(value, (list, tuple)):
        return type(value)(_zeros_like_meta(v) for v in value)
    if hasattr(value, "latent_dist"):
        return type(value)(latent_dist=_zeros_like_meta(value.latent_dist))
    return value


@contextlib.contextmanager
def _meta_twins(pipeline, counter, flops: CallFlops):
    """Swap each model component's entry points for a meta twin that counts its FLOPs under ``counter``."""
    import diffusers

    patched = []
    for name, module in pipeline.components.items():
        if not isinstance(module, torch.nn.Module):
            continue
        label = "prior" if name == "prior_prior" else name.replace("prior_", "prior ")  # Kandinsky's prior parts
        for method in ENTRY_POINTS:
            original = getattr(module, method, None)
            if original is None:
                continue

            def twin(*args, _original=original, _label=label, _method=method, **kwargs):
                before = counter.get_total_flops()
                output = _original(*_to_meta(args), **_to_meta(kwargs))
                key = _label if _method == "forward" else f"{_label} {_method}"
                flops.by_component[key] = flops.by_component.get(key, 0.0) + counter.get_total_flops() - before
                flops.calls[key] = flops.calls.get(key, 0) + 1
                return _zeros_like_meta(output)

            setattr(module, method, functools.wraps(original)(twin))
            patched.append((module, method))
    # The pipeline finds its device from its weights: meta. Its own tensors (latents, masks, timesteps) must stay
    # on the CPU, where schedulers can index them; only the twins see meta tensors.
    cpu = property(lambda self: torch.device("cpu"))
    with contextlib.ExitStack() as stack:
        from unittest import mock

        stack.enter_context(mock.patch.object(diffusers.DiffusionPipeline, "_execution_device", cpu))
        stack.enter_context(mock.patch.object(diffusers.DiffusionPipeline, "device", cpu))
        try:
            yield
        finally:
            for module, method in patched:
                delattr(module, method)


def count_call_flops(backend, request, steps: int) -> CallFlops:
    """FLOPs of the bare pipeline call our backend makes for ``request`` with ``steps`` denoising steps."""
    from torch.utils.flop_counter import FlopCounterMode

    backend.params["steps"] = int(steps)  # what pipeline_kwargs reads
    kwargs = backend.pipeline_kwargs([request], backend.working_size(*request.image.size))
    kwargs["generator"] = [torch.Generator("cpu").manual_seed(int(request.seed))]
    kwargs["output_type"] = "np"
    flops = CallFlops()
    counter = FlopCounterMode(display=False)
    with counter, _meta_twins(backend.pipeline, counter, flops), torch.inference_mode():
        backend.pipeline(**kwargs)
    flops.total = float(counter.get_total_flops())
    return flops
