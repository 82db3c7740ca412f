"""The diffusers backends, every family, on tiny random-weight pipelines built from configs and loaded back by
local path through the real backend (from_pretrained, scheduler swap, seeded pipeline call, strategies)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from inpaintbench.builder.backends import create_backend
from inpaintbench.builder.backends.diffusion_common import resolve_device, resolve_dtype
from inpaintbench.builder.backends.registry import LAZY_BACKENDS
from inpaintbench.builder.models import ModelNotFound
from tests.helpers.inpaint_requests import box_mask, photo, request
from tests.helpers.tiny_pipelines import poisoned_copy, save_tiny

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py

BACKEND_OF_FAMILY = {
    "sd": "sd_inpaint",
    "sdxl": "sdxl_inpaint",
    "sd3": "sd3_inpaint",
    "kandinsky": "kandinsky22_inpaint",
    "flux": "flux_fill",
    "controlnet": "controlnet_inpaint",
}
# Tiny models work at 64 px; Kandinsky's prior gets 2 steps too.
TINY = {"steps": 2, "working_long_side": 64}
FAMILY_EXTRA = {"kandinsky": {"prior_steps": 2}}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_pipelines")
    return {family: save_tiny(family, root / family) for family in BACKEND_OF_FAMILY}


_backends: dict = {}


def backend_for(tiny_models, family: str, **params):
    """One backend per (family, params) for the module: loaded once and reused, as in the generator."""
    key = (family, tuple(sorted(params.items())))
    if key not in _backends:
        _backends[key] = create_backend(
            BACKEND_OF_FAMILY[family], **tiny_models[family], **TINY, **FAMILY_EXTRA.get(family, {}), **params
        )
    return _backends[key]


@pytest.mark.parametrize("family", list(BACKEND_OF_FAMILY))
def test_every_family_inpaints_by_local_path(tiny_models, family):
    backend = backend_for(tiny_models, family)
    result = backend.inpaint(request(seed=7))
    again = backend.inpaint(request(seed=7))
    other = backend.inpaint(request(seed=8))

    original = np.asarray(photo()).astype(int)
    out, out_again, out_other = (np.asarray(r.image).astype(int) for r in (result, again, other))
    inside = np.asarray(box_mask()) > 127
    assert result.image.size == (64, 48) and result.image.mode == "RGB"
    assert result.strategy == "paste_back"
    assert (out[~inside] == original[~inside]).all()  # paste-back: untouched outside the mask
    assert np.abs(out[inside] - original[inside]).mean() > 5  # and the model did paint inside
    assert (out == out_again).all()  # deterministic for a seed
    assert np.abs(out[inside] - out_other[inside]).mean() > 1  # another seed, another fill
    extra = result.extra
    assert extra["family"] == family and extra["batch_size"] == 1
    assert all(side % backend.size_rule.multiple == 0 for side in extra["working_size"])
    described = backend.describe()
    assert described["backend"] == BACKEND_OF_FAMILY[family]
    assert described["model"] == tiny_models[family]["model"] and described["steps"] == 2
    assert described["device"] == "cpu" and described["dtype"] == "float32"


def test_full_regeneration_reencodes_every_pixel(tiny_models):
    backend = backend_for(tiny_models, "sd", strategy="full_regeneration")
    result = backend.inpaint(request())
    assert result.strategy == "full_regeneration"
    original = np.asarray(photo()).astype(int)
    outside = np.asarray(box_mask()) == 0
    # Random VAE weights: the unmasked area comes back changed, as a real VAE's would (less visibly).
    assert np.abs(np.asarray(result.image).astype(int)[outside] - original[outside]).mean() > 5


def test_feathered_paste_back_keeps_outside_exact_and_records_it(tiny_models):
    result = backend_for(tiny_models, "sd", feather=4.0).inpaint(request())
    outside = np.asarray(box_mask()) == 0
    assert (np.asarray(result.image)[outside] == np.asarray(photo())[outside]).all()
    assert result.extra["feather"] == 4.0 and result.extra["blend"] == "alpha"
    poisson = backend_for(tiny_models, "sd", blend="poisson").inpaint(request())
    assert (np.asarray(poisson.image)[outside] == np.asarray(photo())[outside]).all()
    assert poisson.extra["blend"] == "poisson" and poisson.strategy == "paste_back"


def test_working_size_follows_the_family_and_result_returns_to_original_size(tiny_models):
    # Kandinsky works in multiples of 64: a 64x48 photo runs at 64x64 and comes back at 64x48.
    result = backend_for(tiny_models, "kandinsky").inpaint(request())
    assert result.extra["working_size"] == [64, 64]
    assert result.extra["resize"] == {"method": "lanczos", "from": [64, 64], "to": [64, 48]}
    assert result.image.size == (64, 48)


def test_batch_groups_same_size_requests_and_keeps_order(tiny_models):
    backend = backend_for(tiny_models, "sd")
    small = dict(image=photo(48, 32, seed=5), mask=box_mask(48, 32, (8, 8, 30, 24)))
    # 128x96 works at 64x48 too: it joins the 64x48 photos' batch.
    big = dict(image=photo(128, 96, seed=6), mask=box_mask(128, 96, (30, 20, 90, 70)))
    batch = [request(seed=1), request(seed=2, **small), request(seed=3, prompt="a dog"), request(seed=4, **big)]
    results = backend.inpaint_batch(batch)
    assert [r.image.size for r in results] == [(64, 48), (48, 32), (64, 48), (128, 96)]
    assert [r.extra["batch_size"] for r in results] == [3, 1, 3, 3]
    for req, res in zip(batch, results, strict=True):
        single = np.asarray(backend.inpaint(req).image).astype(int)
        # Each sample has its own seeded generator: batching changes only floating-point noise.
        assert np.abs(np.asarray(res.image).astype(int) - single).max() <= 2


def test_kandinsky_batches_are_run_one_by_one(tiny_models):
    backend = backend_for(tiny_models, "kandinsky")
    batch = [request(seed=1), request(seed=2, image=photo(seed=9))]
    results = backend.inpaint_batch(batch)
    for req, res in zip(batch, results, strict=True):
        assert (np.asarray(res.image) == np.asarray(backend.inpaint(req).image)).all()
        assert res.extra["batch_size"] == 1


def test_out_of_memory_falls_back_to_a_smaller_size_and_records_it(tiny_models):
    # max_pixels makes the pipeline call raise torch.OutOfMemoryError above 32x24 px, like a too-small card.
    backend = backend_for(tiny_models, "sd", max_pixels=32 * 24, oom_min_long_side=16)
    result = backend.inpaint(request())
    assert result.extra["planned_working_size"] == [64, 48]
    fallback = result.extra["oom_fallback_size"]
    assert fallback[0] * fallback[1] <= 32 * 24 and all(side % 8 == 0 for side in fallback)
    assert result.extra["working_size"] == fallback
    assert result.image.size == (64, 48)
    assert (
        np.asarray(result.image)[np.asarray(box_mask()) == 0] == np.asarray(photo())[np.asarray(box_mask()) == 0]
    ).all()
    # A batch that does not fit is split first; each sample then falls back on its own.
    results = backend.inpaint_batch([request(seed=1), request(seed=2)])
    assert [r.extra["oom_fallback_size"] for r in results] == [fallback, fallback]
    assert [(r.extra["batch_size"], r.extra["oom_batch_split"]) for r in results] == [(1, 2), (1, 2)]
    # Fits one at a time, not two: the batch is split but no sample shrinks.
    roomy = backend_for(tiny_models, "sd", max_pixels=64 * 48, oom_min_long_side=16)
    results = roomy.inpaint_batch([request(seed=1), request(seed=2)])
    assert [r.extra.get("oom_fallback_size") for r in results] == [None, None]
    assert [r.extra["working_size"] for r in results] == [[64, 48], [64, 48]]
    assert [r.extra["oom_batch_split"] for r in results] == [2, 2]


def test_out_of_memory_below_the_floor_is_a_clear_error(tiny_models):
    backend = backend_for(tiny_models, "sd", max_pixels=100, oom_min_long_side=48)
    with pytest.raises(RuntimeError, match="out of memory even at"):
        backend.inpaint(request())


@pytest.mark.parametrize(
    "name, cls",
    [
        ("UniPC", "UniPCMultistepScheduler"),
        ("DPMSolverMultistep", "DPMSolverMultistepScheduler"),
        ("Euler", "EulerDiscreteScheduler"),
        ("DDIM", "DDIMScheduler"),
    ],
)
def test_scheduler_by_name(tiny_models, name, cls):
    backend = backend_for(tiny_models, "sd", scheduler=name)
    assert type(backend.pipeline.scheduler).__name__ == cls
    assert backend.inpaint(request()).extra["scheduler"] == cls


def test_flow_models_refuse_denoising_schedulers_and_unknown_params(tiny_models):
    with pytest.raises(ValueError, match="scheduler 'UniPC' does not fit"):
        create_backend("flux_fill", **tiny_models["flux"], scheduler="UniPC")
    with pytest.raises(TypeError, match="unknown parameter.*stepz"):
        create_backend("sd_inpaint", **tiny_models["sd"], stepz=3)
    with pytest.raises(ValueError, match="strength"):
        create_backend("sd_inpaint", **tiny_models["sd"], strength=0)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        create_backend("sd_inpaint", **tiny_models["sd"], steps=0)


def test_missing_weights_name_the_model(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelNotFound, match=f"model path '{missing}' does not exist"):
        create_backend("sd_inpaint", model=str(missing))
    with pytest.raises(ModelNotFound, match="not a complete diffusers"):
        create_backend("sdxl_inpaint", model=str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound, match="'nobody-here/no-such-inpainting-model'.*HF_HUB_OFFLINE"):
        create_backend("sd3_inpaint", model="nobody-here/no-such-inpainting-model")


def test_controlnet_missing_controlnet_is_named(tiny_models, tmp_path):
    with pytest.raises(ModelNotFound, match="controlnet_inpaint controlnet.*nowhere"):
        create_backend("controlnet_inpaint", model=tiny_models["controlnet"]["model"],
                       controlnet=str(tmp_path / "nowhere"))


def test_canny_control_image_from_the_original():
    from inpaintbench.builder.backends.controlnet import canny_control_image

    image = Image.new("RGB", (32, 32), (0, 0, 0))
    image.paste((255, 255, 255), (8, 8, 24, 24))
    edges = np.asarray(canny_control_image(image, 100, 200))
    assert edges.shape == (32, 32, 3) and set(np.unique(edges)) == {0, 255}
    assert edges[16, 8].all() or edges[16, 7].all()  # the square's left edge
    assert not edges[16, 16].any()  # flat inside


def test_device_and_dtype_resolution():
    assert resolve_dtype("auto", "cpu", "fp16") == torch.float32
    assert resolve_dtype("auto", "cuda", "bf16") == torch.bfloat16
    assert resolve_dtype("fp16", "cuda", "bf16") == torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("fp8", "cpu", "fp16")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_registry_imports_diffusers_only_when_a_diffusion_backend_is_asked_for():
    code = (
        "import sys; from inpaintbench.builder.backends import create_backend, registry;"
        "assert 'diffusers' not in sys.modules\n"
        "try: create_backend('no_such_backend')\n"
        "except ValueError as e: assert 'flux_fill' in str(e) and 'opencv_telea' in str(e), e\n"
        "assert 'diffusers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # learned_inpaint is lazy too: it imports torch, which a weight-free run never needs.
    assert set(LAZY_BACKENDS) == set(BACKEND_OF_FAMILY.values()) | {"auto_inpaint", "learned_inpaint"}


def test_every_diffusion_entry_of_the_gpu_mix_config_is_accepted(tiny_models, tmp_path):
    # The example config must stay in step with the backends' parameters: build each entry with its weights
    # swapped for the tiny ones (same parameter names), and check what it would record.
    from pathlib import Path

    from inpaintbench.builder.config import GenerateConfig

    config = GenerateConfig.from_file(Path(__file__).parents[1] / "configs" / "gpu_mix.yaml")
    family_of = {name: family for family, name in BACKEND_OF_FAMILY.items()}
    seen = set()
    for spec in config.backends:
        if spec.name not in family_of:
            continue
        family = family_of[spec.name]
        swapped = {**tiny_models[family], **FAMILY_EXTRA.get(family, {})}
        if "variant" in spec.params:  # the tiny saves have no fp16 weight files
            swapped["variant"] = None
        if spec.params.get("upscale") == "ldm_sr":
            if not (tmp_path / "ldm_sr").exists():
                save_tiny("ldm_sr", tmp_path / "ldm_sr")
            swapped["upscale_model"] = str(tmp_path / "ldm_sr")
        params = {**spec.params, **swapped}
        backend = create_backend(spec.name, **params)
        described = backend.describe()
        for key, value in spec.params.items():
            if key not in swapped:
                assert described[key] == value, (spec.name, key)
        seen.add(spec.name)
    assert seen == set(BACKEND_OF_FAMILY.values())


def test_model_upscaler_brings_the_output_to_the_original_size_and_is_recorded(tiny_models, tmp_path):
    upscaler = save_tiny("ldm_sr", tmp_path / "ldm_sr")["model"]
    backend = create_backend("sd_inpaint", **tiny_models["sd"], **TINY, upscale="ldm_sr", upscale_model=upscaler,
                             upscale_steps=2)
    big = dict(image=photo(128, 96, seed=3), mask=box_mask(128, 96, (30, 20, 90, 70)))
    result = backend.inpaint(request(**big))
    assert result.image.size == (128, 96)
    assert result.extra["working_size"] == [64, 48]
    assert result.extra["resize"] == {"method": "ldm_sr", "model": upscaler, "model_output": [128, 96],
                                      "from": [64, 48], "to": [128, 96]}
    outside = np.asarray(big["mask"]) == 0
    assert (np.asarray(result.image)[outside] == np.asarray(big["image"])[outside]).all()
    assert (np.asarray(result.image) == np.asarray(backend.inpaint(request(**big)).image)).all()
    lanczos = backend_for(tiny_models, "sd").inpaint(request(**big))
    assert lanczos.extra["resize"]["method"] == "lanczos"
    assert not (np.asarray(lanczos.image) == np.asarray(result.image)).all()
    assert backend.describe()["upscale_model"] == upscaler and backend.describe()["upscale_steps"] == 2
    with pytest.raises(ValueError, match="unknown upscale 'esrgan'"):
        create_backend("sd_inpaint", **tiny_models["sd"], upscale="esrgan")
    with pytest.raises(ModelNotFound, match="sd_inpaint upscaler.*does not exist"):
        create_backend("sd_inpaint", **tiny_models["sd"], upscale="ldm_sr", upscale_model=str(tmp_path / "none"))


def test_inpaint_batch_works_on_any_backend_in_order():
    # The registry's default (one inpaint each) lets the generator batch without knowing the backend kind.
    backend = create_backend("opencv_telea")
    batch = [request(seed=1), request(seed=2, image=photo(seed=4))]
    results = backend.inpaint_batch(batch)
    for req, res in zip(batch, results, strict=True):
        assert (np.asarray(res.image) == np.asarray(backend.inpaint(req).image)).all()


def test_weight_variant_is_loaded_and_recorded(tmp_path):
    from tests.helpers.tiny_pipelines import build_sd

    build_sd().save_pretrained(tmp_path / "sd", variant="fp16")
    assert list((tmp_path / "sd" / "unet").glob("*.fp16.safetensors"))
    backend = create_backend("sd_inpaint", model=str(tmp_path / "sd"), variant="fp16", **TINY)
    assert backend.describe()["variant"] == "fp16"
    assert backend.inpaint(request()).image.size == (64, 48)


def test_backends_on_one_checkpoint_share_its_weights_not_their_schedulers(tmp_path):
    from tests.helpers.tiny_pipelines import build_controlnet

    base, controlnet = build_controlnet()
    base.save_pretrained(tmp_path / "base")
    controlnet.save_pretrained(tmp_path / "controlnet")
    model = str(tmp_path / "base")
    paste = create_backend("sd_inpaint", model=model, scheduler="UniPC", **TINY)
    full = create_backend("sd_inpaint", model=model, scheduler="DDIM", strategy="full_regeneration", **TINY)
    canny = create_backend("controlnet_inpaint", model=model, controlnet=str(tmp_path / "controlnet"), **TINY)
    assert paste.pipeline.unet is full.pipeline.unet is canny.pipeline.unet  # one copy of the weights
    assert paste.pipeline.scheduler is not canny.pipeline.scheduler  # same class, separate step state
    assert type(full.pipeline.scheduler).__name__ == "DDIMScheduler"
    assert type(paste.pipeline.scheduler).__name__ == "UniPCMultistepScheduler"
    first = np.asarray(paste.inpaint(request()).image)
    full.inpaint(request())
    canny.inpaint(request())
    # Using the others in between changes nothing for a seed.
    assert (np.asarray(paste.inpaint(request()).image) == first).all()
    del paste
    later = create_backend("sd_inpaint", model=model, **TINY)
    assert later.pipeline.unet is full.pipeline.unet  # the first backend gone, its weights still shared
    del full, canny, later
    import gc

    gc.collect()
    from inpaintbench.builder.backends.diffusion_common import _LOADED_PIPELINES

    assert not any(key[0] == model for key in _LOADED_PIPELINES.keys())  # freed with its last backend


@pytest.mark.parametrize("family", list(BACKEND_OF_FAMILY))
def test_every_family_runs_in_its_gpu_half_precision(tiny_models, family):
    # ``dtype: auto`` picks the family's half type on a GPU (fp16, or bf16 for SD3/FLUX). The CPU runs both, so
    # the half-precision path (weights, latents, masks, control images and prior embeddings all in that dtype)
    # is exercised end to end here; what only a GPU can show is speed and real-checkpoint overflow.
    half = backend_for(tiny_models, family, dtype=type(backend_for(tiny_models, family)).gpu_dtype)
    full = backend_for(tiny_models, family, dtype="fp32")
    assert half.params["dtype"] in ("float16", "bfloat16") and full.params["dtype"] == "float32"
    assert half.pipeline.dtype == half.torch_dtype
    inside = np.asarray(box_mask()) > 0

    def pixels(backend, seed):
        return np.asarray(backend.inpaint(request(seed=seed)).image).astype(int)[inside]

    reference = pixels(full, 7)
    precision_change = np.abs(pixels(half, 7) - reference).mean()
    seed_change = np.abs(pixels(full, 8) - reference).mean()
    # Precision moves pixels by rounding noise; the same seed must still give the same picture.
    assert precision_change < 0.5 * seed_change, (precision_change, seed_change)


def test_nan_pixels_are_an_error_not_a_black_forgery(tiny_models, tmp_path):
    from inpaintbench.builder.backends.diffusion_common import NonFiniteOutput

    backend = create_backend("sd_inpaint", **poisoned_copy(tiny_models["sd"], tmp_path / "nan_sd"), **TINY)
    with pytest.raises(NonFiniteOutput, match=r"NaN/inf pixels for seed 3 at 64x48 in float32"):
        backend.inpaint(request(seed=3))
    with pytest.raises(NonFiniteOutput):
        backend.inpaint_batch([request(seed=1), request(seed=2)])


def test_strength_is_recorded_and_reaches_the_pipeline_call_where_the_family_has_one(tiny_models):
    expected = {"sd": 1.0, "sdxl": 0.99, "sd3": 1.0, "flux": 1.0, "controlnet": 1.0, "kandinsky": None}
    for family, strength in expected.items():
        backend = backend_for(tiny_models, family)
        kwargs = backend.pipeline_kwargs([request()], backend.working_size(64, 48))
        assert backend.params.get("strength") == strength and kwargs.get("strength") == strength, family
    with pytest.raises(TypeError, match="unknown parameter"):  # Kandinsky 2.2 has none to set
        create_backend("kandinsky22_inpaint", **tiny_models["kandinsky"], **TINY, strength=0.5)
