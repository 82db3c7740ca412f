"""Classical CPU forensic baselines: error level analysis and local noise inconsistency.

Both are deliberately simple, training-free references: a learned detector should beat them clearly. Each
turns a per-pixel statistic into a deviation from the image's own typical value (median / MAD), so the map
means "unusual for this image" and 0.5 sits at a fixed number of robust deviations.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from inpaintbench.harness.detectors import Detector, check_rgb_image, register_detector


def _robust_deviation_map(stat: np.ndarray, deviations_at_half: float, two_sided: bool) -> np.ndarray:
    """(stat - median) / (1.4826 MAD), mapped so that ``deviations_at_half`` deviations give 0.5."""
    median = float(np.median(stat))
    mad = float(np.median(np.abs(stat - median))) * 1.4826
    z = (stat - median) / max(mad, 1e-6)
    if two_sided:
        z = np.abs(z)
    return np.clip(z / (2.0 * deviations_at_half), 0.0, 1.0).astype(np.float32)


def _top_fraction_mean(values: np.ndarray, fraction: float) -> float:
    """Mean of the highest ``fraction`` of values: a stabler image score than the single maximum."""
    flat = values.ravel()
    k = max(1, int(round(flat.size * fraction)))
    return float(np.partition(flat, flat.size - k)[flat.size - k :].mean())


@register_detector("ela")
class ErrorLevelAnalysis(Detector):
    """JPEG-recompress the image and look where the error is unusually high: regions that went through a
    generator (never JPEG-compressed before, unlike the rest of a camera photo) recompress differently."""

    def __init__(self, quality: int = 90, window: int = 9, deviations_at_half: float = 3.0, top: float = 0.01):
        super().__init__(quality=quality, window=window, deviations_at_half=deviations_at_half, top=top)

    def predict(self, image: np.ndarray) -> dict:
        rgb = check_rgb_image(image)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=int(self.params["quality"]))
        recompressed = np.asarray(Image.open(buf).convert("RGB"))
        error = np.abs(rgb.astype(np.int16) - recompressed.astype(np.int16)).mean(axis=2, dtype=np.float32)
        w = int(self.params["window"])
        local = cv2.blur(error, (w, w))
        heat = _robust_deviation_map(local, float(self.params["deviations_at_half"]), two_sided=False)
        return {"score": _top_fraction_mean(heat, float(self.params["top"])), "map": heat}


@register_detector("noise")
class NoiseInconsistency(Detector):
    """High-pass residual (image minus its 3x3 median), local variance in a window, log scale: generators and
    smoothing inpainters leave regions whose noise level departs from the camera's, in either direction."""

    def __init__(self, window: int = 16, deviations_at_half: float = 3.0, top: float = 0.01):
        super().__init__(window=window, deviations_at_half=deviations_at_half, top=top)

    def predict(self, image: np.ndarray) -> dict:
        rgb = check_rgb_image(image)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        residual = gray.astype(np.float32) - cv2.medianBlur(gray, 3).astype(np.float32)
        w = int(self.params["window"])
        mean = cv2.blur(residual, (w, w))
        variance = np.maximum(cv2.blur(residual * residual, (w, w)) - mean * mean, 0.0)
        log_var = np.log(variance + 1e-2)
        heat = _robust_deviation_map(log_var, float(self.params["deviations_at_half"]), two_sided=True)
        return {"score": _top_fraction_mean(heat, float(self.params["top"])), "map": heat}
