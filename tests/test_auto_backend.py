"""auto_inpaint: any checkpoint AutoPipelineForInpainting opens, on tiny random-weight pipelines saved to disk and
loaded back by path (the class it picks, the native size it reads, the scheduler kind it checks), and through the
real generator into shards."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inpaintbench.builder.backends import create_backend
from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, load_shards, write_coco_set
from tests.helpers.inpaint_requests import box_mask, photo, request
from tests.helpers.tiny_pipelines import _clip_text_config, _sd_unet, _sd_vae, clip_tokenizer, save_tiny

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("auto")
    return {family: save_tiny(family, root / family)["model"] for family in ("sd", "sd3", "flux")}


def save_text_to_image_sd(directory) -> str:
    """A plain text-to-image SD checkpoint (4-channel UNet, never trained to inpaint)."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    StableDiffusionPipeline(
        unet=_sd_unet(in_channels=4), scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), vae=_sd_vae(),
        text_encoder=CLIPTextModel(_clip_text_config()), tokenizer=clip_tokenizer(), safety_checker=None,
        feature_extractor=None, image_encoder=None, requires_safety_checker=False,
    ).save_pretrained(directory)
    return str(directory)


def test_picks_the_checkpoints_pipeline_and_its_native_size(saved):
    backend = create_backend("auto_inpaint", model=saved["sd"], steps=2)
    assert backend.params["pipeline_class"] == "StableDiffusionInpaintPipeline"
    # Tiny UNet: sample_size 16 latents x VAE scale 2 = 32 px native, the way SD 1.5 gives 64 x 8 = 512.
    assert backend.size_rule.long_side == 32 and backend.working_size(640, 320) == (32, 16)
    result = backend.inpaint(request(seed=3))
    assert result.image.size == (64, 48) and result.extra["family"] == "auto"
    outside = np.asarray(box_mask()) == 0
    assert (np.asarray(result.image)[outside] == np.asarray(photo())[outside]).all()
    assert not (np.asarray(result.image) == np.asarray(photo())).all()
    assert json.loads(json.dumps(backend.describe()))["pipeline_class"] == "StableDiffusionInpaintPipeline"


def test_a_text_to_image_checkpoint_inpaints_by_blending_latents(tmp_path):
    backend = create_backend("auto_inpaint", model=save_text_to_image_sd(tmp_path / "t2i"), steps=2,
                             working_long_side=64)
    assert backend.params["pipeline_class"] == "StableDiffusionInpaintPipeline"
    assert backend.pipeline.unet.config.in_channels == 4
    first, again = backend.inpaint(request(seed=5)), backend.inpaint(request(seed=5))
    assert (np.asarray(first.image) == np.asarray(again.image)).all()  # seeded
    assert first.extra["working_size"] == [64, 48]


def test_flow_checkpoint_keeps_its_scheduler_and_refuses_a_denoising_one(saved):
    backend = create_backend("auto_inpaint", model=saved["sd3"], steps=2, working_long_side=64)
    assert backend.params["pipeline_class"] == "StableDiffusion3InpaintPipeline"
    assert type(backend.pipeline.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"
    assert backend.inpaint(request()).image.size == (64, 48)
    with pytest.raises(ValueError, match="flow-matching model; scheduler 'DDIM' does not fit"):
        create_backend("auto_inpaint", model=saved["sd3"], scheduler="DDIM")


def test_clear_errors_for_no_model_a_missing_one_and_a_fill_checkpoint(saved, tmp_path):
    from inpaintbench.builder.models import ModelNotFound

    with pytest.raises(ValueError, match="auto_inpaint: needs model"):
        create_backend("auto_inpaint")
    with pytest.raises(ModelNotFound, match="does-not-exist"):
        create_backend("auto_inpaint", model=str(tmp_path / "does-not-exist"))
    with pytest.raises(ValueError, match="FluxFillPipeline checkpoint.*use the flux_fill backend"):
        create_backend("auto_inpaint", model=saved["flux"])


def test_auto_inpaint_through_the_generator_records_the_pipeline(saved, tmp_path):
    images_dir, annotations = write_coco_set(tmp_path / "coco", num_images=1, bad_inputs=False)
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images_dir, annotations)],
        "out_dir": str(tmp_path / "out"),
        "backends": [{"name": "auto_inpaint", "params": {"model": saved["sd"], "steps": 2}}],
        **SMALL_PHOTO_CONFIG,
    })
    inpainted = load_shards(run_generation(config, progress=False).out_dir, tmp_path / "cache").filter(
        lambda row: row["label"] == 1)
    assert len(inpainted) >= 1
    for row in inpainted:
        assert json.loads(row["backend_params"])["pipeline_class"] == "StableDiffusionInpaintPipeline"
        assert row["backend"] == "auto_inpaint" and row["strategy"] == "paste_back"


def test_shares_weights_with_a_named_backend_on_the_same_checkpoint(saved):
    named = create_backend("sd_inpaint", model=saved["sd"], steps=2)
    auto = create_backend("auto_inpaint", model=saved["sd"], steps=2, scheduler="DDIM")
    assert auto.pipeline.unet is named.pipeline.unet  # one copy of the weights on the device
    assert type(auto.pipeline.scheduler).__name__ == "DDIMScheduler"
    assert type(named.pipeline.scheduler).__name__ == "UniPCMultistepScheduler"
