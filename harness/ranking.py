"""The inner loops of exact scoring, compiled with numba. Each walks distinct scores from the highest down and
updates every ranking metric at each one (``_step``):

- ``scan_sorted_codes``: one image's sorted pixel codes -> its exact histogram and metrics;
- ``ranking_metrics``: any histogram (bins in ascending order) -> the metrics;
- ``merge_walk``: many images' histograms merged on the fly (a k-way merge from the top, no merged copy), for
  several image weightings at once -> pooled metrics; resumable, so spilled histograms go a key range at a time.

Why compiled: a float map has about as many distinct values as pixels (233k of 262k for a 512 x 512 sigmoid map),
so after the one unavoidable sort every step runs over arrays as long as the image or the whole run. As NumPy
passes (or a sort of every image's rows together) that costs several times the rest of scoring; one compiled
walk keeps exact scoring at a few milliseconds per image (benchmarks/scoring.py).

Definitions (sklearn's, ties averaged): AUC = sum over negatives of (positives strictly above + half the tied
ones) / (P N); AP = sum over distinct thresholds of recall gain x precision; best F1 = max over thresholds of
2 TP / (TP + FP + P) (predicting nothing scores 0); TPR at FPR = the largest TPR among ROC points with
FP / N <= max_fpr (the all-negative point, TPR 0, always qualifies).
"""

from __future__ import annotations

import math

import numba
import numpy as np

HALF_BITS = np.uint64(0x3FE0000000000000)  # IEEE-754 bits of 0.5 (exact_hist.HALF_KEY)
NOTHING = -1  # best-F1 label while "predict nothing" is still the best threshold

# A walk's running state: a tuple while one walk runs in a loop (numba keeps it in registers: 3x faster than
# an array row), rows of two arrays per walk between calls of the resumable ``merge_walk``.
TP, FP, WINS, GAINED, BEST_F1, TPR, OPEN, TP_HALF, FP_HALF, LEVELS, BEST = range(11)


def new_state(n_walks: int) -> tuple[np.ndarray, np.ndarray]:
    """(state rows, best-F1 labels) for ``n_walks`` walks that have seen nothing yet."""
    state = np.zeros((n_walks, BEST))
    state[:, OPEN] = 1.0
    return state, np.full(n_walks, NOTHING, np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _start():
    return (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, True, 0.0, 0.0, 0.0, np.int64(NOTHING))


@numba.njit(cache=True, nogil=True, inline="always")
def _step(run, p, q, n_pos, n_neg, max_fpr, label, key):
    """One distinct score (``p`` positives, ``q`` negatives, its ``key``, recorded as ``label`` if it gives the
    best F1 so far), below every score seen so far. Returns the updated state tuple."""
    tp, fp, wins, gained, best_f1, tpr, open_, tp_half, fp_half, levels, best = run
    wins += q * (tp + 0.5 * p)  # positives strictly above this score, ties count half
    tp += p
    fp += q
    if p > 0.0:
        gained += p * tp / (tp + fp)  # recall gain x precision at this threshold
        if 2.0 * tp > best_f1 * (tp + fp + n_pos):  # F1 only rises where positives are added
            best_f1 = 2.0 * tp / (tp + fp + n_pos)
            best = label
    if open_:
        if n_neg > 0.0 and n_pos > 0.0 and fp / n_neg <= max_fpr:
            tpr = tp / n_pos  # tp only grows: the last qualifying point is the largest TPR
        else:
            open_ = False  # fp only grows: no later point qualifies
    if key >= HALF_BITS:
        tp_half += p
        fp_half += q
    if p + q > 0.0:
        levels += 1.0
    return tp, fp, wins, gained, best_f1, tpr, open_, tp_half, fp_half, levels, best


@numba.njit(cache=True, nogil=True, inline="always")
def _load(state, best, w):
    return (state[w, TP], state[w, FP], state[w, WINS], state[w, GAINED], state[w, BEST_F1], state[w, TPR],
            state[w, OPEN] > 0.0, state[w, TP_HALF], state[w, FP_HALF], state[w, LEVELS], best[w])


@numba.njit(cache=True, nogil=True, inline="always")
def _store(state, best, w, run):
    tp, fp, wins, gained, best_f1, tpr, open_, tp_half, fp_half, levels, label = run
    state[w, TP], state[w, FP], state[w, WINS], state[w, GAINED] = tp, fp, wins, gained
    state[w, BEST_F1], state[w, TPR], state[w, OPEN] = best_f1, tpr, 1.0 if open_ else 0.0
    state[w, TP_HALF], state[w, FP_HALF], state[w, LEVELS] = tp_half, fp_half, levels
    best[w] = label


def walk_state(state: tuple[np.ndarray, np.ndarray], w: int) -> tuple:
    """Walk ``w``'s state (``new_state``'s pair) as the tuple ``finish`` reads."""
    rows, best = state
    row = rows[w]
    return (*row[:OPEN], bool(row[OPEN]), *row[TP_HALF:], int(best[w]))


def finish(run: tuple, n_pos: float, n_neg: float) -> dict:
    """The metrics of a finished walk (NaN where undefined: no positives; AUC and TPR also need negatives)."""
    nan = math.nan
    both = n_pos > 0 and n_neg > 0
    return {
        "auc": run[WINS] / (n_pos * n_neg) if both else nan,
        "ap": run[GAINED] / n_pos if n_pos > 0 else nan,
        "tpr_at_fpr": run[TPR] if both else nan,
        "f1_best": run[BEST_F1] if n_pos > 0 else nan,
        "best_label": int(run[BEST]),  # bin index or key of the best-F1 threshold; NOTHING: predict nothing
        "tp_half": run[TP_HALF], "fp_half": run[FP_HALF], "levels": int(run[LEVELS]),
    }


@numba.njit(cache=True, nogil=True, inline="always")
def _two_sided_key(v, u64, f64):
    """exact_hist.values_to_keys for one value; ``u64``/``f64`` are one 8-byte cell seen as both types."""
    if v < 0.5:
        f64[0] = v
        return u64[0]
    f64[0] = 1.0 - v  # exact for v in [0.5, 1] (Sterbenz)
    return HALF_BITS + (HALF_BITS - u64[0])


@numba.njit(cache=True, nogil=True)
def _scan(codes, is_float32, max_fpr):
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
    value_sum = 0.0
    run = _start()
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
            key = _two_sided_key(v, u64, f64)
            keys[g] = key
            pos[g] = p
            neg[g] = q
            run = _step(run, float(p), float(q), P, N, max_fpr, np.int64(g), key)
            p = 0
            q = 0
    return keys, pos, neg, value_sum, n_pos, run


def scan_sorted_codes(codes: np.ndarray, is_float32: bool, max_fpr: float):
    """Sorted ``value_bits << 1 | is_positive`` codes of a float32 (``is_float32``) or float64 map -> (two-sided
    keys of its distinct values ascending, positive counts, negative counts, sum of all pixel values, metrics as
    ``ranking_metrics`` gives them). Two passes: one counts, one walks the codes from the top."""
    keys, pos, neg, value_sum, n_pos, run = _scan(codes, bool(is_float32), float(max_fpr))
    metrics = finish(run, float(n_pos), float(len(codes) - n_pos))
    return keys, pos, neg, value_sum, _with_edge(metrics, len(keys))


@numba.njit(cache=True, nogil=True)
def _ranking(keys, pos, neg, max_fpr):
    n_pos = 0.0
    n_neg = 0.0
    for j in range(pos.shape[0]):
        n_pos += pos[j]
        n_neg += neg[j]
    run = _start()
    for j in range(pos.shape[0] - 1, -1, -1):
        run = _step(run, float(pos[j]), float(neg[j]), n_pos, n_neg, max_fpr, np.int64(j), keys[j])
    return n_pos, n_neg, run


def ranking_metrics(pos: np.ndarray, neg: np.ndarray, max_fpr: float, keys: np.ndarray | None = None) -> dict:
    """AUC, AP, TPR at ``max_fpr``, best F1 and the bin where it is reached (``best_edge``; len(pos): predict
    nothing) of a histogram in ascending score order. ``keys`` (two-sided keys of the bins) only feed the
    at-0.5 counts."""
    pos = np.ascontiguousarray(pos)  # int64 or float64 (weighted sums): numba compiles one loop for each
    neg = np.ascontiguousarray(neg, dtype=pos.dtype)
    keys = np.zeros(len(pos), np.uint64) if keys is None else np.ascontiguousarray(keys, np.uint64)
    n_pos, n_neg, run = _ranking(keys, pos, neg, float(max_fpr))
    return _with_edge(finish(run, n_pos, n_neg), len(pos))


def _with_edge(metrics: dict, n_bins: int) -> dict:
    label = metrics.pop("best_label")
    metrics["best_edge"] = n_bins if label == NOTHING else label
    return metrics


@numba.njit(cache=True, nogil=True)
def merge_walk(keys, pos, neg, offsets, weights, n_pos, n_neg, max_fpr, state, best):
    """Walk the union of several histograms from the top: ``keys/pos/neg[offsets[i]:offsets[i+1]]`` is image
    i's part (ascending), ``weights[w, i]`` its weight in walk w. A max-heap of the images' current keys merges
    them in O(rows log images), without a merged copy. Updates ``state``/``best`` (``new_state``) in place, so a
    walk resumes where the previous key range left it."""
    n_images = offsets.shape[0] - 1
    cursor = offsets[1:] - 1  # each image's next row, from its top
    heap = np.empty(n_images, np.int64)  # images, by their current key
    top = np.empty(n_images, np.uint64)  # heap[j]'s current key, kept beside it (one load per comparison)
    size = 0
    for i in range(n_images):
        if cursor[i] >= offsets[i]:
            heap[size] = i
            top[size] = keys[cursor[i]]
            size += 1
            _sift_up(heap, top, size - 1)
    n_walks = weights.shape[0]
    p_sum = np.zeros(n_walks)
    q_sum = np.zeros(n_walks)
    while size > 0:
        key = top[0]
        p_sum[:] = 0.0
        q_sum[:] = 0.0
        while size > 0 and top[0] == key:  # every image holding this score
            i = heap[0]
            row = cursor[i]
            for w in range(n_walks):
                p_sum[w] += weights[w, i] * pos[row]
                q_sum[w] += weights[w, i] * neg[row]
            cursor[i] = row - 1
            if row - 1 >= offsets[i]:
                top[0] = keys[row - 1]
            else:
                size -= 1
                heap[0] = heap[size]
                top[0] = top[size]
            _sift_down(heap, top, size)
        for w in range(n_walks):
            if p_sum[w] + q_sum[w] > 0.0:
                run = _step(_load(state, best, w), p_sum[w], q_sum[w], n_pos[w], n_neg[w], max_fpr, np.int64(key),
                            key)
                _store(state, best, w, run)


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_up(heap, top, j):
    while j > 0:
        parent = (j - 1) // 2
        if top[j] > top[parent]:
            heap[j], heap[parent] = heap[parent], heap[j]
            top[j], top[parent] = top[parent], top[j]
            j = parent
        else:
            break


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, top, size):
    j = 0
    while True:
        left = 2 * j + 1
        if left >= size:
            break
        largest = left
        if left + 1 < size and top[left + 1] > top[left]:
            largest = left + 1
        if top[largest] > top[j]:
            heap[j], heap[largest] = heap[largest], heap[j]
            top[j], top[largest] = top[largest], top[j]
            j = largest
        else:
            break
