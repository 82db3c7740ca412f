"""Turn an uploaded file into pixels safely, or refuse it with a message a person can act on.

Every upload goes through the generator's decoder (``inpaintbench.builder.image_io``): the pixel budget is checked
from the header before any pixel is decoded (a decompression bomb costs nothing), and ``normalize_image`` does what
it does to every photo of the benchmark: EXIF orientation, colour profile to sRGB, 16-bit scaled (not clipped) to 8
bits, alpha composited over white, palette and CMYK expanded. A plain ``convert("RGB")`` gets 16-bit PNGs wrong: it
clips every value above 255, so a mid-grey 16-bit photo becomes all white.

Big uploads are downscaled to ``max_side`` *before* that normalisation, in their own mode, so memory stays bounded:
a JPEG is decoded straight at 1/2, 1/4 or 1/8 scale (``draft``); any other format is decoded once at full size
(at most ``max_megapixels``, e.g. 40 MP x 4 bytes = 160 MB for RGBA) and shrunk before any float conversion
(a 16-bit image would otherwise cost 8 bytes a pixel, several times over). What was done is returned as notes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from inpaintbench.builder.image_io import ImageLoadError, check_pixel_budget, normalize_image

# EXIF orientations that swap width and height (transpose, rotate 90/270, transverse).
_SWAPS_SIDES = {5, 6, 7, 8}


class UploadError(ValueError):
    """The upload cannot be used; ``str()`` is shown to the person as is."""


@dataclass
class DecodedUpload:
    pixels: np.ndarray  # H x W x 3 uint8 RGB, as a viewer shows the photo, at most max_side on the longer side
    original_size: tuple[int, int]  # (width, height) as a viewer shows it, before any downscaling
    notes: list[str] = field(default_factory=list)  # what was done to the upload, in words, for the person


def decode_upload(
    source: str | Path | bytes | None, max_megapixels: float, name: str | None = None, max_side: int | None = None
) -> DecodedUpload:
    """The upload as 8-bit RGB pixels (first frame of an animation), downscaled to ``max_side`` when larger.

    Refuses, with ``UploadError``, anything that is not a readable image or declares more than ``max_megapixels``.
    """
    if source is None:
        raise UploadError("No image uploaded: drop a PNG, JPEG or WebP file on the upload box first.")
    if name is None:
        name = Path(source).name if not isinstance(source, bytes) else "upload"
    image = _open(io.BytesIO(source) if isinstance(source, bytes) else source, name, max_megapixels)
    declared_size, declared_mode = image.size, image.mode  # before a JPEG draft changes them
    notes = []
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notes.append(f"animated image ({frames} frames): only the first frame was analysed")
    try:
        image.seek(0)
        normalized = normalize_image(_shrink(image, max_side), path=name)
        # a copy: the pixels outlive the file, which is closed below
        pixels = np.array(normalized.image, dtype=np.uint8)
    except ImageLoadError as exc:
        raise UploadError(f"'{name}' is damaged: its pixels could not be decoded ({exc.problem}).") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt pixel data
        raise UploadError(f"'{name}' is damaged: its pixels could not be decoded ({exc}).") from None
    finally:
        image.close()
    original_size = declared_size[::-1] if normalized.exif_orientation in _SWAPS_SIDES else declared_size
    notes.extend(_describe(normalized.record, declared_mode))
    if (pixels.shape[1], pixels.shape[0]) != original_size:
        notes.insert(0, f"downscaled from {original_size[0]}×{original_size[1]} to {pixels.shape[1]}×"
                        f"{pixels.shape[0]} before detection (this Space analyses at most {max_side} pixels on "
                        "the longer side)")
    return DecodedUpload(pixels, original_size, notes)


def _open(stream, name: str, max_megapixels: float) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # PIL warns, then raises, on huge images with its own limits; ours (checked below) is stricter.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except Image.DecompressionBombError:
        raise UploadError(f"'{name}' declares an image far too large to decode (a decompression bomb?).") from None
    except UnidentifiedImageError:
        raise UploadError(f"'{name}' is not an image this Space can read: upload a PNG, JPEG or WebP file.") from None
    except OSError as exc:
        raise UploadError(f"'{name}' could not be opened as an image ({exc}).") from None
    try:
        check_pixel_budget(image, int(max_megapixels * 1_000_000), name)
    except ImageLoadError:
        image.close()
        width, height = image.size
        raise UploadError(
            f"'{name}' is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); this Space accepts "
            f"at most {max_megapixels:g} megapixels. Downscale it and upload again."
        ) from None
    return image


def _shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """``image`` with its longer side at most ``max_side``, still in its own mode (normalize_image converts it)."""
    if max_side is None or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.format == "JPEG":
        image.draft(None, size)  # decode at the smallest 1/2^k scale still at least ``size``: a fraction of the memory
    if image.mode == "P":  # palette indices cannot be interpolated: expand to the colours first
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    if image.size == size:
        return image
    # LANCZOS with an integer box pre-reduction (reducing_gap), as the generator's size cap does; PIL premultiplies
    # alpha for RGBA/LA, so transparent pixels' hidden colours do not bleed in.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _describe(record: dict, declared_mode: str) -> list[str]:
    """The generator's normalisation record in words (plus the mode change a palette image had in ``_shrink``)."""
    notes = []
    if record.get("exif_transposed"):
        notes.append(f"rotated upright per its EXIF orientation ({record['exif_orientation']})")
    icc = record.get("icc_profile")
    if icc:
        notes.append(f"colour profile '{icc.get('description', '?')}': {icc['action']}")
    if declared_mode != "RGB":
        how = record.get("mode_conversion") or ("palette expanded" if declared_mode == "P" else "")
        notes.append(f"converted from PIL mode {declared_mode} to 8-bit RGB" + (f" ({how})" if how else ""))
    return notes
