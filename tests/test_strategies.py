"""Working sizes, paste-back/feathered blend and upscaling (builder.strategies): pure image arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder import strategies
from inpaintbench.builder.strategies import SizeRule

SD = SizeRule(multiple=8, long_side=512, max_long_side=1024)
SDXL = SizeRule(multiple=8, area=1024 * 1024, max_long_side=1536)
FLUX = SizeRule(multiple=16, area=1024 * 1024, max_long_side=2048)


def photo(width=96, height=64, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def box_mask(width=96, height=64, box=(20, 10, 60, 50)) -> Image.Image:
    mask = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask, mode="L")


@pytest.mark.parametrize(
    "rule, size, expected",
    [
        (SD, (640, 480), (512, 384)),
        (SD, (300, 200), (512, 344)),  # small photos go up to the family's native size
        (SD, (1000, 333), (512, 168)),
        (SDXL, (640, 480), (1184, 888)),  # ~1 megapixel, 4:3
        (SDXL, (4000, 1000), (1536, 384)),  # the long-side cap beats the area target
        (FLUX, (1000, 700), (1216, 864)),
    ],
)
def test_working_size_keeps_aspect_multiples_and_cap(rule, size, expected):
    got = strategies.working_size(*size, rule)
    assert got == expected
    assert got[0] % rule.multiple == 0 and got[1] % rule.multiple == 0
    assert max(got) <= rule.max_long_side
    assert got[0] / got[1] == pytest.approx(size[0] / size[1], rel=0.05)


def test_working_size_override_and_bad_sizes():
    assert strategies.working_size(64, 48, FLUX, long_side=64) == (64, 48)
    assert strategies.working_size(48, 64, SD, long_side=64) == (48, 64)
    with pytest.raises(ValueError, match="positive"):
        strategies.working_size(0, 10, SD)
    with pytest.raises(ValueError, match="exactly one"):
        SizeRule(multiple=8)


def test_shrink_size_steps_down_and_stops_at_the_floor():
    smaller = strategies.shrink_size((1184, 888), SDXL, min_long_side=256)
    assert smaller is not None and smaller[0] < 1184 and smaller[0] % 8 == 0 and smaller[1] % 8 == 0
    assert strategies.shrink_size((256, 192), SDXL, min_long_side=256) is None


def test_resized_mask_covers_every_original_masked_pixel():
    # A one-pixel-wide line must survive downscaling, or paste-back would expose pixels the model never painted.
    mask = np.zeros((64, 96), np.uint8)
    mask[:, 37] = 255
    _, small = strategies.resize_for_model(photo(), Image.fromarray(mask, mode="L"), (40, 24))
    back = np.asarray(small.resize((96, 64), Image.Resampling.NEAREST)) > 0
    assert back[mask > 0].all()
    assert 0 < (np.asarray(small) > 0).mean() < 0.2


def test_paste_back_is_exact_outside_the_mask_and_generated_inside():
    original, generated, mask = photo(seed=1), photo(seed=2), box_mask()
    out = np.asarray(strategies.paste_back(original, generated, mask))
    inside = np.asarray(mask) > 127
    assert (out[~inside] == np.asarray(original)[~inside]).all()
    assert (out[inside] == np.asarray(generated)[inside]).all()


def test_feathered_blend_ramps_inside_the_mask_only():
    original = Image.new("RGB", (96, 64), (0, 0, 0))
    generated = Image.new("RGB", (96, 64), (200, 200, 200))
    mask = box_mask()
    out = np.asarray(strategies.paste_back(original, generated, mask, feather=6))[..., 0]
    inside = np.asarray(mask) > 127
    assert (out[~inside] == 0).all()  # outside: the original, exactly
    assert out[30, 40] == 200  # deep inside: fully generated
    edge = out[30, 20]  # first masked column: a blend, neither the original nor the generated value
    assert 0 <= edge < 100
    assert out[30, 20] < out[30, 23] < out[30, 29] <= 200  # a monotone ramp towards the centre


def test_feather_wider_than_a_thin_mask_still_edits_it():
    mask = box_mask(box=(40, 10, 43, 50))  # 3 px wide, feather 8: erosion would empty it
    alpha = strategies.feather_alpha(np.asarray(mask) > 127, 8)
    assert alpha.max() == pytest.approx(1.0)
    assert (alpha[np.asarray(mask) == 0] == 0).all()


def test_finish_records_strategy_resize_and_rejects_unknown():
    original, mask = photo(), box_mask()
    generated = photo(48, 32, seed=3)
    full, record = strategies.finish(original, mask, generated, "full_regeneration")
    assert full.size == original.size
    assert record == {"resize": {"method": "lanczos", "from": [48, 32], "to": [96, 64]}}
    pasted, record = strategies.finish(original, mask, generated, "paste_back", feather=2)
    assert record["feather"] == 2.0 and record["blend"] == "alpha" and pasted.size == original.size
    with pytest.raises(ValueError, match="unknown strategy"):
        strategies.finish(original, mask, generated, "blend_everything")
    with pytest.raises(ValueError, match="unknown upscale"):
        strategies.finish(original, mask, generated, "paste_back", upscale_method="bicubic-magic")


def test_upscale_sample_caps_at_2048_and_never_downscales():
    original, mask = photo(), box_mask()
    up, up_mask = strategies.upscale_sample(original, mask, 2048)
    assert up.size == (2048, 1365) and up_mask.size == up.size and up_mask.mode == "L"
    assert set(np.unique(np.asarray(up_mask))) == {0, 255}  # still a binary ground truth
    same, _ = strategies.upscale_sample(original, mask, 50)
    assert same.size == original.size
    with pytest.raises(ValueError, match="2048"):
        strategies.upscale_sample(original, mask, 4096)


def test_poisson_blend_matches_the_fill_to_its_surroundings_and_keeps_outside_exact():
    original = photo(seed=1)
    # The same texture, 40 levels brighter: Poisson keeps its gradients but takes its level from the border.
    brighter = Image.fromarray(np.clip(np.asarray(original).astype(int) + 40, 0, 255).astype(np.uint8))
    for box in [(20, 10, 60, 50), (0, 0, 40, 30)]:  # inside, and touching two borders
        mask = box_mask(box=box)
        inside = np.asarray(mask) > 127
        alpha_out = np.asarray(strategies.paste_back(original, brighter, mask)).astype(int)
        poisson_out = np.asarray(strategies.paste_back(original, brighter, mask, blend="poisson")).astype(int)
        assert (poisson_out[~inside] == np.asarray(original)[~inside]).all()
        orig = np.asarray(original).astype(int)
        assert np.abs(alpha_out[inside] - orig[inside]).mean() > 30
        assert np.abs(poisson_out[inside] - orig[inside]).mean() < 10
    with pytest.raises(ValueError, match="unknown blend"):
        strategies.paste_back(original, brighter, box_mask(), blend="laplacian")


@pytest.mark.parametrize("box", [(30, 20, 70, 50), (0, 0, 25, 64)])
def test_windowed_feathered_paste_back_equals_the_whole_image_computation(box):
    original, generated = photo(seed=5), photo(seed=6)
    mask = box_mask(box=box)
    # Reference: the blend over the whole frame, no window.
    alpha = strategies.feather_alpha(np.asarray(mask) > 127, 6)[..., None]
    reference = np.rint(alpha * np.asarray(generated, np.float32) + (1 - alpha) * np.asarray(original, np.float32))
    reference = np.where(alpha > 0, reference, np.asarray(original)).astype(np.uint8)
    out = np.asarray(strategies.paste_back(original, generated, mask, feather=6))
    assert (out == reference).all()
