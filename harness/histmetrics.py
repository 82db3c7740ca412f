"""Threshold metrics from score histograms (counts per bin, bins in ascending score order).

All functions take ``pos`` and ``neg`` arrays of shape (..., B) and work along the last axis. Edge ``j`` (0..B)
means "predicted positive iff bin >= j"; ties within a bin move together. When every bin is one distinct score
(the exact histograms of ``exact_hist``, image scores grouped by value) this is sklearn's definition with ties
averaged, exactly.
"""

from __future__ import annotations

import numpy as np


def counts_at_edges(hist: np.ndarray) -> np.ndarray:
    """(..., B+1): entry j = number of items in bins >= j (last entry 0)."""
    hist = np.asarray(hist, dtype=np.float64)
    above = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]
    return np.concatenate([above, np.zeros(hist.shape[:-1] + (1,))], axis=-1)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def f1_at_edges(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """(..., B+1) F1 at every edge; NaN where there are no positives and no predicted positives."""
    tp, fp = counts_at_edges(pos), counts_at_edges(neg)
    n_pos = tp[..., :1]
    return _safe_div(2 * tp, tp + fp + n_pos)


def iou_at_edges(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    tp, fp = counts_at_edges(pos), counts_at_edges(neg)
    return _safe_div(tp, fp + tp[..., :1])


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Trapezoidal ROC area = P(score_pos > score_neg) + 0.5 P(tie); NaN without positives or negatives."""
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    tp_above = counts_at_edges(pos)[..., 1:]  # positives in strictly higher bins
    wins = (neg * (tp_above + 0.5 * pos)).sum(axis=-1)
    return _safe_div(wins, pos.sum(axis=-1) * neg.sum(axis=-1))


def average_precision(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Step-wise AP (sklearn's definition): sum over thresholds of recall gain x precision; NaN without positives."""
    pos = np.asarray(pos, dtype=np.float64)
    tp, fp = counts_at_edges(pos)[..., :-1], counts_at_edges(neg)[..., :-1]
    precision = _safe_div(tp, tp + fp)
    gained = np.where(pos > 0, pos * np.nan_to_num(precision), 0.0).sum(axis=-1)
    return _safe_div(gained, pos.sum(axis=-1))


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, max_fpr: float) -> np.ndarray:
    """Largest TPR among ROC points (bin edges) with FPR <= max_fpr; NaN without positives or negatives."""
    tp, fp = counts_at_edges(pos), counts_at_edges(neg)
    tpr = _safe_div(tp, tp[..., :1])
    fpr = _safe_div(fp, fp[..., :1])
    # The all-negative edge (j = B) always has FPR 0, so the max is over a non-empty set when defined.
    best = np.where(fpr <= max_fpr + 1e-12, tpr, -np.inf).max(axis=-1)
    return np.where(np.isfinite(best), best, np.nan)


def group_by_value(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique values ascending and each score's group index: image scores become exact 'bins' (ties kept)."""
    values, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    return values, inverse.reshape(-1)
