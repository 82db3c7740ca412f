"""The full-size architecture configs (configs/architectures) build their real model classes, at the published
sizes, and the random-weight filler and meta-device FLOP counter of benchmarks/fullsize_*.py do what they claim.

Parameter counts are checked on the meta device (no memory). Where a count is known to the parameter it is checked
exactly; where only a rounded figure is published it is checked to that rounding. Sources:
- SD 1.5 UNet 859,520,964 (text-to-image; `UNet2DConditionModel` of stable-diffusion-v1-5, widely quoted, and the
  "860M UNet" of its model card); the inpainting UNet's 5 extra input channels add 5 x 320 x 3 x 3 weights.
- SDXL base UNet 2,567,463,684 ("2.6B" in the SDXL report, arXiv 2307.01952), text encoders CLIP ViT-L 123.06M
  and OpenCLIP ViT-bigG 694.66M ("817M" together in the report); inpainting 0.1 adds 5 x 320 x 3 x 3 like SD 1.5.
- SD VAE 83,653,863; SD 2 UNet "865M" (stability's SD 2 release notes).
- SD3 medium MMDiT 2,028,328,000 ("2B", stability's SD3 medium card); T5 v1.1 XXL encoder 4,762,310,656 ("4.7B",
  SD3 paper arXiv 2403.03206).
- FLUX.1 [dev] transformer 11,901,408,320 ("12 billion parameter", Black Forest Labs' card); Fill's x_embedder
  takes 384 instead of 64 input channels: + 320 x 3072.
- Kandinsky 2.2 (ai-forever/Kandinsky-2 README and the kandinsky-community cards): prior "1B", image encoder
  CLIP ViT-bigG/14 "1.8B", UNet "1.22B", MoVQ "67M". The 1.22B is Kandinsky 2.1's UNet (text_image conditioning,
  1.2287B with these block sizes); 2.2 conditions on a 1280-d image embedding projected to 10 tokens, +31M: 1.253B.
- ControlNet v1.1 SD 1.5: 361,279,120 (its safetensors file is 1.445 GB in fp32).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import fullsize_models  # noqa: E402

INPAINT_EXTRA = 5 * 320 * 3 * 3  # conv_in weights of the 5 extra input channels (masked image latents + mask)

EXACT = {
    ("sd", "model/unet"): 859_520_964 + INPAINT_EXTRA,
    ("sd", "model/vae"): 83_653_863,
    ("sd", "model/text_encoder"): 123_060_480,
    ("sdxl", "model/unet"): 2_567_463_684 + INPAINT_EXTRA,
    ("sdxl", "model/text_encoder_2"): 694_659_840,
    ("sd3", "model/transformer"): 2_028_328_000,
    ("sd3", "model/text_encoder_3"): 4_762_310_656,
    ("flux", "model/transformer"): 11_901_408_320 + 320 * 3072,
    ("flux", "model/text_encoder_2"): 4_762_310_656,
    ("controlnet", "controlnet"): 361_279_120,
}
# (family, component): (published rounded figure, relative tolerance = its rounding)
ROUNDED = {
    ("sd", "model/unet"): (860e6, 0.005),
    ("sd2", "model/unet"): (865e6, 0.005),
    ("sdxl", "model/unet"): (2.6e9, 0.02),
    ("sd3", "model/transformer"): (2.0e9, 0.025),
    ("flux", "model/transformer"): (12e9, 0.01),
    ("kandinsky", "prior/prior"): (1.0e9, 0.05),
    ("kandinsky", "prior/image_encoder"): (1.8e9, 0.05),
    ("kandinsky", "model/unet"): (1.22e9, 0.03),
    ("kandinsky", "model/movq"): (67e6, 0.02),
}


@pytest.fixture(scope="module")
def counts():
    return {family: fullsize_models.parameter_counts(family) for family in fullsize_models.FAMILIES}


def test_every_family_builds_its_published_classes(counts):
    expected = {
        "sd": {"model/unet", "model/vae", "model/text_encoder"},
        "sd2": {"model/unet", "model/vae", "model/text_encoder"},
        "sdxl": {"model/unet", "model/vae", "model/text_encoder", "model/text_encoder_2"},
        "sd3": {"model/transformer", "model/vae", "model/text_encoder", "model/text_encoder_2",
                "model/text_encoder_3"},
        "flux": {"model/transformer", "model/vae", "model/text_encoder", "model/text_encoder_2"},
        "kandinsky": {"model/unet", "model/movq", "prior/prior", "prior/image_encoder", "prior/text_encoder"},
        "controlnet": {"model/unet", "model/vae", "model/text_encoder", "controlnet"},
    }
    assert {family: set(c) for family, c in counts.items()} == expected
    pipeline = fullsize_models.build_pipeline("kandinsky", device="meta")
    assert type(pipeline).__name__ == "KandinskyV22InpaintCombinedPipeline"
    assert pipeline.unet.config.in_channels == 9  # the inpainting decoder, not the text-to-image one


@pytest.mark.parametrize(("key", "exact"), sorted(EXACT.items()))
def test_exact_published_parameter_counts(counts, key, exact):
    family, component = key
    assert counts[family][component] == exact


@pytest.mark.parametrize(("key", "published"), sorted(ROUNDED.items()))
def test_rounded_published_parameter_counts(counts, key, published):
    family, component = key
    figure, tolerance = published
    assert counts[family][component] == pytest.approx(figure, rel=tolerance)


def test_inpainting_unets_take_masked_image_and_mask():
    sd = fullsize_models.build_pipeline("sd", device="meta")
    assert (sd.unet.config.in_channels, sd.unet.config.out_channels) == (9, 4)
    flux = fullsize_models.build_pipeline("flux", device="meta")
    assert flux.transformer.config.in_channels == 384  # 64 noisy + 64 masked-image + 256 packed mask


def test_fill_random_seeds_differ_and_stay_finite():
    from diffusers import AutoencoderKL

    def build(seed: int) -> AutoencoderKL:
        import accelerate

        with accelerate.init_empty_weights():
            vae = AutoencoderKL(block_out_channels=(32, 64), norm_num_groups=16, latent_channels=4,
                                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
        fullsize_models.fill_random(vae, torch.float32, "cpu", seed)
        return vae

    a, b, a_again = build(1), build(2), build(1)
    weight = "encoder.conv_in.weight"
    assert not torch.equal(a.state_dict()[weight], b.state_dict()[weight])
    assert all(torch.equal(v, a_again.state_dict()[k]) for k, v in a.state_dict().items())
    assert all(p.device.type == "cpu" for p in a.parameters())
    assert torch.equal(a.encoder.conv_norm_out.weight, torch.ones(64))  # norms start neutral
    with torch.no_grad():
        out = a(torch.randn(1, 3, 32, 32)).sample
    assert torch.isfinite(out).all() and 0.1 < out.std() < 100  # each layer keeps its input's scale


def test_meta_flop_count_follows_the_pipeline_control_flow():
    from diffusion import make_request
    from fullsize_flops import count_call_flops, meta_backend

    sd = count_call_flops(meta_backend("sd"), make_request(640, 480, seed=1), steps=2)
    assert sd.calls == {"text_encoder": 2, "vae encode": 1, "unet": 2, "vae decode": 1}
    assert sd.per_step * sd.denoiser_calls + sd.fixed == pytest.approx(sd.total)
    # The UNet at 512x384, batch 2 (classifier-free guidance): ~0.58 TFLOP per image, the usual ~0.77 TFLOP at
    # 512x512 scaled by the area (2 FLOPs per multiply-add).
    assert sd.per_step == pytest.approx(2 * 0.58e12, rel=0.05)


@pytest.mark.slow
def test_meta_flop_count_sees_guidance_and_strength():
    from diffusion import make_request
    from fullsize_flops import count_call_flops, meta_backend

    request = make_request(640, 480, seed=1)
    guided = count_call_flops(meta_backend("sd"), request, steps=1)
    # Without guidance the batch halves, and so do the UNet's FLOPs per step.
    unguided = count_call_flops(meta_backend("sd", guidance=1.0), request, steps=1)
    assert unguided.per_step == pytest.approx(guided.per_step / 2, rel=0.01)
    # SDXL's strength 0.99 (its card) drops one of two steps: one UNet call.
    sdxl = count_call_flops(meta_backend("sdxl", strength=0.99), request, steps=2)
    assert sdxl.denoiser_calls == 1
