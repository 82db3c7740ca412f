"""Full-size inpainting pipelines with random weights, built from the published configs in configs/architectures.

Each family of configs/gpu_mix.yaml is rebuilt at its published size (SD 1.5 UNet 859.5M parameters, FLUX.1 Fill
transformer 11.9B, ...) from the component configs kept in the repo, with random weights: nothing comes from the
Hub. Compute and memory depend only on the architecture and the input sizes, not on the weights' values, so these
pipelines time exactly what the real checkpoints would (benchmarks/fullsize.py).

    from fullsize_models import materialize          # with benchmarks/ on sys.path
    params = materialize("sd", "/tmp/fullsize-weights/sd-a", seed=1)
    backend = create_backend("sd_inpaint", **params)   # loads it by local path, like a real checkpoint

Tokenizers are the small in-memory ones of tests/helpers/tiny_pipelines.py (the real CLIP BPE vocabulary is
~1.5 MB and T5's a sentencepiece model): token ids do not change compute, since every prompt is padded to the
family's fixed length (77 CLIP tokens, 256/512 T5 tokens). The safety checker and its feature extractor are left
out: our backends never load them (a safety checker blacks out images, see builder/backends/sd.py).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
CONFIG_ROOT = REPO / "configs" / "architectures"

# Components the builder never builds (see the module docstring).
SKIPPED_COMPONENTS = ("safety_checker", "feature_extractor")


@dataclass(frozen=True)
class Family:
    backend: str  # builder backend name
    checkpoints: dict[str, str]  # backend param ("model", "controlnet", "prior") -> folder under CONFIG_ROOT
    pipeline: str  # the diffusers class our backend calls
    label: str


FAMILIES: dict[str, Family] = {
    "sd": Family("sd_inpaint", {"model": "sd"}, "StableDiffusionInpaintPipeline", "SD 1.5 inpainting"),
    "sd2": Family("sd_inpaint", {"model": "sd2"}, "StableDiffusionInpaintPipeline", "SD 2 inpainting"),
    "sdxl": Family("sdxl_inpaint", {"model": "sdxl"}, "StableDiffusionXLInpaintPipeline", "SDXL inpainting 0.1"),
    "sd3": Family("sd3_inpaint", {"model": "sd3"}, "StableDiffusion3InpaintPipeline", "SD3 medium"),
    "kandinsky": Family("kandinsky22_inpaint", {"model": "kandinsky/decoder", "prior": "kandinsky/prior"},
                        "KandinskyV22InpaintCombinedPipeline", "Kandinsky 2.2 inpaint + prior"),
    "flux": Family("flux_fill", {"model": "flux"}, "FluxFillPipeline", "FLUX.1 Fill dev"),
    "controlnet": Family("controlnet_inpaint", {"model": "sd", "controlnet": "controlnet"},
                         "StableDiffusionControlNetInpaintPipeline", "ControlNet canny + SD 1.5 inpainting"),
}


def _family(family: str) -> Family:
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing architecture config (configs/architectures/README.md)") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from None


# ---- random weights, fast --------------------------------------------------------------------------------------

def _is_norm(module: torch.nn.Module) -> bool:
    # GroupNorm, LayerNorm, RMSNorm, T5LayerNorm, SpatialNorm's inner GroupNorm...: scale 1, shift 0 keeps the
    # activations' scale, as the trained ones roughly do.
    return "norm" in type(module).__name__.lower()


def fill_random(model: torch.nn.Module, dtype: torch.dtype, device: str | torch.device, seed: int) -> None:
    """Give every parameter of ``model`` (built on the meta device) real storage on ``device`` and cheap random
    values: N(0, 1/fan_in) for matrices and kernels, so each layer keeps its input's scale and the outputs stay
    finite in half precision; norms 1, biases 0. ~1 s per 100M parameters on 2 cores, against minutes for the
    default initialisers (kaiming/trunc-normal with Python-level loops) of a 3B-parameter model."""
    from accelerate.utils import set_module_tensor_to_device

    # Values are drawn on the target device (a GPU fills 12B parameters in seconds); a tied parameter (T5's
    # shared embedding) gets one value.
    generator = torch.Generator(device=device).manual_seed(int(seed))
    done: dict[int, torch.Tensor] = {}
    for module_name, module in model.named_modules():
        for name, param in list(module.named_parameters(recurse=False)):
            full = f"{module_name}.{name}" if module_name else name
            if param.device.type != "meta":
                continue
            if id(param) in done:
                value = done[id(param)]
            elif param.dim() >= 2:
                fan_in = param[0].numel()
                value = torch.empty(param.shape, dtype=torch.float32, device=device).normal_(
                    0.0, 1.0 / math.sqrt(fan_in), generator=generator).to(dtype)
            elif _is_norm(module) and name == "weight":
                value = torch.ones(param.shape, dtype=dtype, device=device)
            elif name == "weight":
                value = torch.empty(param.shape, dtype=torch.float32, device=device).normal_(
                    1.0, 0.02, generator=generator).to(dtype)
            else:
                value = torch.zeros(param.shape, dtype=dtype, device=device)
            done[id(param)] = value
            set_module_tensor_to_device(model, full, device, value=value, dtype=dtype)
    model.to(device)  # buffers were built for real on the CPU


def _build_model(folder: Path, library: str, class_name: str, dtype: torch.dtype, device: str, seed: int):
    """One model component from its config.json: on the meta device (no memory) or filled with random weights."""
    import accelerate

    meta = str(device) == "meta"
    with accelerate.init_empty_weights(include_buffers=meta):
        if library == "transformers":
            import transformers

            config = transformers.AutoConfig.from_pretrained(folder)
            # transformers builds in the config's recorded torch_dtype (float16 for these checkpoints): float32
            # shapes on meta, the asked dtype otherwise.
            model = getattr(transformers, class_name)(config).to(torch.float32 if meta else dtype)
        else:
            import diffusers

            cls = getattr(diffusers, class_name)
            model = cls.from_config(cls.load_config(folder))
    if hasattr(model, "tie_weights"):
        model.tie_weights()  # T5: encoder.embed_tokens *is* shared; count and fill it once
    model.eval().requires_grad_(False)
    if meta:
        return model  # float32 shapes: FLOP counts and parameter counts do not depend on the dtype
    fill_random(model, dtype, device, seed)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    return model


def _tokenizer(class_name: str):
    # The tiny tokenizers live with the test fixtures (tests/helpers/, not in the wheel): importable from the
    # repository root, which a benchmark run from benchmarks/ lacks on sys.path (appended: an installed
    # inpaintbench still wins over the checkout's folder of the same name).
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))
    from tests.helpers.tiny_pipelines import clip_tokenizer, t5_tokenizer

    return t5_tokenizer(512) if "T5" in class_name else clip_tokenizer(77)


def build_checkpoint(folder: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu", seed: int = 0):
    """The diffusers object a folder of configs describes: a pipeline (model_index.json) or a single model
    (config.json, e.g. a ControlNet), full size, random weights (or on ``device="meta"``: shapes only)."""
    import diffusers
    import transformers

    folder = Path(folder)
    if not (folder / "model_index.json").exists():
        config = _read_json(folder / "config.json")
        return _build_model(folder, "diffusers", config["_class_name"], dtype, device, seed)
    index = _read_json(folder / "model_index.json")
    components: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for offset, (name, entry) in enumerate(sorted(index.items())):
        if name.startswith("_"):
            continue
        if not isinstance(entry, list):
            extra[name] = entry  # pipeline options (force_zeros_for_empty_prompt, requires_aesthetics_score, ...)
            continue
        library, class_name = entry
        if library is None or name in SKIPPED_COMPONENTS:
            components[name] = None
        elif name.startswith("tokenizer"):
            components[name] = _tokenizer(class_name)
        elif name == "scheduler" or name.endswith("_scheduler"):
            components[name] = getattr(diffusers, class_name).from_config(
                _read_json(folder / name / "scheduler_config.json"))
        elif name.endswith("processor"):
            components[name] = transformers.CLIPImageProcessor.from_pretrained(folder / name)
        else:
            # Each component its own seed: different components never share values, and a seed changes all.
            components[name] = _build_model(folder / name, library, class_name, dtype, device, seed * 1000 + offset)
    if "safety_checker" in components:
        extra["requires_safety_checker"] = False
    return getattr(diffusers, index["_class_name"])(**components, **extra)


def build_checkpoints(family: str, dtype: torch.dtype = torch.float32, device: str = "cpu",
                      seed: int = 0) -> dict[str, Any]:
    """The checkpoint(s) of ``family`` as separately saved objects, keyed by the backend param naming them."""
    spec = _family(family)
    return {param: build_checkpoint(CONFIG_ROOT / folder, dtype, device, seed * 10 + i)
            for i, (param, folder) in enumerate(spec.checkpoints.items())}


def assemble(family: str, checkpoints: dict[str, Any]):
    """The pipeline object our backend calls, from the family's checkpoints (the same assembly as its ``_load``)."""
    import diffusers

    spec = _family(family)
    main = checkpoints["model"]
    cls = getattr(diffusers, spec.pipeline)
    if family == "kandinsky":
        prior = checkpoints["prior"]
        return cls(unet=main.unet, scheduler=main.scheduler, movq=main.movq, prior_prior=prior.prior,
                   prior_image_encoder=prior.image_encoder, prior_text_encoder=prior.text_encoder,
                   prior_tokenizer=prior.tokenizer, prior_scheduler=prior.scheduler,
                   prior_image_processor=prior.image_processor)
    components = dict(main.components)
    if family == "controlnet":
        components["controlnet"] = checkpoints["controlnet"]
    for optional in ("image_encoder", "feature_extractor", "safety_checker"):
        if optional in cls._optional_components or optional in components:
            components.setdefault(optional, None)
    if "requires_safety_checker" in main.config:
        components["requires_safety_checker"] = False
    return cls(**{k: v for k, v in components.items() if k in _init_names(cls)})


def _init_names(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def build_pipeline(family: str, dtype: torch.dtype = torch.float32, device: str = "cpu", seed: int = 0):
    """The full-size pipeline of ``family`` as our backend calls it, random weights on ``device`` (``"meta"``:
    shapes only, no memory: what FLOP counting and parameter counts use)."""
    return assemble(family, build_checkpoints(family, dtype, device, seed))


def materialize(family: str, folder: str | Path, dtype: torch.dtype = torch.float32, seed: int = 0,
                device: str = "cpu") -> dict[str, str]:
    """Build ``family`` at full size with random weights (``seed``: different seeds, different weights) and save
    it under ``folder`` with ``save_pretrained`` (safetensors). Returns the backend params that point at it
    (``model``, plus ``controlnet``/``prior`` where the family ships as two checkpoints), ready for
    ``create_backend(FAMILIES[family].backend, **params)``. Needs the weights' size in free memory (fp32: SD 1.5
    ~4.3 GB, SDXL ~14 GB) and on disk; ``device="cuda"`` fills them on a GPU."""
    folder = Path(folder)
    params = {}
    for param, checkpoint in build_checkpoints(family, dtype, device, seed).items():
        target = folder / param
        checkpoint.save_pretrained(target, safe_serialization=True)
        params[param] = str(target)
        del checkpoint
    return params


def parameter_counts(family: str) -> dict[str, int]:
    """Parameters per component (``checkpoint/component``), counted on the meta device (no memory)."""
    counts: dict[str, int] = {}
    for param, checkpoint in build_checkpoints(family, device="meta").items():
        modules = checkpoint.components if hasattr(checkpoint, "components") else {"": checkpoint}
        for name, module in modules.items():
            if isinstance(module, torch.nn.Module):
                counts[f"{param}/{name}".rstrip("/")] = sum(p.numel() for p in module.parameters())
    return counts
