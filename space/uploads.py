"""Turn an uploaded file into pixels safely, or refuse it with a message a person can act on.

The size check reads only the header: a decompression bomb (a small file declaring a huge image) is refused
before any pixel is decoded, so one upload cannot exhaust the Space's memory for everybody else.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class UploadError(ValueError):
    """The upload cannot be used; ``str()`` is shown to the person as is."""


def decode_upload(source: str | Path | bytes | None, max_megapixels: float, name: str | None = None) -> np.ndarray:
    """HxWx3 uint8 RGB pixels of an uploaded image (EXIF orientation applied, first frame of an animation)."""
    if source is None:
        raise UploadError("No image uploaded: drop a PNG, JPEG or WebP file on the upload box first.")
    if name is None:
        name = Path(source).name if not isinstance(source, bytes) else "upload"
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    limit = int(max_megapixels * 1_000_000)
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
    width, height = image.size
    if width * height > limit:
        raise UploadError(
            f"'{name}' is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); this Space accepts "
            f"at most {max_megapixels:g} megapixels. Downscale it and upload again."
        )
    try:
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
        raise UploadError(f"'{name}' is damaged: its pixels could not be decoded ({exc}).") from None
