"""Per-image pixel metrics from one image's exact histogram (``exact_hist.SparseHist``), exact with ties averaged.

Computed once per image when its map is reduced, in the map's own precision, so no later step (pooling,
budgets, the ``evaluate`` module) can change them. Thresholds are positions in the ascending key order: 0.5 is
``HALF_KEY``, so "score >= 0.5" is "key >= HALF_KEY" exactly, whatever the map's dtype.
"""

from __future__ import annotations

import math

import numpy as np

from inpaintbench.harness.conventions import TARGET_FPR
from inpaintbench.harness.exact_hist import HALF_KEY, SparseHist
from inpaintbench.harness.ranking import ranking_metrics

# Per-image values every summary carries (None where undefined for that image).
IMAGE_PIXEL_FIELDS = (
    "f1",  # F1 at score >= 0.5 (forged images)
    "iou",  # IoU at score >= 0.5
    "f1_best",  # F1 at the image's own best threshold (an oracle)
    "auc",  # ROC AUC, ties averaged (undefined for a full mask)
    "ap",  # average precision, sklearn's step-wise definition
    "tpr_at_5fpr",  # largest TPR with FPR <= 5%
    "f1_inverted",  # F1 of 1 - p at 0.5 (p <= 0.5 predicted inpainted): only for the inverted-map column
    "f1_imdl",  # IMDL-BenCo convention: threshold score > 0.5, authentic images count as F1 = 0
    "iou_imdl",  # the same for IoU
)


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def threshold_edges(keys: np.ndarray) -> tuple[int, int]:
    """(first index with value >= 0.5, first index with value > 0.5)."""
    return int(np.searchsorted(keys, HALF_KEY, "left")), int(np.searchsorted(keys, HALF_KEY, "right"))


def confusion_at(hist: SparseHist, edge: int) -> tuple[float, float, float]:
    """(tp, fp, fn) when bins from ``edge`` up are predicted inpainted."""
    tp, fp = float(hist.pos[edge:].sum()), float(hist.neg[edge:].sum())
    return tp, fp, float(hist.pos.sum()) - tp


def f1_iou(tp: float, fp: float, fn: float) -> tuple[float | None, float | None]:
    return _ratio(2 * tp, 2 * tp + fp + fn), _ratio(tp, tp + fp + fn)


def image_pixel_metrics(hist: SparseHist, ranked: dict | None = None) -> dict[str, float | None]:
    """``ranked``: ``ranking.ranking_metrics`` of ``hist`` when already computed (``exact_hist.reduce_map``)."""
    n_pos = float(hist.pos.sum())
    out: dict[str, float | None] = dict.fromkeys(IMAGE_PIXEL_FIELDS)
    ge, gt = threshold_edges(hist.keys)
    if n_pos == 0:  # authentic image: only the IMDL-BenCo convention gives it a pixel F1 (0 by definition)
        out["f1_imdl"] = out["iou_imdl"] = 0.0
        return out
    out["f1"], out["iou"] = f1_iou(*confusion_at(hist, ge))
    out["f1_imdl"], out["iou_imdl"] = f1_iou(*confusion_at(hist, gt))
    # 1 - p >= 0.5 exactly when p <= 0.5: the bins below the "> 0.5" edge.
    tp_inv, fp_inv = float(hist.pos[:gt].sum()), float(hist.neg[:gt].sum())
    out["f1_inverted"] = f1_iou(tp_inv, fp_inv, n_pos - tp_inv)[0]
    ranked = ranked or ranking_metrics(hist.pos, hist.neg, TARGET_FPR)
    for name, key in (("f1_best", "f1_best"), ("auc", "auc"), ("ap", "ap"), ("tpr_at_5fpr", "tpr_at_fpr")):
        out[name] = None if math.isnan(ranked[key]) else float(ranked[key])
    return out


def flagged_pixels(hist: SparseHist) -> int:
    """Pixels with score >= 0.5 (a false alarm on an authentic image)."""
    edge = threshold_edges(hist.keys)[0]
    return int(hist.pos[edge:].sum() + hist.neg[edge:].sum())
