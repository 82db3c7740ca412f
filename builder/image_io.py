"""Reading a photo and normalising it: the one path every source's image goes through.

Normalisation, in this order, each step recorded in ``NormalizedImage.record`` so a sample says what was done:
1. EXIF orientation (``ImageOps.exif_transpose``): detectors and annotators see the photo as a viewer shows it.
   The orientation value is kept so a source can apply the *same* transpose to masks drawn in the raw frame.
2. Colour profile to sRGB (``ImageCms``, perceptual intent), then the profile is dropped. Samples are stored
   without any profile (``builder.shards.encode_png``), and a viewer shows untagged pixels as sRGB: converting
   here keeps an Adobe RGB photo's colours right, and dropping the tag keeps pristine PNGs from carrying an
   ``iCCP`` chunk that no inpainted PNG has (a file-level shortcut a classifier learns). A profile that maps
   every colour to within one level of itself (an sRGB tag) leaves the pixels as they are. Only RGB profiles
   on RGB/RGBA/palette images are converted; any other profile is dropped unconverted and the record says so.
3. Mode to 8-bit RGB. High bit depths are *scaled* to 0..255 (65535 -> 255), never clipped: PIL's own
   ``convert("L")`` from ``I;16`` clips everything above 255 to white. Alpha is composited over white (what a
   viewer shows), because dropping it would expose whatever colour the transparent pixels happen to store.
4. Size cap: downscale so the longer side is at most ``max_side`` (aspect kept, never upscaled).

Size is checked against a pixel budget straight after the header is read and before any pixel is decoded, so
a decompression bomb costs nothing. PIL's own global guard (``Image.MAX_IMAGE_PIXELS``) is lifted for that one
header read so that our configurable budget is the only rule (it would otherwise refuse budgets above ~179 MP
and only *warn* between ~89 and ~179 MP).
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

# PIL's default guard (~89.5 MP, e.g. 10,000 x 8,900): far above any photo we use (RAISE is ~16 MP).
DEFAULT_MAX_PIXELS = int(1024 * 1024 * 1024 // 4 // 3)

# Image.Transpose operation for each EXIF orientation value, exactly as ImageOps.exif_transpose applies it.
EXIF_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112
_SRGB = ImageCms.createProfile("sRGB")
_INTENT = ImageCms.Intent.PERCEPTUAL  # matrix profiles (Adobe RGB, Display P3) fall back to relative colorimetric
_PROBE_LEVELS = np.linspace(0, 255, 17).round().astype(np.uint8)
_PROBE = Image.fromarray(
    np.stack(np.meshgrid(_PROBE_LEVELS, _PROBE_LEVELS, _PROBE_LEVELS, indexing="ij"), -1).reshape(1, -1, 3), "RGB"
)
_PIL_GUARD_LOCK = threading.Lock()


class ImageLoadError(Exception):
    """A photo cannot be used. The message names the file and what is wrong with it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass
class NormalizedImage:
    image: Image.Image  # RGB, 8-bit, oriented, size-capped
    raw_size: tuple[int, int]  # (w, h) of the stored pixels, before EXIF orientation
    oriented_size: tuple[int, int]  # (w, h) after EXIF orientation, before downscaling
    exif_orientation: int  # 1 when none / not applicable
    record: dict[str, Any] = field(default_factory=dict)  # what was applied; JSON-serialisable

    @property
    def scale(self) -> float:
        return self.image.width / self.oriented_size[0]


def open_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open ``path`` lazily (header only) and enforce the pixel budget; pixels are decoded later.

    Raises ``ImageLoadError`` for a missing, unreadable or over-budget file.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(path, "file not found")
    if not path.is_file():
        raise ImageLoadError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)")
    try:
        with _PIL_GUARD_LOCK:
            saved_guard = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # our budget below replaces it (see module docstring)
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = saved_guard
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not a recognised image format (unreadable or corrupt header)") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        kind = "truncated file" if "truncat" in str(error).lower() else "unreadable image header"
        raise ImageLoadError(path, f"{kind} ({error or type(error).__name__})") from None
    try:
        check_pixel_budget(image, max_pixels, path)
    except ImageLoadError:
        image.close()
        raise
    return image


def check_pixel_budget(image: Image.Image, max_pixels: int | None, path: str | Path = "<image>") -> None:
    """``ImageLoadError`` when the image's size is invalid or over ``max_pixels`` (None: no budget)."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageLoadError(path, f"invalid image size {width}x{height}")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageLoadError(
            path,
            f"image is {width}x{height} = {width * height:,} pixels, over the pixel budget of {max_pixels:,} "
            "(possible decompression bomb; raise max_pixels to allow it)",
        )


def normalize_image(
    image: Image.Image, *, max_side: int | None = None, path: str | Path = "<image>"
) -> NormalizedImage:
    """Orientation, sRGB, 8-bit RGB, size cap (see module docstring). ``path`` only names the file in errors."""
    record: dict[str, Any] = {}
    try:
        image.load()  # decode now, so truncation shows up here, attributed to the file
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        text = str(error)
        if "truncated" in text.lower() or isinstance(error, EOFError):
            problem = f"truncated image data ({text or 'unexpected end of file'})"
        else:
            problem = f"corrupt image data ({text})"
        raise ImageLoadError(path, problem) from None
    except Image.DecompressionBombError as error:  # an image object opened elsewhere, under PIL's guard
        raise ImageLoadError(path, f"over PIL's pixel limit ({error})") from None
    raw_size = image.size

    orientation = _exif_orientation(image)
    if orientation in EXIF_ORIENTATION_TRANSPOSE:
        image = ImageOps.exif_transpose(image)
        record["exif_transposed"] = True
        record["exif_orientation"] = orientation
    else:
        orientation = 1
    oriented_size = image.size

    original_mode = image.mode
    image, icc_record = _profile_to_srgb(image)
    if icc_record:
        record["icc_profile"] = icc_record
    image, how = _to_rgb8(image, path)
    if original_mode != "RGB":
        record["mode_converted"] = f"{original_mode}->RGB"
        if how:
            record["mode_conversion"] = how

    if max_side is not None and max(image.size) > max_side:
        scale = max_side / max(image.size)
        new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # reducing_gap: an integer box pre-reduction first, then Lanczos: fast on huge photos, same look.
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        record["scale"] = image.width / oriented_size[0]
        record["resized_from"] = list(oriented_size)
        record["resized_to"] = list(image.size)

    return NormalizedImage(image, raw_size, oriented_size, orientation, record)


def load_image_with_record(
    path: str | Path, *, max_side: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> NormalizedImage:
    image = open_image(path, max_pixels=max_pixels)
    result = None
    try:
        result = normalize_image(image, max_side=max_side, path=path)
        return result
    finally:
        # normalize_image may hand back ``image`` itself (nothing to change): closing that would break it.
        if result is None or result.image is not image:
            image.close()


def load_image(
    path: str | Path, max_side: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """The photo at ``path`` as normalised 8-bit RGB; the record of what was applied is in
    ``.info["normalisation"]``."""
    result = load_image_with_record(path, max_side=max_side, max_pixels=max_pixels)
    result.image.info["normalisation"] = result.record
    return result.image


def transpose_like_exif(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply to a 2-D array (a mask in the raw frame) the same transpose EXIF ``orientation`` applies to the photo."""
    if orientation not in EXIF_ORIENTATION_TRANSPOSE:
        return array
    # Through PIL, so it is the very same operation as on the photo, not a re-derivation that could disagree.
    as_image = Image.fromarray(array.astype(np.uint8) * 255 if array.dtype == bool else array)
    out = np.asarray(as_image.transpose(EXIF_ORIENTATION_TRANSPOSE[orientation]))
    return out > 0 if array.dtype == bool else out


def _exif_orientation(image: Image.Image) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # malformed EXIF blocks warn; we just treat them as no orientation
            value = image.getexif().get(_ORIENTATION_TAG, 1)
        return int(value)
    except Exception:  # noqa: BLE001 - broken EXIF must not make a good photo unusable
        return 1


def _profile_to_srgb(image: Image.Image) -> tuple[Image.Image, dict[str, Any]]:
    """The image's pixels in sRGB with no profile attached, and what was done (empty when it had no profile)."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image, {}
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source).strip()
        space = source.profile.xcolor_space.strip()
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError) as error:
        # What browsers do with a broken profile: show the pixels as sRGB. The photo stays usable.
        return _without_profile(image), {"action": f"dropped unconverted: unreadable profile ({error})"}
    note = {"description": description, "color_space": space}
    if space != "RGB" or image.mode not in ("RGB", "RGBA", "P"):
        return _without_profile(image), {
            **note,
            "action": f"dropped unconverted: only RGB profiles on RGB images are converted (image mode {image.mode})",
        }
    if image.mode == "P":  # the palette's colours are in the profile's space: expand them before converting
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    try:
        if _maps_to_itself(source):
            return _without_profile(image), {**note, "action": "already sRGB: pixels unchanged, profile dropped"}
        transform = ImageCms.buildTransform(source, _SRGB, image.mode, image.mode, renderingIntent=_INTENT)
        converted = ImageCms.applyTransform(image, transform)
    except ImageCms.PyCMSError as error:  # a profile that parses but that LittleCMS cannot transform with
        return _without_profile(image), {**note, "action": f"dropped unconverted: no transform to sRGB ({error})"}
    return _without_profile(converted), {**note, "action": "converted to sRGB (perceptual intent), profile dropped"}


def _maps_to_itself(profile: ImageCms.ImageCmsProfile) -> bool:
    """True when converting to sRGB moves no colour of a 17-level RGB grid by more than one level (an sRGB tag):
    then converting would only add rounding noise to a photo whose colours are already right."""
    converted = ImageCms.profileToProfile(_PROBE, profile, _SRGB, renderingIntent=_INTENT, outputMode="RGB")
    difference = np.abs(np.asarray(converted, np.int16) - np.asarray(_PROBE, np.int16))
    return int(difference.max()) <= 1


def _without_profile(image: Image.Image) -> Image.Image:
    # ImageCms copies the source's info, profile included, into its output: drop it there too. A copy when the
    # image is still the caller's object, whose info is not ours to change.
    if "icc_profile" in image.info:
        image = image.copy()
        del image.info["icc_profile"]
    return image


def _to_rgb8(image: Image.Image, path: str | Path) -> tuple[Image.Image, str]:
    """8-bit RGB plus a short note on how (empty when a plain ``convert`` did it)."""
    mode = image.mode
    if mode == "RGB":
        return image, ""
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.float64)
        if values.min() >= 0 and values.max() <= 65535:
            gray, how = values / 257.0, "16-bit scaled by 255/65535"
        else:  # 32-bit integers outside the 16-bit range: stretch what is there
            gray, how = _stretch(values), "32-bit integer min-max stretched"
        return _gray_to_rgb(gray), how
    if mode == "F":
        values = np.asarray(image).astype(np.float64)
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() >= 0 and finite.max() <= 1:
            gray, how = values * 255.0, "float in [0,1] scaled by 255"
        else:
            gray, how = _stretch(values), "float min-max stretched"
        return _gray_to_rgb(np.nan_to_num(gray)), how
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if image.mode == "RGB":
            return image, "palette expanded"
        mode = "RGBA"
    if mode in ("LA", "PA", "La", "RGBa", "RGBA") or (mode == "L" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB"), "alpha composited over white"
    if mode in ("1", "L", "CMYK", "YCbCr", "RGBX", "HSV"):
        return image.convert("RGB"), ""
    try:
        return image.convert("RGB"), ""
    except (ValueError, OSError) as error:
        raise ImageLoadError(path, f"unsupported image mode {mode!r} ({error})") from None


def _stretch(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high <= low:
        return np.zeros_like(values)
    return (values - low) * (255.0 / (high - low))


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    gray8 = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray8] * 3, axis=-1), "RGB")
