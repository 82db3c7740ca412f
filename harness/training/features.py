"""Per-pixel forensic features of an RGB image, at three scales.

Every feature is a local statistic that inpainting disturbs: noise residual energy (fills are smoother or
noisier than the camera's noise), ELA error (a fill never went through the photo's JPEG history), the 8x8
JPEG grid's strength (a fill breaks the block grid), gradient energy and colour saturation. Each is computed
at ``SCALES`` window sizes, and each also as a deviation from the image's own median, because a model must
learn "unusual for this image", not "unusual for photos in general" (images differ far more than fills do).

``FEATURES_VERSION`` names this exact recipe: a saved model refuses features of another version, so change it
whenever anything here changes what a pixel's vector holds.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

FEATURES_VERSION = "ib-pixel-features-1"
SCALES = (5, 15, 31)  # local window sides in pixels: fine texture, object parts, whole small objects
ELA_QUALITY = 90
JPEG_BLOCK = 8
_EPS = 1e-2

# Per-scale statistics, in column order; each appears raw and as a deviation from the image median.
_STATS = ("log_residual_energy", "log_laplacian_energy", "log_local_variance", "ela", "jpeg_grid",
          "log_gradient_energy", "saturation")


def feature_names() -> list[str]:
    names = [f"{stat}@{w}{suffix}" for w in SCALES for stat in _STATS for suffix in ("", "_dev")]
    return names + ["luma"]


def _box(values: np.ndarray, window: int) -> np.ndarray:
    return cv2.blur(values, (window, window), borderType=cv2.BORDER_REFLECT)


def _ela_error(rgb: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=ELA_QUALITY)
    recompressed = np.asarray(Image.open(buf).convert("RGB"))
    return np.abs(rgb.astype(np.float32) - recompressed.astype(np.float32)).mean(axis=2)


def _grid_differences(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|horizontal| + |vertical| neighbour differences, split into those crossing an 8x8 block border and the
    rest. JPEG quantisation makes the first larger than the second; a region that never saw the grid does not."""
    h, w = gray.shape
    dx = np.zeros_like(gray)
    dy = np.zeros_like(gray)
    dx[:, :-1] = np.abs(np.diff(gray, axis=1))
    dy[:-1, :] = np.abs(np.diff(gray, axis=0))
    on_col = (np.arange(w) % JPEG_BLOCK == JPEG_BLOCK - 1)[None, :]
    on_row = (np.arange(h) % JPEG_BLOCK == JPEG_BLOCK - 1)[:, None]
    border = dx * on_col + dy * on_row
    inner = dx * ~on_col + dy * ~on_row
    return border, inner


def compute_features(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB -> H x W x F float32 (F = len(feature_names())), deterministic."""
    rgb = np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"features take an H x W x 3 uint8 RGB array, got shape {rgb.shape} dtype {rgb.dtype}")
    gray_u8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gray = gray_u8.astype(np.float32)
    residual = gray - cv2.medianBlur(gray_u8, 3).astype(np.float32)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    gradient_sq = gx * gx + gy * gy
    ela = _ela_error(rgb)
    border, inner = _grid_differences(gray)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    saturation = hsv[..., 1].astype(np.float32) / 255.0
    rows, cols = gray.shape
    on_border = np.zeros((rows, cols), np.float32)
    on_border[:, JPEG_BLOCK - 1 :: JPEG_BLOCK] += 1.0
    on_border[JPEG_BLOCK - 1 :: JPEG_BLOCK, :] += 1.0
    inner_count = 2.0 - on_border

    columns = []
    for w in SCALES:
        mean = _box(gray, w)
        stats = {
            "log_residual_energy": np.log(_box(residual * residual, w) + _EPS),
            "log_laplacian_energy": np.log(_box(laplacian * laplacian, w) + _EPS),
            "log_local_variance": np.log(np.maximum(_box(gray * gray, w) - mean * mean, 0.0) + _EPS),
            "ela": _box(ela, w),
            # mean border difference minus mean inner difference, per pixel of the window
            "jpeg_grid": _box(border, w) / np.maximum(_box(on_border, w), 1e-3)
            - _box(inner, w) / np.maximum(_box(inner_count, w), 1e-3),
            "log_gradient_energy": np.log(_box(gradient_sq, w) + _EPS),
            "saturation": _box(saturation, w),
        }
        for stat in _STATS:
            value = stats[stat].astype(np.float32)
            columns.append(value)
            columns.append(value - np.float32(np.median(value)))
    columns.append(gray / 255.0)
    return np.stack(columns, axis=-1).astype(np.float32, copy=False)
