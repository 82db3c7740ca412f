"""All InpaintBench metrics from per-image summaries (``reduce.ImageSummary``).

``Scorer`` indexes every image's exact histogram once; ``Scorer.compute(weights)`` then gives every metric for
any multiset of images (weights = how many times each image counts), which is what makes subgroup breakdowns
and bootstrap resampling cheap: no pixel is touched again. Per-image pixel metrics were computed exactly when
each map was reduced; pooled ones are computed here from the summed exact histograms, so both equal sklearn on
all pixels (ties averaged). Conventions: see ``conventions.CONVENTIONS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inpaintbench.harness import histmetrics as hm
from inpaintbench.harness.conventions import IMAGE_THRESHOLD, TARGET_FPR
from inpaintbench.harness.exact_hist import HALF_KEY, keys_to_values
from inpaintbench.harness.pixel_metrics import IMAGE_PIXEL_FIELDS
from inpaintbench.harness.ranking import ranking_metrics

# The numbers a leaderboard shows and the bootstrap brackets.
HEADLINE_METRICS = (
    "pixel_f1_mean",
    "pixel_f1_pooled",
    "pixel_iou_mean",
    "pixel_auc_pooled",
    "pixel_f1_pooled_all",
    "pristine_pixel_fpr_pooled",
    "image_auc",
    "image_ap",
    "balanced_accuracy",
    "image_tpr_at_5fpr",
)

# Resampling needs thousands of pooled computations: they run on at most this many pooled levels (nested bins of
# the exact keys; exact whenever the run has fewer distinct values). Point estimates are always exact.
RESAMPLING_LEVELS = 1 << 14
MAX_SHIFT = 53  # 0.5's key has 53 low zero bits: up to this shift, 0.5 stays a bin edge


@dataclass
class _PooledIndex:
    """Every (image, distinct key) entry of every map, with its position among the run's distinct keys."""

    keys: np.ndarray  # distinct keys of the whole run, ascending
    inverse: np.ndarray  # entry -> index into keys
    row: np.ndarray  # entry -> image
    pos: np.ndarray  # float64 counts per entry
    neg: np.ndarray

    def summed(self, row_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = row_weights[self.row]
        n = len(self.keys)
        return (np.bincount(self.inverse, weights=self.pos * w, minlength=n),
                np.bincount(self.inverse, weights=self.neg * w, minlength=n))

    def coarsened(self, max_levels: int) -> "_PooledIndex":
        """The same entries on nested bins (low key bits cleared) with at most ``max_levels`` distinct keys."""
        if len(self.keys) <= max_levels:
            return self
        lo, hi = 1, MAX_SHIFT  # smallest shift that fits (distinct count is non-increasing in the shift)
        while lo < hi:
            mid = (lo + hi) // 2
            if len(np.unique(self.keys & ~np.uint64((1 << mid) - 1))) <= max_levels:
                hi = mid
            else:
                lo = mid + 1
        keys, remap = np.unique(self.keys & ~np.uint64((1 << lo) - 1), return_inverse=True)
        pair = self.row.astype(np.int64) * len(keys) + remap[self.inverse]
        pairs, where = np.unique(pair, return_inverse=True)
        return _PooledIndex(keys, (pairs % len(keys)).astype(np.intp), (pairs // len(keys)).astype(np.intp),
                            np.bincount(where, weights=self.pos), np.bincount(where, weights=self.neg))


class Scorer:
    def __init__(self, summaries) -> None:
        self.summaries = list(summaries)
        n = len(self.summaries)
        self.scores = np.array([s.score for s in self.summaries], dtype=np.float64)
        self.labels = np.array([s.label for s in self.summaries], dtype=np.int64)
        if n and (np.isnan(self.scores).any() or self.scores.min() < 0 or self.scores.max() > 1):
            raise ValueError("image scores must be finite and in [0, 1]")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError("labels must be 0 (pristine) or 1 (inpainted)")
        self.has_map = np.array([s.has_map for s in self.summaries], dtype=bool)
        self.n_pixels = np.array([s.n_pixels for s in self.summaries], dtype=np.float64)
        self.flagged = np.array([s.flagged for s in self.summaries], dtype=np.float64)
        self.map_sum = np.array([s.map_sum for s in self.summaries], dtype=np.float64)
        n_pos = np.array([s.n_pos for s in self.summaries], dtype=np.float64)
        # Pixel metrics "on forged images": images with a map and at least one GT-inpainted pixel.
        self.pixel_rows = self.has_map & (n_pos > 0)
        self.pristine_rows = self.has_map & (self.labels == 0)
        self.image_metric = {k: np.array([np.nan if s.metrics.get(k) is None else s.metrics[k]
                                          for s in self.summaries], dtype=np.float64) for k in IMAGE_PIXEL_FIELDS}

        # Histograms of different budgets meet on the coarsest grid among them.
        self.shift = max((s.shift for s in self.summaries), default=0)
        aligned = [s.regridded(self.shift) for s in self.summaries]
        self.exact = all(s.lossless for s in aligned)
        lengths = [len(s.hist) if s.has_map else 0 for s in aligned]
        keys = np.concatenate([s.hist.keys for s, k in zip(aligned, lengths) if k] or [np.zeros(0, np.uint64)])
        unique, inverse = np.unique(keys, return_inverse=True)
        self.pooled = _PooledIndex(
            unique, inverse.reshape(-1), np.repeat(np.arange(n), lengths),
            np.concatenate([s.hist.pos for s, k in zip(aligned, lengths) if k] or [np.zeros(0)]).astype(np.float64),
            np.concatenate([s.hist.neg for s, k in zip(aligned, lengths) if k] or [np.zeros(0)]).astype(np.float64),
        )
        self.score_values, self.score_group = hm.group_by_value(self.scores)

    def for_resampling(self, max_levels: int = RESAMPLING_LEVELS) -> "Scorer":
        """A view whose pooled metrics run on at most ``max_levels`` levels: for bootstrap intervals only."""
        view = object.__new__(Scorer)
        view.__dict__.update(self.__dict__)
        view.pooled = self.pooled.coarsened(max_levels)
        view.exact = self.exact and view.pooled is self.pooled
        return view

    def compute(self, weights: np.ndarray | None = None) -> dict:
        w = np.ones(len(self.scores)) if weights is None else np.asarray(weights, dtype=np.float64)
        out: dict = {
            "n_images": int(round(w.sum())),
            "n_inpainted": int(round(w[self.labels == 1].sum())),
            "n_pristine": int(round(w[self.labels == 0].sum())),
        }
        out.update(self._per_image_pixel_metrics(w))
        out.update(self._pooled_metrics(w * self.pixel_rows, ""))
        out.update(self._pooled_metrics(w * self.has_map, "_all"))
        out.update(self._pristine_metrics(w))
        out["pixel_pooled_exact"] = bool(self.exact)
        out["pixel_pooled_levels"] = int(len(self.pooled.keys))
        out.update(self._image_metrics(w))
        return {k: _clean(v) for k, v in out.items()}

    def _per_image_pixel_metrics(self, w: np.ndarray) -> dict:
        wp = w * self.pixel_rows
        m = self.image_metric
        out = {"n_pixel_images": int(round(wp.sum()))}
        out["pixel_f1_mean"] = _wmean(m["f1"], wp)
        out["pixel_f1_best_mean"] = _wmean(m["f1_best"], wp)
        out["pixel_iou_mean"] = _wmean(m["iou"], wp)
        out["pixel_auc_mean"] = _wmean(m["auc"], wp)
        out["n_pixel_auc_images"] = int(round(wp[~np.isnan(m["auc"])].sum()))
        out["pixel_ap_mean"] = _wmean(m["ap"], wp)
        out["pixel_tpr_at_5fpr_mean"] = _wmean(m["tpr_at_5fpr"], wp)
        out["pixel_f1_inverted_max_mean"] = _wmean(np.fmax(m["f1"], m["f1_inverted"]), wp)
        # IMDL-BenCo's convention, reported beside ours: every image with a map, authentic ones at F1 = 0,
        # threshold "> 0.5".
        wm = w * self.has_map
        out["imdlbenco_pixel_f1_mean"] = _wmean(m["f1_imdl"], wm)
        out["imdlbenco_pixel_iou_mean"] = _wmean(m["iou_imdl"], wm)
        return out

    def _pooled_metrics(self, row_weights: np.ndarray, suffix: str) -> dict:
        """Pooled pixel metrics: one confusion matrix over every pixel of the weighted images."""
        pos, neg = self.pooled.summed(row_weights)
        edge = int(np.searchsorted(self.pooled.keys, HALF_KEY, "left"))  # bins from here up are >= 0.5
        tp, fp, n_pos = pos[edge:].sum(), neg[edge:].sum(), pos.sum()
        ranked = ranking_metrics(pos, neg, TARGET_FPR)
        name = lambda metric: f"pixel_{metric}_pooled{suffix}"  # noqa: E731
        out = {
            name("f1"): 2 * tp / (tp + fp + n_pos) if n_pos > 0 else math.nan,
            name("iou"): tp / (fp + n_pos) if n_pos > 0 else math.nan,
            name("f1_best"): ranked["f1_best"],
            f"pixel_best_threshold_pooled{suffix}": _edge_value(ranked["best_edge"], self.pooled.keys)
            if n_pos > 0 else math.nan,
            name("auc"): ranked["auc"],
            name("ap"): ranked["ap"],
            name("tpr_at_5fpr"): ranked["tpr_at_fpr"],
        }
        if not self.exact:  # merged bins could hide any order between their inpainted and pristine pixels
            total = pos.sum() * neg.sum()
            out[f"pixel_auc_pooled{suffix}_error_bound"] = float(0.5 * (pos * neg).sum() / total) if total else math.nan
        return out

    def _pristine_metrics(self, w: np.ndarray) -> dict:
        """False alarms on authentic images: the pixel metrics above never see them."""
        wp = w * self.pristine_rows
        pixels = float(wp @ self.n_pixels)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_image = self.flagged / self.n_pixels
        return {
            "n_pristine_map_images": int(round(wp.sum())),
            "pristine_pixel_fpr_pooled": float(wp @ self.flagged) / pixels if pixels else math.nan,
            "pristine_pixel_fpr_mean": _wmean(per_image, wp),
            "pristine_map_mean": float(wp @ self.map_sum) / pixels if pixels else math.nan,
            "pristine_images_flagged": _wmean((self.flagged > 0).astype(np.float64), wp),
        }

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


def _edge_value(edge: int | None, keys: np.ndarray) -> float:
    """The score threshold of an edge: predicted inpainted iff score >= this value (NaN: nothing predicted)."""
    if edge is None or edge >= len(keys):
        return math.nan
    return float(keys_to_values(keys[edge : edge + 1])[0])


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


def compute_metrics(summaries) -> dict:
    return Scorer(summaries).compute()
