"""All InpaintBench metrics from per-image summaries (histograms, image score, label).

``Scorer`` computes per-image pixel metrics once; ``Scorer.compute(weights)`` then gives every metric for any
multiset of images (weights = how many times each image counts), which is what makes bootstrap resampling and
subgroup breakdowns cheap: no pixel is touched again. Conventions: see ``conventions.CONVENTIONS``.
"""

from __future__ import annotations

import math

import numpy as np

from inpaintbench.harness import histmetrics as hm
from inpaintbench.harness.conventions import IMAGE_THRESHOLD, PIXEL_THRESHOLD, TARGET_FPR, UINT8_BINS

# The numbers a leaderboard shows and the bootstrap brackets.
HEADLINE_METRICS = (
    "pixel_f1_mean",
    "pixel_f1_pooled",
    "pixel_iou_mean",
    "pixel_auc_pooled",
    "image_auc",
    "image_ap",
    "balanced_accuracy",
    "image_tpr_at_5fpr",
)


def _stack(rows, name: str) -> np.ndarray:
    arr = np.asarray(rows if not isinstance(rows, list) or not rows else [np.asarray(r) for r in rows])
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (n_images, n_bins) array; got shape {arr.shape}")
    return arr.astype(np.float64)


class Scorer:
    def __init__(self, pos_hists, neg_hists, scores, labels) -> None:
        self.pos = _stack(pos_hists, "pos_hist")
        self.neg = _stack(neg_hists, "neg_hist")
        self.scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        self.labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        n = self.scores.shape[0]
        if self.pos.shape != self.neg.shape or self.pos.shape[0] != n or self.labels.shape[0] != n:
            raise ValueError(
                f"inconsistent summaries: pos_hist {self.pos.shape}, neg_hist {self.neg.shape}, "
                f"{n} scores, {self.labels.shape[0]} labels (all need one row per image and the same bin count)"
            )
        if n and (np.isnan(self.scores).any() or self.scores.min() < 0 or self.scores.max() > 1):
            raise ValueError("image scores must be finite and in [0, 1]")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError("labels must be 0 (pristine) or 1 (inpainted)")
        self.n_bins = self.pos.shape[1]
        self.edge = hm.threshold_edge(self.n_bins, PIXEL_THRESHOLD)

        # Pixel metrics: images with at least one ground-truth inpainted pixel only (authentic ones excluded).
        self.pixel_rows = np.flatnonzero(self.pos.sum(axis=1) > 0)
        pos, neg = self.pos[self.pixel_rows], self.neg[self.pixel_rows]
        self.pixel_pos, self.pixel_neg = pos, neg  # kept: every compute() (bootstrap resample) pools these
        # Cumulative counts once; every threshold metric below is arithmetic on them (memory: O(images x bins)).
        tp, fp = hm.counts_at_edges(pos), hm.counts_at_edges(neg)
        n_pos = tp[:, :1]
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = 2 * tp / (tp + fp + n_pos)  # n_pos > 0 on these rows
            self.f1_th = f1[:, self.edge]
            self.f1_best = f1.max(axis=1) if len(self.pixel_rows) else np.zeros(0)
            del f1
            self.iou_th = tp[:, self.edge] / (fp[:, self.edge] + n_pos[:, 0])
            # Score 1 - p lands in the mirrored bin (exactly so for uint8 maps): its counts at edge e are the
            # counts below the mirrored edge, i.e. totals minus counts at B - e.
            mirror = self.n_bins - self.edge
            tp_inv = n_pos[:, 0] - tp[:, mirror]
            fp_inv = fp[:, 0] - fp[:, mirror]
            self.f1_inverted = 2 * tp_inv / (tp_inv + fp_inv + n_pos[:, 0])
        del tp, fp
        self.auc = hm.roc_auc(pos, neg)  # NaN for full masks (no negatives)
        self.ap = hm.average_precision(pos, neg)

        self.score_values, self.score_group = hm.group_by_value(self.scores)

    def compute(self, weights: np.ndarray | None = None) -> dict:
        w = np.ones(len(self.scores)) if weights is None else np.asarray(weights, dtype=np.float64)
        out: dict = {
            "n_images": int(round(w.sum())),
            "n_inpainted": int(round(w[self.labels == 1].sum())),
            "n_pristine": int(round(w[self.labels == 0].sum())),
            "n_bins": int(self.n_bins),
        }
        out.update(self._pixel_metrics(w[self.pixel_rows]))
        out.update(self._image_metrics(w))
        return {k: _clean(v) for k, v in out.items()}

    def _pixel_metrics(self, w: np.ndarray) -> dict:
        out = {"n_pixel_images": int(round(w.sum()))}
        out["pixel_f1_mean"] = _wmean(self.f1_th, w)
        out["pixel_f1_best_mean"] = _wmean(self.f1_best, w)
        out["pixel_iou_mean"] = _wmean(self.iou_th, w)
        out["pixel_auc_mean"] = _wmean(self.auc, w)
        out["n_pixel_auc_images"] = int(round(w[~np.isnan(self.auc)].sum()))
        out["pixel_ap_mean"] = _wmean(self.ap, w)
        out["pixel_f1_inverted_max_mean"] = _wmean(np.maximum(self.f1_th, self.f1_inverted), w)
        pos = w @ self.pixel_pos if len(w) else np.zeros(self.n_bins)
        neg = w @ self.pixel_neg if len(w) else np.zeros(self.n_bins)
        f1 = hm.f1_at_edges(pos, neg)
        out["pixel_f1_pooled"] = float(f1[self.edge])
        best = int(np.nanargmax(f1)) if np.isfinite(f1).any() else None
        out["pixel_f1_best_pooled"] = float(f1[best]) if best is not None else math.nan
        out["pixel_best_threshold_pooled"] = _edge_value(best, self.n_bins) if best is not None else math.nan
        out["pixel_iou_pooled"] = float(hm.iou_at_edges(pos, neg)[self.edge])
        out["pixel_auc_pooled"] = float(hm.roc_auc(pos, neg))
        out["pixel_ap_pooled"] = float(hm.average_precision(pos, neg))
        out["pixel_tpr_at_5fpr_pooled"] = float(hm.tpr_at_fpr(pos, neg, TARGET_FPR))
        return out

    def _image_metrics(self, w: np.ndarray) -> dict:
        groups = len(self.score_values)
        pos = np.bincount(self.score_group, weights=w * (self.labels == 1), minlength=groups)
        neg = np.bincount(self.score_group, weights=w * (self.labels == 0), minlength=groups)
        edge = int(np.searchsorted(self.score_values, IMAGE_THRESHOLD, side="left"))
        tp, fp = hm.counts_at_edges(pos)[edge], hm.counts_at_edges(neg)[edge]
        recalls = []
        if pos.sum() > 0:
            recalls.append(tp / pos.sum())
        if neg.sum() > 0:
            recalls.append(1.0 - fp / neg.sum())
        return {
            "image_auc": float(hm.roc_auc(pos, neg)),
            "image_ap": float(hm.average_precision(pos, neg)),
            "image_tpr_at_5fpr": float(hm.tpr_at_fpr(pos, neg, TARGET_FPR)),
            # Mean recall over the classes present (sklearn's balanced_accuracy_score).
            "balanced_accuracy": float(np.mean(recalls)) if recalls else math.nan,
            "image_tpr": float(tp / pos.sum()) if pos.sum() > 0 else math.nan,
            "image_tnr": float(1.0 - fp / neg.sum()) if neg.sum() > 0 else math.nan,
        }


def _edge_value(edge: int, n_bins: int) -> float:
    return edge / 255.0 if n_bins == UINT8_BINS else edge / n_bins


def _wmean(values: np.ndarray, w: np.ndarray) -> float:
    ok = ~np.isnan(values) & (w > 0)
    if not ok.any():
        return math.nan
    return float(np.dot(values[ok], w[ok]) / w[ok].sum())


def _clean(value):
    """NaN (metric undefined for this set of images) becomes None, i.e. JSON null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def compute_metrics(pos_hists, neg_hists, scores, labels) -> dict:
    return Scorer(pos_hists, neg_hists, scores, labels).compute()
