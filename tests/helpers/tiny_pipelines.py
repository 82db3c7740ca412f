"""Tiny random-weight inpainting pipelines, one per diffusion family, built from configs (no download).

They follow diffusers' own tests (``get_dummy_components`` in tests/pipelines/*/test_*inpaint*.py): same model
classes as the real checkpoints, a few thousand parameters each. A test fixture, kept out of the wheel: tests and
benchmarks/diffusion.py save them with ``save_pretrained`` and load them back through the real backends by local
path, so every code path that a real checkpoint takes (from_pretrained, scheduler swap, pipeline call) runs here
too. ``poisoned_copy`` saves one again with NaN weights.

Tokenizers are built in memory: a byte-level CLIP BPE without merges and a small T5 unigram vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

FAMILIES = ("sd", "sdxl", "sd3", "kandinsky", "flux", "controlnet")


def _byte_unicode_chars() -> list[str]:
    # GPT-2/CLIP's byte-to-unicode table: every byte maps to one printable character, so any text tokenizes.
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    visible += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for byte in range(256):
        if byte in visible:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def clip_tokenizer(model_max_length: int = 77):
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _byte_unicode_chars():
        for piece in (ch, ch + "</w>"):
            vocab.setdefault(piece, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def t5_tokenizer(model_max_length: int = 32):
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(chr(c), -3.0) for c in range(ord("a"), ord("z") + 1)]
    pieces += [("▁" + chr(c), -2.5) for c in range(ord("a"), ord("z") + 1)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)


def _clip_text_config(**overrides):
    from transformers import CLIPTextConfig

    kwargs = dict(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=1000, hidden_act="gelu", projection_dim=32,
    )
    kwargs.update(overrides)
    return CLIPTextConfig(**kwargs)


def _tiny_t5_encoder():
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(
        T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4, decoder_start_token_id=0,
                 pad_token_id=0, eos_token_id=1, is_encoder_decoder=False)
    )


def _sd_unet(in_channels: int = 9):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=in_channels, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=16,
    )


def _sd_vae(latent_channels: int = 4):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, norm_num_groups=16,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=latent_channels, sample_size=32,
        layers_per_block=1,
    )


def build_sd():
    from diffusers import PNDMScheduler, StableDiffusionInpaintPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    return StableDiffusionInpaintPipeline(
        unet=_sd_unet(), scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), vae=_sd_vae(),
        text_encoder=CLIPTextModel(_clip_text_config()), tokenizer=clip_tokenizer(), safety_checker=None,
        feature_extractor=None, image_encoder=None, requires_safety_checker=False,
    )


def build_sdxl():
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=16,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear",
        timestep_spacing="leading",
    )
    return StableDiffusionXLInpaintPipeline(
        unet=unet, scheduler=scheduler, vae=_sd_vae(), text_encoder=CLIPTextModel(_clip_text_config()),
        tokenizer=clip_tokenizer(), text_encoder_2=CLIPTextModelWithProjection(_clip_text_config()),
        tokenizer_2=clip_tokenizer(), image_encoder=None, feature_extractor=None, requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
    )


def _flow_vae(latent_channels: int):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
        latent_channels=latent_channels, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
        shift_factor=0.0609, scaling_factor=1.5035,
    )


def build_sd3():
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3InpaintPipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=32, patch_size=1, in_channels=16, num_layers=1, attention_head_dim=8, num_attention_heads=4,
        caption_projection_dim=32, joint_attention_dim=32, pooled_projection_dim=64, out_channels=16,
    )
    return StableDiffusion3InpaintPipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(), vae=_flow_vae(16),
        text_encoder=CLIPTextModelWithProjection(_clip_text_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config()), tokenizer_2=clip_tokenizer(),
        text_encoder_3=_tiny_t5_encoder(), tokenizer_3=t5_tokenizer(),
    )


def build_flux():
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxFillPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    # Fill's transformer sees packed noisy latents (2*4), packed masked-image latents (2*4) and the packed mask (4).
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=20, out_channels=8, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8],
    )
    return FluxFillPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=_flow_vae(2),
        text_encoder=CLIPTextModel(_clip_text_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=_tiny_t5_encoder(), tokenizer_2=t5_tokenizer(), transformer=transformer,
    )


def build_controlnet():
    """An SD inpainting pipeline and a canny ControlNet, returned separately (they ship as two checkpoints)."""
    from diffusers import ControlNetModel

    base = build_sd()
    torch.manual_seed(0)
    controlnet = ControlNetModel(
        block_out_channels=(32, 64), layers_per_block=1, in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=32,
        conditioning_embedding_out_channels=(16, 32), norm_num_groups=16,
    )
    return base, controlnet


def build_kandinsky():
    """The Kandinsky 2.2 prior and inpainting decoder, returned separately (they ship as two checkpoints)."""
    from diffusers import (
        DDPMScheduler,
        KandinskyV22InpaintPipeline,
        KandinskyV22PriorPipeline,
        PriorTransformer,
        UnCLIPScheduler,
        UNet2DConditionModel,
        VQModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextModelWithProjection,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    embed_dim = 32
    torch.manual_seed(0)
    prior = PriorTransformer(
        num_attention_heads=2, attention_head_dim=12, embedding_dim=embed_dim, num_layers=1,
    )
    # The prior's learned stats start at zero; random ones make the tiny pipeline's output depend on the prompt.
    prior.clip_std = torch.nn.Parameter(torch.ones(1, embed_dim))
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(hidden_size=embed_dim, image_size=32, projection_dim=embed_dim, intermediate_size=37,
                         num_attention_heads=4, num_channels=3, num_hidden_layers=2, patch_size=16)
    )
    image_processor = CLIPImageProcessor(
        crop_size=32, do_center_crop=True, do_normalize=True, do_resize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
        resample=3, size=32,
    )
    prior_scheduler = UnCLIPScheduler(
        variance_type="fixed_small_log", prediction_type="sample", num_train_timesteps=1000, clip_sample=True,
        clip_sample_range=10.0,
    )
    prior_pipe = KandinskyV22PriorPipeline(
        prior=prior, image_encoder=image_encoder,
        text_encoder=CLIPTextModelWithProjection(_clip_text_config(projection_dim=embed_dim)),
        tokenizer=clip_tokenizer(), scheduler=prior_scheduler, image_processor=image_processor,
    )
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        in_channels=9,
        out_channels=8,
        addition_embed_type="image",
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=(32, 64),
        layers_per_block=1,
        encoder_hid_dim=embed_dim,
        encoder_hid_dim_type="image_proj",
        cross_attention_dim=64,
        attention_head_dim=4,
        resnet_time_scale_shift="scale_shift",
        class_embed_type=None,
        norm_num_groups=16,
    )
    movq = VQModel(
        block_out_channels=[32, 64], down_block_types=["DownEncoderBlock2D", "AttnDownEncoderBlock2D"],
        in_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8, norm_type="spatial",
        num_vq_embeddings=12, out_channels=3, up_block_types=["AttnUpDecoderBlock2D", "UpDecoderBlock2D"],
        vq_embed_dim=4,
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
        steps_offset=1, prediction_type="epsilon", thresholding=False,
    )
    decoder = KandinskyV22InpaintPipeline(unet=unet, scheduler=scheduler, movq=movq)
    return prior_pipe, decoder


def build_ldm_upscaler():
    """A 2x latent-diffusion super-resolution pipeline (the real one is 4x; the code path is the same)."""
    from diffusers import DDIMScheduler, LDMSuperResolutionPipeline, UNet2DModel, VQModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=6, out_channels=3,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=16,
    )
    vqvae = VQModel(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=3, layers_per_block=1,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], norm_num_groups=16,
    )
    return LDMSuperResolutionPipeline(vqvae=vqvae, unet=unet, scheduler=DDIMScheduler())


def save_tiny(family: str, directory: str | Path) -> dict[str, str]:
    """Build the tiny pipeline(s) of ``family`` and save them under ``directory``.

    Returns the backend params that point at them (``model``, plus ``controlnet`` or ``prior`` where the family
    ships as two checkpoints), ready for ``create_backend``.
    """
    directory = Path(directory)
    if family == "controlnet":
        base, controlnet = build_controlnet()
        base.save_pretrained(directory / "base")
        controlnet.save_pretrained(directory / "controlnet")
        return {"model": str(directory / "base"), "controlnet": str(directory / "controlnet")}
    if family == "kandinsky":
        prior_pipe, decoder = build_kandinsky()
        prior_pipe.save_pretrained(directory / "prior")
        decoder.save_pretrained(directory / "decoder")
        return {"model": str(directory / "decoder"), "prior": str(directory / "prior")}
    builders: dict[str, Callable] = {"sd": build_sd, "sdxl": build_sdxl, "sd3": build_sd3, "flux": build_flux,
                                     "ldm_sr": build_ldm_upscaler}
    if family not in builders:
        raise ValueError(f"unknown tiny pipeline family {family!r}; known: {', '.join(FAMILIES)}")
    builders[family]().save_pretrained(directory)
    return {"model": str(directory)}


def poisoned_copy(family_params: dict, directory) -> dict:
    """The tiny SD pipeline saved again with NaN in its VAE decoder's last bias: real NaN arithmetic all the way
    out of the pipeline, as an fp16 overflow on a GPU gives."""
    from diffusers import StableDiffusionInpaintPipeline

    pipeline = StableDiffusionInpaintPipeline.from_pretrained(family_params["model"], safety_checker=None,
                                                              requires_safety_checker=False)
    with torch.no_grad():
        pipeline.vae.decoder.conv_out.bias.fill_(float("nan"))
    pipeline.save_pretrained(directory)
    return {"model": str(directory)}


def main(argv: list[str] | None = None) -> int:
    """Save every tiny family under DIR, for CPU smoke runs of the generator with diffusion backends.

    ``python -m tests.helpers.tiny_pipelines DIR`` from the repository root (configs/tiny_cpu_mix.yaml points at
    runs/tiny_models, the default)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="runs/tiny_models")
    args = parser.parse_args(argv)
    for family in FAMILIES + ("ldm_sr",):
        print(family, json.dumps(save_tiny(family, Path(args.directory) / family)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
