"""All InpaintBench metrics from per-image summaries (``reduce.ImageSummary``).

``Scorer`` indexes every image's exact histogram once; ``Scorer.compute(weights)`` then gives every metric for
any multiset of images (weights = how many times each image counts), which is what makes subgroup breakdowns
and bootstrap resampling cheap: no pixel is touched again. Per-image pixel metrics were computed exactly when
each map was reduced; pooled ones are computed here from the summed exact histograms, so both equal sklearn on
all pixels (ties averaged). Conventions: see ``conventions.CONVENTIONS``.
"""

from __future__ import annotations

import math

import numpy as np

from inpaintbench.harness.conventions import IMAGE_THRESHOLD, TARGET_FPR
from inpaintbench.harness.exact_hist import HALF_KEY, keys_to_values
from inpaintbench.harness.pixel_metrics import IMAGE_PIXEL_FIELDS
from inpaintbench.harness.ranking import NOTHING, finish, merge_walk, new_state, ranking_metrics, walk_state

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

# Bootstrap resamples need thousands of pooled computations: inside resamples, pooled pixel metrics run on at
# most this many levels (adaptive: quantiles of the run's own values, 0.5 always a level edge; exact whenever the
# run has fewer distinct values), and the intervals are shifted by (exact value - value at these levels).
RESAMPLING_LEVELS = 1024
# Spilled histograms are scored a key range at a time; a range holds about this many rows of all images.
RANGE_ROWS = 1 << 20


def _rows(hist, low: int, high: int | None):
    """(keys, pos, neg) of ``hist`` with low <= key < high, from memory or from its spill file."""
    if hasattr(hist, "rows_between"):
        rows = hist.rows_between(low, high)
        return rows["key"], rows["pos"], rows["neg"]
    lo = int(np.searchsorted(hist.keys, np.uint64(low), "left"))
    hi = len(hist.keys) if high is None else int(np.searchsorted(hist.keys, np.uint64(high), "left"))
    return hist.keys[lo:hi], hist.pos[lo:hi], hist.neg[lo:hi]


class _PooledHistograms:
    """Every image's exact histogram, walked from the top for any image weights (``ranking.merge_walk``).

    In memory, one key range (its rows concatenated once). Spilled, ranges cut at quantiles of the histograms'
    fence keys (``hist_store.FENCE``), each about ``RANGE_ROWS`` rows of all images, read back one at a time."""

    def __init__(self, hists: list, spilled: bool) -> None:
        from inpaintbench.harness.hist_store import FENCE

        self.hists = hists
        total = sum(len(h) for h in hists)
        n_ranges = max(1, -(-total // RANGE_ROWS)) if spilled else 1
        edges: list[int] = []
        if n_ranges > 1:
            fences = np.sort(np.concatenate([h.fences if hasattr(h, "fences") else h.keys[::FENCE] for h in hists]))
            picks = fences[(np.arange(1, n_ranges) * len(fences)) // n_ranges]
            edges = sorted({int(k) for k in picks})
        bounds = [0] + edges + [None]
        self.ranges = list(zip(bounds[:-1], bounds[1:], strict=True))[::-1]  # highest keys first
        self._cached = self._gather(0, None) if not spilled else None

    def _gather(self, low: int, high: int | None):
        parts = [_rows(h, low, high) for h in self.hists]
        offsets = np.zeros(len(parts) + 1, np.int64)
        offsets[1:] = np.cumsum([len(p[0]) for p in parts])
        keys = np.concatenate([p[0] for p in parts] or [np.zeros(0, np.uint64)]).astype(np.uint64, copy=False)
        pos = np.concatenate([p[1] for p in parts] or [np.zeros(0, np.int64)]).astype(np.int64, copy=False)
        neg = np.concatenate([p[2] for p in parts] or [np.zeros(0, np.int64)]).astype(np.int64, copy=False)
        return keys, pos, neg, offsets

    def metrics(self, weight_sets: list[np.ndarray], n_pos: list[float], n_neg: list[float]) -> list[dict]:
        """Exact pooled metrics for each weight vector, all in one walk over the histograms."""
        weights = np.ascontiguousarray(np.array(weight_sets, dtype=np.float64).reshape(len(weight_sets), -1))
        state = new_state(len(weight_sets))
        n_pos_a, n_neg_a = np.array(n_pos, np.float64), np.array(n_neg, np.float64)
        for low, high in self.ranges:
            keys, pos, neg, offsets = self._cached if self._cached is not None else self._gather(low, high)
            merge_walk(keys, pos, neg, offsets, weights, n_pos_a, n_neg_a, TARGET_FPR, *state)
        out = []
        for w in range(len(weight_sets)):
            ranked = finish(walk_state(state, w), n_pos_a[w], n_neg_a[w])
            label = ranked.pop("best_label")
            ranked.update(n_pos=n_pos_a[w], best_key=None if label == NOTHING else np.uint64(label))
            out.append(ranked)
        return out


class _ResamplingLevels:
    """Per-image counts on at most ``RESAMPLING_LEVELS`` shared levels (dense, small): what a bootstrap resample
    sums. Level edges: quantiles of all the run's keys by pixel count, plus 0.5."""

    def __init__(self, pooled: _PooledHistograms, n_images: int, max_levels: int) -> None:
        # The run's distinct keys with their pixel counts, a key range at a time.
        parts = []
        for low, high in pooled.ranges[::-1]:
            keys, pos, neg, _ = pooled._cached if pooled._cached is not None else pooled._gather(low, high)
            unique, inverse = np.unique(keys, return_inverse=True)
            parts.append((unique, np.bincount(inverse, weights=pos + neg, minlength=len(unique))))
        keys = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.uint64)
        mass = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        if len(keys) <= max_levels:
            edges = keys  # every distinct value is its own level: exact
        else:
            cum = np.cumsum(mass)
            picks = np.searchsorted(cum, np.linspace(0, cum[-1], max_levels, endpoint=False), "right")
            edges = np.unique(np.concatenate([keys[np.minimum(picks, len(keys) - 1)], [HALF_KEY], keys[:1]]))
        self.exact = len(keys) <= max_levels
        self.edges = edges.astype(np.uint64)
        n = len(self.edges)
        self.pos = np.zeros((n_images, n))
        self.neg = np.zeros((n_images, n))
        for i, hist in enumerate(pooled.hists):
            if len(hist):
                k, p, q = _rows(hist, 0, None)
                level = np.searchsorted(self.edges, k, "right") - 1
                self.pos[i] = np.bincount(level, weights=p, minlength=n)
                self.neg[i] = np.bincount(level, weights=q, minlength=n)

    def metrics(self, row_weights: np.ndarray) -> dict:
        pos, neg = row_weights @ self.pos, row_weights @ self.neg
        ranked = ranking_metrics(pos, neg, TARGET_FPR, self.edges)
        edge = ranked.pop("best_edge")
        ranked.update(n_pos=pos.sum(), best_key=self.edges[edge] if edge < len(self.edges) else None)
        return ranked


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
        self.n_pos = np.array([s.n_pos for s in self.summaries], dtype=np.float64)
        self.n_neg = np.array([s.n_neg for s in self.summaries], dtype=np.float64)
        # Pixel metrics "on forged images": images with a map and at least one GT-inpainted pixel.
        self.pixel_rows = self.has_map & (self.n_pos > 0)
        self.pristine_rows = self.has_map & (self.labels == 0)
        self.image_metric = {k: np.array([np.nan if s.metrics.get(k) is None else s.metrics[k]
                                          for s in self.summaries], dtype=np.float64) for k in IMAGE_PIXEL_FIELDS}

        from inpaintbench.harness.hist_store import SpilledHist

        hists = [s.hist for s in self.summaries]
        self.spilled = any(isinstance(h, SpilledHist) for h in hists)
        self.pooled = _PooledHistograms(hists, self.spilled)
        self.resampling: _ResamplingLevels | None = None  # set on a for_resampling view only
        self.offsets: dict[str, float] = {}  # a resampling view's shift onto the exact values
        # Image scores grouped by value: the image-level histogram (ties kept together).
        self.score_values, self.score_group = np.unique(self.scores, return_inverse=True)
        self.score_group = self.score_group.reshape(-1)

    def for_resampling(self, max_levels: int = RESAMPLING_LEVELS) -> Scorer:
        """A view whose pooled pixel metrics run on at most ``max_levels`` shared levels, shifted by the exact
        full-data value minus the full-data value at those levels: for bootstrap intervals only."""
        view = object.__new__(Scorer)
        view.__dict__.update(self.__dict__)
        view.resampling = _ResamplingLevels(self.pooled, len(self.scores), max_levels)
        full = np.ones(len(self.scores))
        exact, coarse = self.compute(full), view.compute(full)
        view.offsets = {k: exact[k] - coarse[k] for k in exact
                        if k.startswith("pixel_") and "_pooled" in k and "threshold" not in k
                        and isinstance(exact[k], float) and isinstance(coarse.get(k), float)}
        return view

    def compute(self, weights: np.ndarray | None = None) -> dict:
        return self.compute_many([weights])[0]

    def compute_many(self, weight_sets: list) -> list[dict]:
        """Every metric for each weight vector (None: every image once); the exact pooled metrics of all of them
        come from one pass over the histograms."""
        ws = [np.ones(len(self.scores)) if w is None else np.asarray(w, dtype=np.float64) for w in weight_sets]
        forged = [w * self.pixel_rows for w in ws]
        mapped = [w * self.has_map for w in ws]
        if self.resampling is not None:
            pooled = [self.resampling.metrics(w) for w in forged + mapped]
        else:
            pooled = self.pooled.metrics(forged + mapped, [w @ self.n_pos for w in forged + mapped],
                                         [w @ self.n_neg for w in forged + mapped])
        results = []
        for k, w in enumerate(ws):
            out: dict = {
                "n_images": int(round(w.sum())),
                "n_inpainted": int(round(w[self.labels == 1].sum())),
                "n_pristine": int(round(w[self.labels == 0].sum())),
            }
            out.update(self._per_image_pixel_metrics(w))
            out.update(_pooled_names(pooled[k], ""))
            out.update(_pooled_names(pooled[len(ws) + k], "_all"))
            out.update(self._pristine_metrics(w))
            out["pixel_pooled_levels"] = int(pooled[k]["levels"])
            # Always true for scoring (every distinct value counted); a resampling view's may be coarser.
            out["pixel_pooled_exact"] = self.resampling is None or self.resampling.exact
            out.update(self._image_metrics(w))
            results.append({name: self._shifted(name, _clean(v)) for name, v in out.items()})
        return results

    def _shifted(self, name: str, value):
        if isinstance(value, float) and name in self.offsets:
            return value + self.offsets[name]
        return value

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
        tp, fp = pos[edge:].sum(), neg[edge:].sum()
        ranked = ranking_metrics(pos, neg, TARGET_FPR)
        recalls = []
        if pos.sum() > 0:
            recalls.append(tp / pos.sum())
        if neg.sum() > 0:
            recalls.append(1.0 - fp / neg.sum())
        return {
            "image_auc": ranked["auc"],
            "image_ap": ranked["ap"],
            "image_tpr_at_5fpr": ranked["tpr_at_fpr"],
            # Mean recall over the classes present (sklearn's balanced_accuracy_score).
            "balanced_accuracy": float(np.mean(recalls)) if recalls else math.nan,
            "image_tpr": float(tp / pos.sum()) if pos.sum() > 0 else math.nan,
            "image_tnr": float(1.0 - fp / neg.sum()) if neg.sum() > 0 else math.nan,
        }


def _pooled_names(ranked: dict, suffix: str) -> dict:
    """A pooled metrics dict under its result names (``suffix`` "" for forged images, "_all" for every image)."""
    tp, fp, n_pos = ranked["tp_half"], ranked["fp_half"], ranked["n_pos"]
    best = ranked["best_key"]
    return {
        f"pixel_f1_pooled{suffix}": 2 * tp / (tp + fp + n_pos) if n_pos > 0 else math.nan,
        f"pixel_iou_pooled{suffix}": tp / (fp + n_pos) if n_pos > 0 else math.nan,
        f"pixel_f1_best_pooled{suffix}": ranked["f1_best"],
        # predicted inpainted iff score >= this value (NaN: predicting nothing is best, or no forged pixel)
        f"pixel_best_threshold_pooled{suffix}": float(keys_to_values(np.array([best], np.uint64))[0])
        if best is not None and n_pos > 0 else math.nan,
        f"pixel_auc_pooled{suffix}": ranked["auc"],
        f"pixel_ap_pooled{suffix}": ranked["ap"],
        f"pixel_tpr_at_5fpr_pooled{suffix}": ranked["tpr_at_fpr"],
    }


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
