"""How good a fill is, against the photo it was cut from: in-mask PSNR and SSIM, and a perceptual distance.

- PSNR over the hole's pixels only (outside it every paste-back fill equals the original, which would only
  dilute the difference between methods);
- SSIM (scikit-image, Gaussian 11x11 window, sigma 1.5, as Wang et al. 2004) averaged over the hole's pixels;
- ``lite0_lpips``: the LPIPS-style distance of ``model.feature_distance`` on the ImageNet Lite0 maps after blocks
  2, 4 and 10, on the hole's bounding box with a 32 px margin. Caveat: the learned inpainter's perceptual loss uses
  the same features, so this distance favours it; PSNR and SSIM do not.
"""

from __future__ import annotations

import numpy as np
import torch

MARGIN = 32


def masked_psnr(fill: np.ndarray, original: np.ndarray, hole: np.ndarray) -> float:
    diff = fill[hole].astype(np.float64) - original[hole].astype(np.float64)
    mse = float(np.mean(diff ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def masked_ssim(fill: np.ndarray, original: np.ndarray, hole: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    _, full = structural_similarity(original, fill, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255, full=True)
    return float(full.mean(axis=2)[hole].mean())


def _box(hole: np.ndarray) -> tuple[slice, slice]:
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    return (slice(max(0, ys.min() - MARGIN), min(h, ys.max() + MARGIN + 1)),
            slice(max(0, xs.min() - MARGIN), min(w, xs.max() + MARGIN + 1)))


class PerceptualDistance:
    def __init__(self) -> None:
        from .model import Lite0Features

        self.features = Lite0Features()

    def __call__(self, fill: np.ndarray, original: np.ndarray, hole: np.ndarray) -> float:
        from .model import feature_distance

        box = _box(hole)
        a = torch.from_numpy(np.ascontiguousarray(fill[box])).permute(2, 0, 1)[None].float() / 255
        b = torch.from_numpy(np.ascontiguousarray(original[box])).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            return float(feature_distance(self.features(a), self.features(b))[0])
