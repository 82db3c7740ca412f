"""The inner loops of exact scoring, compiled with numba: sorted pixel codes -> distinct values with their
counts and every ranking metric, in one walk from the top score down; and the same metrics for any histogram.

Why compiled: a float map has about as many distinct values as pixels (233k of 262k for a 512 x 512 sigmoid map),
so after the one unavoidable sort every step runs over arrays as long as the image. Done as a dozen NumPy passes
that cost several times the sort itself (each pass allocates and faults in a fresh array); one compiled walk
keeps exact scoring at a few milliseconds per image (benchmarks/scoring.py).

Definitions (sklearn's, ties averaged; bins are distinct scores in ascending order, walked from the top):
AUC = sum over negatives of (positives strictly above + half the tied ones) / (P N); AP = sum over distinct
thresholds of (recall gain x precision); best F1 = max over thresholds of 2 TP / (TP + FP + P); TPR at FPR =
the largest TPR among ROC points whose FP / N <= max_fpr (the all-negative point, TPR 0, always qualifies).
"""

from __future__ import annotations

import math

import numba
import numpy as np


HALF_BITS = np.uint64(0x3FE0000000000000)  # IEEE-754 bits of 0.5 (exact_hist.HALF_KEY)


@numba.njit(cache=True, nogil=True, inline="always")
def _two_sided_key(v, u64, f64):
    """exact_hist.values_to_keys for one value; ``u64``/``f64`` are one 8-byte cell seen as both types."""
    if v < 0.5:
        f64[0] = v
        return u64[0]
    f64[0] = 1.0 - v  # exact for v in [0.5, 1] (Sterbenz)
    return HALF_BITS + (HALF_BITS - u64[0])


@numba.njit(cache=True, nogil=True)
def scan_sorted_codes(codes, is_float32, max_fpr):
    """Sorted ``value_bits << 1 | is_positive`` codes of a float32 (``is_float32``) or float64 map -> the
    two-sided keys of its distinct values (ascending) with their positive and negative counts, the sum of all
    pixel values, and the ranking metrics of that histogram. Two passes: one counts, one walks the codes from the
    top, closing a bin at each change of value."""
    n = codes.shape[0]
    n_groups = 0
    n_pos = 0
    for i in range(n):
        n_pos += codes[i] & 1
        if i == 0 or (codes[i] >> 1) != (codes[i - 1] >> 1):
            n_groups += 1
    keys = np.empty(n_groups, np.uint64)
    pos = np.empty(n_groups, np.int64)
    neg = np.empty(n_groups, np.int64)
    u32 = np.zeros(1, np.uint32)
    f32 = u32.view(np.float32)
    u64 = np.zeros(1, np.uint64)
    f64 = u64.view(np.float64)
    P, N = float(n_pos), float(n - n_pos)
    run = (0.0, 0.0, 0.0, 0.0, 0.0, n_groups, 0.0, True)
    value_sum = 0.0
    g = n_groups
    p = 0
    q = 0
    for i in range(n - 1, -1, -1):
        if codes[i] & 1:
            p += 1
        else:
            q += 1
        if i == 0 or (codes[i] >> 1) != (codes[i - 1] >> 1):  # bin closed: codes[i] is its lowest code
            g -= 1
            if is_float32:
                u32[0] = np.uint32(codes[i] >> 1)
                v = np.float64(f32[0])
            else:
                u64[0] = np.uint64(codes[i] >> 1)
                v = f64[0]
            value_sum += v * (p + q)
            keys[g] = _two_sided_key(v, u64, f64)
            pos[g] = p
            neg[g] = q
            run = _step(run, float(p), float(q), P, N, max_fpr, g)
            p = 0
            q = 0
    auc, ap, tpr, f1 = _finish(run, P, N)
    return keys, pos, neg, value_sum, auc, ap, tpr, f1, run[5]


@numba.njit(cache=True, nogil=True, inline="always")
def _step(run, p, q, n_pos, n_neg, max_fpr, j):
    """One bin, walking down from the highest score. ``run``: (tp, fp, AUC wins, AP sum, best F1, its bin,
    TPR at the FPR limit, whether the FPR limit still holds); returns the updated tuple."""
    tp, fp, wins, gained, best_f1, best_edge, tpr, open_ = run
    wins += q * (tp + 0.5 * p)  # positives in strictly higher bins, ties count half
    tp += p
    fp += q
    if p > 0.0:
        gained += p * tp / (tp + fp)  # recall gain x precision at this threshold
        if 2.0 * tp > best_f1 * (tp + fp + n_pos):  # F1 only rises where positives are added
            best_f1 = 2.0 * tp / (tp + fp + n_pos)
            best_edge = j
    if open_:
        if n_neg > 0.0 and n_pos > 0.0 and fp / n_neg <= max_fpr:
            tpr = tp / n_pos  # tp only grows: the last qualifying point is the largest TPR
        else:
            open_ = False  # fp only grows: no later point qualifies
    return tp, fp, wins, gained, best_f1, best_edge, tpr, open_


@numba.njit(cache=True, nogil=True, inline="always")
def _finish(run, n_pos, n_neg):
    nan = math.nan
    auc = run[2] / (n_pos * n_neg) if n_pos > 0.0 and n_neg > 0.0 else nan
    ap = run[3] / n_pos if n_pos > 0.0 else nan
    tpr = run[6] if n_pos > 0.0 and n_neg > 0.0 else nan
    f1 = run[4] if n_pos > 0.0 else nan
    return auc, ap, tpr, f1


@numba.njit(cache=True, nogil=True)
def _ranking(pos, neg, max_fpr):
    n_pos = 0.0
    n_neg = 0.0
    for j in range(pos.shape[0]):
        n_pos += pos[j]
        n_neg += neg[j]
    run = (0.0, 0.0, 0.0, 0.0, 0.0, pos.shape[0], 0.0, True)  # best bin: "nothing predicted" until beaten
    for j in range(pos.shape[0] - 1, -1, -1):
        run = _step(run, float(pos[j]), float(neg[j]), n_pos, n_neg, max_fpr, j)
    auc, ap, tpr, f1 = _finish(run, n_pos, n_neg)
    return auc, ap, tpr, f1, run[5]


def as_ranked(auc, ap, tpr, f1, edge) -> dict:
    return {"auc": auc, "ap": ap, "tpr_at_fpr": tpr, "f1_best": f1, "best_edge": int(edge)}


def ranking_metrics(pos: np.ndarray, neg: np.ndarray, max_fpr: float) -> dict:
    """AUC, AP, TPR at ``max_fpr``, best F1 and the bin index where it is reached (len(pos) = nothing predicted)
    of a histogram in ascending score order; NaN where undefined (no positives, or no negatives for AUC/TPR)."""
    pos = np.ascontiguousarray(pos)  # int64 or float64 (weighted sums): numba compiles one loop for each
    neg = np.ascontiguousarray(neg, dtype=pos.dtype)
    return as_ranked(*_ranking(pos, neg, float(max_fpr)))
