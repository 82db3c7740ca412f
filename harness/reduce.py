"""The reducer: one predicted map + its ground-truth mask -> a small per-image summary.

A summary holds the map's exact sparse histogram (every distinct value with its counts over GT-inpainted and
GT-pristine pixels, ``exact_hist``), the image's own pixel metrics computed exactly from it (``pixel_metrics``),
the number of pixels flagged at 0.5 and the map's sum (false alarms on authentic images), the image score and the
label. Pooled metrics over any set of images follow from summing histograms, so pixel maps are never kept.

Every entry point (the ``evaluate`` module, the CLI, folder submissions, the Space) goes through
``summarize_prediction``: the ground truth is decoded by ``inpaintbench.gt_mask.binarize_gt`` and a map of another
aspect ratio is refused by ``check_aspect`` here, once, so no entry point can read an encoding differently from
another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from inpaintbench.gt_mask import binarize_gt
from inpaintbench.harness.conventions import TARGET_FPR
from inpaintbench.harness.exact_hist import SparseHist, reduce_map
from inpaintbench.harness.pixel_metrics import IMAGE_PIXEL_FIELDS, flagged_pixels, image_pixel_metrics

ASPECT_TOLERANCE = 0.02  # a map may be smaller or larger than the image, but not another shape


@dataclass
class ImageSummary:
    hist: SparseHist  # empty for a score-only prediction (or a hist_store.SpilledHist past the memory budget)
    score: float  # image-level score in [0, 1]
    label: int  # 0 pristine, 1 inpainted
    has_map: bool = False
    n_pixels: int = 0  # ground-truth pixels (the map is scored at the ground truth's size)
    n_pos: int = 0  # pixels in the histogram over GT-inpainted pixels (0 without a map)
    n_neg: int = 0  # ... over GT-pristine pixels
    flagged: int = 0  # pixels with score >= 0.5
    map_sum: float = 0.0  # sum of the map's scores (in [0, 1] units), for the mean map value
    metrics: dict = field(default_factory=lambda: dict.fromkeys(IMAGE_PIXEL_FIELDS))

    def as_example(self) -> dict:
        """The row fed to the ``evaluate`` metric module (plain numbers and lists)."""
        hist = self.hist.load()  # one read of a spilled histogram, not one per column
        row = {"keys": hist.keys, "pos": hist.pos, "neg": hist.neg, "score": self.score,
               "label": self.label, "has_map": self.has_map, "n_pixels": self.n_pixels, "flagged": self.flagged,
               "map_sum": self.map_sum}
        row.update({f"image_{k}": v for k, v in self.metrics.items()})
        return row

    @staticmethod
    def from_example(row: dict) -> ImageSummary:
        hist = SparseHist(np.asarray(row["keys"], np.uint64), np.asarray(row["pos"], np.int64),
                          np.asarray(row["neg"], np.int64))
        metrics = {k: row.get(f"image_{k}") for k in IMAGE_PIXEL_FIELDS}
        return ImageSummary(hist, float(row["score"]), int(row["label"]), bool(row["has_map"]), int(row["n_pixels"]),
                            int(hist.pos.sum()), int(hist.neg.sum()), int(row["flagged"]), float(row["map_sum"]),
                            metrics)


def check_aspect(map_hw: tuple[int, int], image_hw: tuple[int, int]) -> str | None:
    """None when a map of size ``map_hw`` may be resized to ``image_hw``; otherwise the reason. Every entry point
    applies this one rule: any size with the image's aspect ratio (within 2%, at least one pixel) is accepted."""
    ph, pw = map_hw
    h, w = image_hw
    if (ph, pw) == (h, w):
        return None
    expected_h = pw * h / w  # the height a same-aspect map of this width would have
    if abs(ph - expected_h) > max(1.0, ASPECT_TOLERANCE * expected_h):
        return f"map is {ph} x {pw} but the image is {h} x {w} (different aspect ratio)"
    return None


def as_score_map(pred: np.ndarray) -> np.ndarray:
    """Validate a predicted map and keep its own precision: uint8 (0..255), float16/32/64 in [0, 1]; bool becomes
    uint8 0/255. Raises ValueError saying what is wrong."""
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
        return np.ascontiguousarray(arr)
    if arr.dtype not in (np.float16, np.float32, np.float64):
        raise ValueError(f"predicted map must be uint8 (0..255) or float16/32/64 in [0, 1], got dtype {arr.dtype}")
    if arr.dtype == np.float16:  # NumPy emulates float16 arithmetic (slow): check the bit patterns instead
        bits = np.ascontiguousarray(arr).view(np.uint16)
        if int(bits.max()) <= 0x3C00:  # +0 .. 1.0; NaN, inf, negatives and -0.0 have larger patterns
            return np.ascontiguousarray(arr)
    lo, hi = float(arr.min()), float(arr.max())  # NaN propagates through min/max
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("predicted map contains NaN or infinite values")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"predicted map values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    if arr.dtype == np.float16:  # + 0 turns -0.0 into +0.0 for the float16 bit-pattern counts
        return np.ascontiguousarray(arr) + arr.dtype.type(0)
    return np.ascontiguousarray(arr)  # float32/64: exact_hist's codes drop the sign bit, so -0.0 is 0.0


def resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize to the ground truth's (H, W). uint8 stays uint8 and float64 stays float64; float16 is
    resized in float32 (OpenCV has no float16), which holds every float16 value exactly."""
    if pred.shape == tuple(shape):
        return pred
    src = pred.astype(np.float32) if pred.dtype == np.float16 else pred
    out = cv2.resize(src, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)
    if out.dtype != np.uint8:
        np.clip(out, 0.0, 1.0, out=out)  # bilinear can't overshoot, but guards rounding at the ends
    return out


def map_max_score(pred: np.ndarray) -> float:
    """Image score of a map-only detector: the map's maximum (MVSS-Net's convention), in [0, 1]."""
    if pred.dtype == np.float16:  # NumPy emulates float16 arithmetic: take the max of the (non-negative) bits
        return float(np.array(pred.view(np.uint16).max(), np.uint16).view(np.float16))
    top = pred.max()
    return float(top) / 255.0 if pred.dtype == np.uint8 else float(top)


def summarize_prediction(
    pred_map: np.ndarray | None,
    gt_mask: Image.Image | np.ndarray,
    score: float | None = None,
    label: int | None = None,
) -> ImageSummary:
    """Reduce one prediction. ``pred_map`` None (score-only detector): no histogram, image-level metrics only.
    ``score`` None means the map's maximum. ``label`` None means "GT mask non-empty"; a label 1 with an empty
    mask is refused (a forged image must say where)."""
    gt = binarize_gt(gt_mask)
    has_forged_pixels = bool(gt.any())
    if label is None:
        label = int(has_forged_pixels)
    if int(label) == 1 and not has_forged_pixels:
        raise ValueError("ground-truth mask is empty but the label says inpainted")
    if pred_map is None:
        if score is None:
            raise ValueError("a prediction needs a map, a score, or both")
        return ImageSummary(SparseHist.empty(), _check_score(score), int(label), n_pixels=int(gt.size))
    pred = as_score_map(pred_map)
    reason = check_aspect(pred.shape, gt.shape)
    if reason:
        raise ValueError(reason)
    if score is None:
        score = map_max_score(pred)
    pred = resize_to(pred, gt.shape)
    reduced = reduce_map(pred, gt, TARGET_FPR)
    hist = reduced.hist
    return ImageSummary(hist, _check_score(score), int(label), has_map=True, n_pixels=int(gt.size),
                        n_pos=int(hist.pos.sum()), n_neg=int(hist.neg.sum()),
                        flagged=flagged_pixels(hist), map_sum=reduced.value_sum,
                        metrics=image_pixel_metrics(reduced.hist, reduced.ranked))


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
