"""Photo reading and normalisation: every bad or unusual input kind, built inside the test."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.image_io import (
    EXIF_ORIENTATION_TRANSPOSE,
    ImageLoadError,
    load_image,
    load_image_with_record,
    transpose_like_exif,
)


def gradient_rgb(width: int = 64, height: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 90)], -1).astype(np.uint8)


def save_with_orientation(path, array: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, quality=95, exif=exif.tobytes())


def png_header_only(path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height``: the pixel budget must refuse it before decoding anything."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageLoadError, match="nope.jpg: file not found"):
        load_image(path)


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_image(tmp_path)


def test_unreadable_bytes(tmp_path):
    path = tmp_path / "garbage.jpg"
    path.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageLoadError, match=r"garbage\.jpg: not a recognised image format"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_reported_as_truncated(tmp_path, fmt):
    rng = np.random.default_rng(0)
    path = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert "truncated" in info.value.problem


def test_rgb_passes_unchanged_with_empty_record(tmp_path):
    array = gradient_rgb()
    path = tmp_path / "plain.png"
    Image.fromarray(array).save(path)
    result = load_image_with_record(path)
    np.testing.assert_array_equal(np.asarray(result.image), array)
    assert result.record == {}
    assert load_image(path).info["normalisation"] == {}


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = gradient_rgb()[..., 0]
    path = tmp_path / "gray.png"
    Image.fromarray(gray, "L").save(path)
    result = load_image_with_record(path)
    out = np.asarray(result.image)
    assert result.image.mode == "RGB" and out.shape == (48, 64, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)
    assert result.record["mode_converted"] == "L->RGB"


def test_cmyk_jpeg_converts_to_the_right_colours(tmp_path):
    path = tmp_path / "cmyk.jpg"
    cmyk = np.zeros((32, 64, 4), np.uint8)
    cmyk[:, :32, 0] = 255  # left half pure cyan
    cmyk[:, 32:, 3] = 255  # right half pure black
    Image.fromarray(cmyk, "CMYK").save(path, quality=100)
    assert Image.open(path).mode == "CMYK"
    result = load_image_with_record(path)
    out = np.asarray(result.image).astype(int)
    assert result.record["mode_converted"] == "CMYK->RGB"
    np.testing.assert_allclose(out[8:24, 4:28].mean((0, 1)), [0, 255, 255], atol=6)
    np.testing.assert_allclose(out[8:24, 36:60].mean((0, 1)), [0, 0, 0], atol=6)


def test_16bit_gray_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], np.uint16).repeat(4, 0)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    result = load_image_with_record(path)
    out = np.asarray(result.image)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    assert "scaled" in result.record["mode_conversion"]


def test_16bit_rgb_png_is_scaled_not_clipped(tmp_path):
    # PIL cannot write 16-bit RGB; OpenCV can (it writes channels as BGR).
    rgb16 = np.zeros((4, 4, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 32896, 2570
    path = tmp_path / "deep_rgb.png"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])
    out = np.asarray(load_image(path)).astype(int)
    np.testing.assert_allclose(out[0, 0], [255, 128, 10], atol=1)


def test_float_tiff_in_unit_range_is_scaled(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F").save(path)
    result = load_image_with_record(path)
    np.testing.assert_array_equal(np.asarray(result.image)[0, :, 0], [0, 128, 255])


@pytest.mark.parametrize("mode", ["P", "P-transparent", "RGBA", "LA"])
def test_palette_and_alpha_modes(tmp_path, mode):
    path = tmp_path / "alpha.png"
    base = Image.fromarray(gradient_rgb())
    if mode == "P":
        image = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode == "P-transparent":
        image = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        image.info["transparency"] = int(np.asarray(image)[0, 0])
    elif mode == "RGBA":
        array = np.dstack([gradient_rgb(), np.full((48, 64), 255, np.uint8)])
        array[:, :10, :3], array[:, :10, 3] = (10, 200, 30), 0  # transparent strip storing a loud green
        image = Image.fromarray(array, "RGBA")
    else:
        array = np.dstack([np.full((48, 64), 40, np.uint8), np.full((48, 64), 255, np.uint8)])
        array[:, :10, 1] = 0
        image = Image.fromarray(array, "LA")
    image.save(path)
    result = load_image_with_record(path)
    out = np.asarray(result.image)
    assert result.image.mode == "RGB" and out.shape == (48, 64, 3)
    assert result.record["mode_converted"].endswith("->RGB")
    if mode == "P":
        np.testing.assert_array_equal(out, np.asarray(image.convert("RGB")))
    if mode in ("RGBA", "LA"):
        # Fully transparent pixels show as white, not as the colour they happen to store.
        assert (out[:, :10] == 255).all()
        assert result.record["mode_conversion"] == "alpha composited over white"
    if mode == "LA":
        assert (out[:, 10:] == 40).all()


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_is_applied_and_recorded(tmp_path, orientation):
    array = gradient_rgb(64, 48)
    array[:8, :8] = (255, 0, 0)  # marker in the stored top-left corner
    path = tmp_path / "phone.jpg"
    save_with_orientation(path, array, orientation)
    result = load_image_with_record(path)
    expected = Image.fromarray(array)
    if orientation != 1:
        expected = expected.transpose(EXIF_ORIENTATION_TRANSPOSE[orientation])
    assert result.image.size == expected.size
    assert result.raw_size == (64, 48)
    # JPEG is lossy: compare the marker location, which any wrong transpose moves to another corner.
    marker = np.asarray(transpose_like_exif(np.pad(np.ones((8, 8), bool), ((0, 40), (0, 56))), orientation))
    red = np.asarray(result.image)[..., 0].astype(int) - np.asarray(result.image)[..., 2]
    assert red[marker].mean() > 120 and red[~marker].mean() < 60
    if orientation == 1:
        assert "exif_transposed" not in result.record
    else:
        assert result.record["exif_transposed"] is True and result.record["exif_orientation"] == orientation
    if orientation in (5, 6, 7, 8):
        assert result.image.size == (48, 64)


def test_transpose_like_exif_matches_pil_exif_transpose_exactly():
    rng = np.random.default_rng(1)
    mask = rng.random((5, 7)) > 0.5
    from PIL import ImageOps

    for orientation, method in EXIF_ORIENTATION_TRANSPOSE.items():
        image = Image.fromarray(mask.astype(np.uint8) * 255)
        exif = image.getexif()
        exif[0x0112] = orientation
        image.info["exif"] = exif.tobytes()
        expected = np.asarray(ImageOps.exif_transpose(image)) > 0
        np.testing.assert_array_equal(transpose_like_exif(mask, orientation), expected, err_msg=str(method))


def test_image_over_the_pixel_budget_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    png_header_only(path, 30000, 30000)  # 900 MP: above PIL's own hard limit too
    with pytest.raises(ImageLoadError, match=r"bomb\.png: image is 30000x30000 .* over the pixel budget"):
        load_image(path)
    small = tmp_path / "small.png"
    Image.fromarray(gradient_rgb()).save(small)
    with pytest.raises(ImageLoadError, match="over the pixel budget of 1,000"):
        load_image(small, max_pixels=1000)
    assert load_image(small, max_pixels=64 * 48).size == (64, 48)
    # PIL's global guard is restored after our header read.
    assert Image.MAX_IMAGE_PIXELS is not None


def test_budget_above_pils_limit_is_honoured(tmp_path):
    path = tmp_path / "big_header.png"
    png_header_only(path, 14000, 13000)  # 182 MP: just over PIL's hard limit (2 x 89.5 MP)
    # Allowed by the budget, so we get past the header; the (empty) pixel data then fails as truncated/corrupt,
    # which proves PIL's own guard did not refuse it first.
    with pytest.raises(ImageLoadError) as info:
        load_image(path, max_pixels=10**9)
    assert "pixel budget" not in info.value.problem and "PIL's pixel limit" not in info.value.problem


def test_max_side_downscales_keeping_aspect(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(gradient_rgb(200, 50)).save(path)
    result = load_image_with_record(path, max_side=100)
    assert result.image.size == (100, 25)
    assert result.record["scale"] == pytest.approx(0.5)
    assert result.record["resized_from"] == [200, 50]
    assert load_image(path, max_side=400).size == (200, 50)  # never upscaled


def test_loading_is_deterministic(tmp_path):
    path = tmp_path / "again.jpg"
    save_with_orientation(path, gradient_rgb(90, 70), 6)
    first, second = load_image(path, max_side=50), load_image(path, max_side=50)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty\.png: empty file"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "GIF"])
def test_any_cut_or_corrupted_byte_gives_a_photo_or_a_named_load_error(tmp_path, fmt):
    """Fuzz: whatever the damage, the caller sees an RGB image or an ImageLoadError naming the file, nothing else."""
    rng = np.random.default_rng(3)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(buffer, fmt)
    data = buffer.getvalue()
    path = tmp_path / f"fuzz.{fmt.lower()}"
    damaged = [data[:cut] for cut in np.linspace(1, len(data) - 1, 25).astype(int)]
    for _ in range(10):
        corrupt = bytearray(data)
        for index in rng.integers(8, len(data), 4):
            corrupt[index] = int(rng.integers(0, 256))
        damaged.append(bytes(corrupt))
    errors = 0
    for blob in damaged:
        path.write_bytes(blob)
        try:
            assert load_image(path).mode == "RGB"
        except ImageLoadError as error:
            assert error.path == str(path) and error.problem
            errors += 1
    assert errors >= 20  # most cuts must be caught, not decoded into half-grey photos


# ---- colour profiles: converted to sRGB, then dropped (a pristine PNG must not carry what no inpainted one has) --


def _adobe_rgb() -> bytes:
    """A real Adobe RGB (1998) profile, from a real camera JPEG (scikit-image's rocket photo)."""
    from inpaintbench.builder.embedded import photo_path

    return Image.open(photo_path("skimage/rocket")).info["icc_profile"]


def _to_srgb_reference(image: Image.Image, profile: bytes) -> np.ndarray:
    from PIL import ImageCms

    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    out = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                    renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode=image.mode)
    return np.asarray(out)


def test_an_adobe_rgb_camera_photo_is_converted_to_srgb_and_untagged():
    from inpaintbench.builder.embedded import photo_path

    path = photo_path("skimage/rocket")
    with Image.open(path) as raw:
        raw.load()
        raw_pixels, profile = np.asarray(raw), raw.info["icc_profile"]
        reference = _to_srgb_reference(raw, profile)
    result = load_image_with_record(path)
    assert result.record["icc_profile"] == {
        "description": "Adobe RGB (1998)", "color_space": "RGB",
        "action": "converted to sRGB (perceptual intent), profile dropped",
    }
    assert "icc_profile" not in result.image.info
    np.testing.assert_array_equal(np.asarray(result.image), reference)
    # Without the conversion (the pixels stored as they were, shown as sRGB) the colours are visibly off.
    off = np.abs(raw_pixels.astype(int) - reference.astype(int))
    assert off.mean() > 2 and off.max() > 30


def test_an_srgb_tagged_photo_keeps_its_pixels_and_loses_its_tag():
    from inpaintbench.builder.embedded import photo_path
    from inpaintbench.builder.image_io import normalize_image

    with Image.open(photo_path("skimage/astronaut")) as raw:
        raw.load()
        result = normalize_image(raw)
        assert "icc_profile" in raw.info  # the caller's image is not changed
    assert result.record["icc_profile"]["description"] == "sRGB IEC61966-2.1"
    assert result.record["icc_profile"]["action"] == "already sRGB: pixels unchanged, profile dropped"
    np.testing.assert_array_equal(np.asarray(result.image), np.asarray(raw))
    assert "icc_profile" not in result.image.info


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_a_tagged_png_of_any_rgb_mode_is_converted(tmp_path, mode):
    profile = _adobe_rgb()
    array = gradient_rgb()
    rgb = Image.fromarray(array)
    image = {"RGB": rgb, "RGBA": rgb.convert("RGBA"), "P": rgb.quantize(64)}[mode]
    path = tmp_path / f"tagged-{mode}.png"
    image.save(path, icc_profile=profile)
    result = load_image_with_record(path)
    assert result.record["icc_profile"]["action"].startswith("converted to sRGB")
    assert "icc_profile" not in result.image.info
    expected = _to_srgb_reference(image.convert("RGB"), profile)
    np.testing.assert_array_equal(np.asarray(result.image), expected)


def test_a_profile_that_cannot_be_used_is_dropped_and_said(tmp_path):
    broken = tmp_path / "broken-profile.png"
    Image.fromarray(gradient_rgb()).save(broken, icc_profile=b"not an icc profile" * 10)
    result = load_image_with_record(broken)
    assert result.record["icc_profile"]["action"].startswith("dropped unconverted: unreadable profile")
    np.testing.assert_array_equal(np.asarray(result.image), gradient_rgb())
    gray = tmp_path / "gray-with-rgb-profile.png"
    Image.fromarray(gradient_rgb()[..., 0], "L").save(gray, icc_profile=_adobe_rgb())
    result = load_image_with_record(gray)
    assert "only RGB profiles on RGB images are converted (image mode L)" in result.record["icc_profile"]["action"]
    assert "icc_profile" not in result.image.info and result.record["mode_converted"] == "L->RGB"
