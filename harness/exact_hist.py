"""A predicted map + its ground truth -> the exact sparse histogram of the map's distinct values.

Why not fixed bins: a trained network's sigmoid map puts nearly every pixel below 0.01 or above 0.99, and 1000
fixed bins cannot tell those values apart, so AUC, AP, TPR@FPR and best-F1 computed from them are wrong by up to
0.7 (issue 11). Instead every distinct value of the map, in the map's own precision, keeps its own
(positive, negative) pixel counts. Every ranking metric (ties averaged) follows exactly from these counts.

Values are stored as *two-sided keys*: uint64 integers whose order is the order of the values, with full
float64 resolution near both ends: a value v < 0.5 maps to the IEEE bits of v, a value v >= 0.5 to
``HALF + (HALF - bits(1 - v))`` (``1 - v`` is exact in binary floating point for v in [0.5, 1], Sterbenz).
0.5's key is ``HALF_KEY``: "score >= 0.5" is "key >= HALF_KEY", exactly, whatever the map's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inpaintbench.harness.ranking import ranking_metrics, scan_sorted_codes

HALF_KEY = np.uint64(0x3FE0000000000000)  # IEEE-754 bits of 0.5
FLOAT16_KEYS = 0x3C00 + 1  # float16 bit patterns of the values in [0, 1]


@dataclass
class SparseHist:
    """Distinct keys in ascending order with the pixel counts over GT-inpainted (pos) and GT-pristine (neg)."""

    keys: np.ndarray  # uint64, strictly ascending
    pos: np.ndarray  # int64
    neg: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def values(self) -> np.ndarray:
        return keys_to_values(self.keys)

    def load(self) -> SparseHist:
        """The histogram in memory: itself (a ``hist_store.SpilledHist`` reads its rows once)."""
        return self

    @staticmethod
    def empty() -> SparseHist:
        return SparseHist(np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64))


def values_to_keys(values: np.ndarray) -> np.ndarray:
    """float64 values in [0, 1] -> order-preserving uint64 keys (see module docstring)."""
    v = np.asarray(values, dtype=np.float64)
    high = v >= 0.5
    keys = v.view(np.uint64).copy()
    mirrored = (1.0 - v[high]).view(np.uint64)
    keys[high] = HALF_KEY + (HALF_KEY - mirrored)
    return keys


def keys_to_values(keys: np.ndarray) -> np.ndarray:
    k = np.asarray(keys, dtype=np.uint64)
    high = k >= HALF_KEY
    out = k.copy()
    out[high] = HALF_KEY - (k[high] - HALF_KEY)
    values = out.view(np.float64).copy()
    values[high] = 1.0 - values[high]
    return values


@dataclass
class ReducedMap:
    """One map against its ground truth: the exact histogram, its ranking metrics and the sum of the scores."""

    hist: SparseHist
    ranked: dict  # ranking.ranking_metrics of hist
    value_sum: float


def _from_dense(counts: np.ndarray, values: np.ndarray, max_fpr: float) -> ReducedMap:
    """(2, K) counts over K candidate values (row 0 negatives, row 1 positives) -> the present values only."""
    present = np.flatnonzero(counts[0] + counts[1])
    pos, neg, vals = counts[1, present], counts[0, present], values[present]
    return ReducedMap(SparseHist(values_to_keys(vals), pos, neg), ranking_metrics(pos, neg, max_fpr),
                      float(np.dot(vals, (pos + neg).astype(np.float64))))  # mixed-type dot is 100x slower


_UINT8_VALUES = np.arange(256, dtype=np.float64) / 255.0  # the value a uint8 map stands for, k / 255
_FLOAT16_VALUES = np.arange(FLOAT16_KEYS, dtype=np.uint16).view(np.float16).astype(np.float64)


def reduce_map(pred: np.ndarray, gt: np.ndarray, max_fpr: float) -> ReducedMap:
    """The exact histogram of ``pred`` (uint8, float16, float32 or float64, non-negative, values checked by the
    caller) split by the boolean ``gt``. O(pixels) for uint8 and float16 (dense counts over every possible value),
    one integer sort and one compiled walk for float32/64."""
    if pred.shape != gt.shape:
        raise ValueError(f"map shape {pred.shape} != ground-truth shape {gt.shape}")
    flat, g = pred.ravel(), np.ascontiguousarray(gt).ravel()
    if pred.dtype == np.uint8:
        counts = np.bincount(flat.astype(np.intp) + 256 * g, minlength=512).reshape(2, 256)
        return _from_dense(counts, _UINT8_VALUES, max_fpr)
    if pred.dtype == np.float16:
        bits = flat.view(np.uint16).astype(np.intp)  # non-negative float16: bit order is value order
        counts = np.bincount(bits + FLOAT16_KEYS * g, minlength=2 * FLOAT16_KEYS).reshape(2, FLOAT16_KEYS)
        return _from_dense(counts, _FLOAT16_VALUES, max_fpr)
    if pred.dtype == np.float32:
        # Non-negative float32 bits are < 2^30, so bits * 2 + gt fits uint32: one 4-byte sort. The shift drops
        # the sign bit, which makes -0.0 the same code as 0.0.
        codes = (flat.view(np.uint32) << np.uint32(1)) | g.view(np.uint8)
    elif pred.dtype == np.float64:
        codes = (flat.view(np.uint64) << np.uint64(1)) | g.view(np.uint8)
    else:
        raise ValueError(f"reduce_map takes uint8, float16, float32 or float64 maps, got {pred.dtype}")
    # Sorted as floats of the same width: a non-negative code read as an IEEE float is a positive finite number
    # (exponent field below all-ones), so float order is code order, and NumPy sorts floats faster than
    # integers on AVX2 (2.7 vs 3.5 ms for 262k 8-byte codes, benchmarks/scoring.py's machine).
    codes.view(np.float32 if codes.dtype == np.uint32 else np.float64).sort()
    keys, pos, neg, value_sum, ranked = scan_sorted_codes(codes, pred.dtype == np.float32, max_fpr)
    return ReducedMap(SparseHist(keys, pos, neg), ranked, value_sum)


def exact_hist(pred: np.ndarray, gt: np.ndarray) -> SparseHist:
    return reduce_map(pred, gt, 0.05).hist
