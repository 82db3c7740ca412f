"""The sample PNG encoder (builder/png_encoder.py): lossless for every decoder a user may read a shard with, the
same bytes for the same pixels on any thread, exactly the chunks and filters the shard policy checks."""

from __future__ import annotations

import hashlib
import io
import zlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import datasets
import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder import png_encoder
from inpaintbench.builder.embedded import load_photo
from inpaintbench.builder.shards import encode_png, png_chunks, png_policy_problem

SHAPES = [(1, 1), (1, 1, 3), (7, 13), (7, 13, 3), (64, 1, 3), (1, 200), (97, 131, 3)]


def random_pixels(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def photo_pixels() -> np.ndarray:
    photo = load_photo("skimage/chelsea")  # a real photo: what the encoder mostly sees
    return np.asarray(photo.resize((photo.width // 2, photo.height // 2)))


@pytest.mark.parametrize("shape", SHAPES)
def test_every_decoder_gives_back_the_exact_pixels(shape):
    pixels = random_pixels(shape)
    data = png_encoder.encode(pixels)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.mode == ("L" if len(shape) == 2 else "RGB") and image.format == "PNG"
        assert np.array_equal(np.asarray(image), pixels)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # libpng: another decoder
    expected = pixels.reshape(decoded.shape[:2] + shape[2:])  # OpenCV drops a 1-pixel axis of its own accord
    assert np.array_equal(decoded[..., ::-1] if len(shape) == 3 else decoded, expected)
    from_datasets = datasets.Image().decode_example({"bytes": data, "path": None})  # what load_dataset returns
    assert np.array_equal(np.asarray(from_datasets), pixels)


def test_a_photo_round_trips_and_costs_a_few_percent_more_bytes_than_pils_level_6():
    pixels = photo_pixels()
    data = png_encoder.encode(pixels)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=6)  # the encoder before this one
    assert len(buffer.getvalue()) < len(data) < 1.12 * len(buffer.getvalue())


def test_exactly_ihdr_one_idat_iend_and_every_row_up_filtered():
    pixels = random_pixels((40, 30, 3))
    data = png_encoder.encode(pixels)
    chunks = png_chunks(data)
    assert [c.type for c in chunks] == ["IHDR", "IDAT", "IEND"]
    for chunk in chunks:  # every CRC holds (png_chunks walks lengths only)
        crc = data[chunk.offset + chunk.length : chunk.offset + chunk.length + 4]
        assert zlib.crc32(data[chunk.offset - 4 : chunk.offset + chunk.length]) == int.from_bytes(crc, "big")
    idat = chunks[1]
    lines = np.frombuffer(zlib.decompress(data[idat.offset : idat.offset + idat.length]), np.uint8).reshape(40, 91)
    assert set(lines[:, 0]) == {png_encoder.UP_FILTER}
    assert data[idat.offset + 1] >> 6 == png_encoder.ZLIB_FLEVEL
    assert png_policy_problem(data, "image") == ""


def test_the_bytes_are_a_function_of_the_pixels_on_any_thread():
    images = [random_pixels((50 + k, 40, 3), seed=k) for k in range(16)]
    serial = [png_encoder.encode(p) for p in images]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(png_encoder.encode, images)) == serial
    # A strided view (a crop) encodes as its copy does.
    big = random_pixels((60, 80, 3))
    assert png_encoder.encode(big[5:45, 10:70]) == png_encoder.encode(big[5:45, 10:70].copy())
    # PIL images of the same pixels, with or without metadata, give the same bytes through encode_png.
    tagged = Image.fromarray(images[0])
    tagged.info["icc_profile"] = b"not really a profile"
    assert encode_png(tagged) == serial[0]


def test_the_bytes_are_pinned_to_this_format():
    """A changed digest here means the deflate package (libdeflate) or the encoder now writes other bytes: every
    shard changes, so bump builder.shards.RECORD_VERSION and say so."""
    # Integer arithmetic only, so the input is the same on every platform and numpy version: smooth ramps (long
    # matches) and a hashed texture (literals).
    y, x = np.mgrid[0:120, 0:160].astype(np.int64)
    pixels = np.stack([(x * 3 + y) % 256, (x * y // 40) % 256, (x * 7919 + y * 104729) % 251], axis=-1).astype(np.uint8)
    assert hashlib.sha256(png_encoder.encode(pixels)).hexdigest() == PINNED_SHA256
    assert hashlib.sha256(png_encoder.encode(pixels[..., 1].copy())).hexdigest() == PINNED_GREY_SHA256


PINNED_SHA256 = "ff1eaed4642b075c07134349ebdb92e5f50f365f97ab9f944d79128f39c50e4f"
PINNED_GREY_SHA256 = "2f98db23e46362f884e194a18e4fc4a0926605f5760b2c6e7627edbeb1eb971e"


@pytest.mark.parametrize(
    "pixels, problem",
    [
        (np.zeros((4, 4, 4), np.uint8), r"uint8 H x W or H x W x 3 pixels, got uint8 \(4, 4, 4\)"),
        (np.zeros((4, 4, 3), np.float32), r"got float32 \(4, 4, 3\)"),
        (np.zeros((0, 4), np.uint8), r"got uint8 \(0, 4\)"),
        (np.zeros(4, np.uint8), r"got uint8 \(4,\)"),
    ],
)
def test_what_is_not_8_bit_grey_or_rgb_is_refused(pixels, problem):
    with pytest.raises(ValueError, match=problem):
        png_encoder.encode(pixels)
