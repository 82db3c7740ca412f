"""The reducer: one full-size predicted map + its ground-truth mask -> a small per-image summary.

A summary is two histograms of predicted scores (over ground-truth inpainted pixels and over pristine pixels)
plus the image score and label. Every pixel metric at every bin edge (F1, IoU, AUC with exact ties, AP) follows
from cumulative sums of these counts, per image and pooled, so pixel maps never have to be kept or stored
(``evaluate`` writes all its inputs to Arrow). One pass: a single ``np.bincount`` over ``bin + n_bins * gt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from inpaintbench.harness.conventions import FLOAT_BINS, GT_THRESHOLD, UINT8_BINS


@dataclass
class ImageSummary:
    pos_hist: np.ndarray  # int64 (n_bins,): predicted-score counts over ground-truth inpainted pixels
    neg_hist: np.ndarray  # int64 (n_bins,): predicted-score counts over ground-truth pristine pixels
    score: float  # image-level score in [0, 1]
    label: int  # 0 pristine, 1 inpainted

    @property
    def n_bins(self) -> int:
        return int(self.pos_hist.shape[0])

    def as_example(self) -> dict:
        """The row fed to the ``evaluate`` metric module."""
        return {"pos_hist": self.pos_hist, "neg_hist": self.neg_hist, "score": self.score, "label": self.label}


def binarize_gt(mask: Image.Image | np.ndarray) -> np.ndarray:
    """Ground truth as a bool array: mask > 127 (masks are mode "L", 255 = inpainted); bool arrays pass as is."""
    if isinstance(mask, np.ndarray) and mask.dtype == np.bool_:
        if mask.ndim != 2:
            raise ValueError(f"ground-truth mask must be 2-D (H x W), got shape {mask.shape}")
        return mask
    arr = np.asarray(mask.convert("L") if isinstance(mask, Image.Image) and mask.mode != "L" else mask)
    if arr.ndim != 2:
        raise ValueError(f"ground-truth mask must be 2-D (H x W), got shape {arr.shape}")
    return arr > GT_THRESHOLD


def as_score_map(pred: np.ndarray) -> np.ndarray:
    """Validate a predicted map and bring it to uint8 or float32; raises ValueError saying what is wrong."""
    arr = np.asarray(pred)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise ValueError(f"predicted map must be 2-D (H x W), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"predicted map is empty (shape {arr.shape})")
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"predicted map must be uint8 (0..255) or float in [0, 1], got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    lo, hi = float(arr.min()), float(arr.max())  # NaN propagates through min/max
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("predicted map contains NaN or infinite values")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"predicted map values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    return arr


def resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize to the ground truth's (H, W); uint8 stays uint8 so its 256 exact bins survive."""
    if pred.shape == tuple(shape):
        return pred
    out = cv2.resize(pred, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)
    if out.dtype != np.uint8:
        np.clip(out, 0.0, 1.0, out=out)  # bilinear can't overshoot, but guards rounding at the ends
    return out


def default_bins(pred: np.ndarray) -> int:
    return UINT8_BINS if pred.dtype == np.uint8 else FLOAT_BINS


# uint8 value k (score k/255) -> its float bin, so uint8 and float maps can be pooled in FLOAT_BINS bins.
def _uint8_lut(n_bins: int) -> np.ndarray:
    return np.minimum((np.arange(256, dtype=np.float64) / 255.0 * n_bins).astype(np.intp), n_bins - 1)


def bin_indices(pred: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of every pixel (intp). uint8 with 256 bins: the value itself. Otherwise floor(score * n_bins)."""
    if pred.dtype == np.uint8:
        if n_bins == UINT8_BINS:
            return pred.astype(np.intp)
        return _uint8_lut(n_bins)[pred]
    if n_bins == UINT8_BINS:
        raise ValueError("256 bins are reserved for uint8 maps (exact); float maps need another bin count")
    # floor(p * n) in the map's own precision: rounding is monotone and 0.5 * n is exact, so p >= 0.5 maps to
    # bins >= n/2 and p < 0.5 below it, exactly.
    idx = (pred * np.float32(n_bins)).astype(np.intp)
    np.minimum(idx, n_bins - 1, out=idx)
    return idx


def histogram_pair(pred: np.ndarray, gt: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(pos_hist, neg_hist) in one bincount; ``pred`` already at the ground truth's size."""
    if pred.shape != gt.shape:
        raise ValueError(f"map shape {pred.shape} != ground-truth shape {gt.shape}")
    idx = bin_indices(pred, n_bins)
    idx += gt.astype(np.intp) * n_bins
    counts = np.bincount(idx.ravel(), minlength=2 * n_bins)
    return counts[n_bins:].astype(np.int64), counts[:n_bins].astype(np.int64)


def map_max_score(pred: np.ndarray) -> float:
    """Image score of a map-only detector: the map's maximum (MVSS-Net's convention), in [0, 1]."""
    top = pred.max()
    return float(top) / 255.0 if pred.dtype == np.uint8 else float(top)


def summarize(
    pred_map: np.ndarray | None,
    gt_mask: Image.Image | np.ndarray,
    score: float | None = None,
    label: int | None = None,
    n_bins: int | None = None,
) -> ImageSummary:
    """Reduce one prediction. ``pred_map`` None (score-only detector) gives empty histograms: such runs only
    have image-level metrics. ``score`` None means the map's maximum. ``label`` None means "GT mask non-empty"."""
    gt = binarize_gt(gt_mask)
    if label is None:
        label = int(gt.any())
    if pred_map is None:
        if score is None:
            raise ValueError("a prediction needs a map, a score, or both")
        bins = n_bins or FLOAT_BINS
        empty = np.zeros(bins, dtype=np.int64)
        return ImageSummary(empty, empty.copy(), _check_score(score), int(label))
    pred = as_score_map(pred_map)
    if score is None:
        score = map_max_score(pred)
    pred = resize_to(pred, gt.shape)
    pos, neg = histogram_pair(pred, gt, n_bins or default_bins(pred))
    return ImageSummary(pos, neg, _check_score(score), int(label))


def _check_score(score: float) -> float:
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise ValueError(f"image score must be a number, got {score!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"image score is {value}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"image score must lie in [0, 1], got {value:.6g}")
    return value
