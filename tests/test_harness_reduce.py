"""The reducer: histograms equal brute-force counts, resizing, GT binarisation, bad maps rejected."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inpaintbench.harness.reduce import as_score_map, binarize_gt, histogram_pair, resize_to, summarize


def _brute_counts(values: np.ndarray, gt: np.ndarray, n_bins: int):
    pos = np.array([np.sum((values == k) & gt) for k in range(n_bins)])
    neg = np.array([np.sum((values == k) & ~gt) for k in range(n_bins)])
    return pos, neg


def test_uint8_histograms_are_exact_counts():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 256, (30, 40)).astype(np.uint8)
    gt = rng.random((30, 40)) < 0.3
    pos, neg = histogram_pair(pred, gt, 256)
    bpos, bneg = _brute_counts(pred.astype(int), gt, 256)
    np.testing.assert_array_equal(pos, bpos)
    np.testing.assert_array_equal(neg, bneg)


def test_float_bins_are_floor_of_score_times_1000_and_half_is_an_edge():
    gt = np.array([[True, False, True, False, True, False]])
    pred = np.array([[0.0, np.nextafter(np.float32(0.5), np.float32(0)), 0.5, 0.9994, 1.0, 0.0015]], np.float32)
    pos, neg = histogram_pair(pred, gt, 1000)
    assert np.flatnonzero(pos).tolist() == [0, 500, 999]  # 0, 0.5 and 1.0 (1.0 joins the last bin)
    assert np.flatnonzero(neg).tolist() == [1, 499, 999]  # 0.0015, just-below-0.5, 0.9994
    # uint8 maps pooled into float bins keep the 0.5 decision exact: 127 -> below 500, 128 -> at/above 500.
    pos_u, _ = histogram_pair(np.array([[127, 128]], np.uint8), np.array([[True, True]]), 1000)
    assert np.flatnonzero(pos_u).tolist() == [498, 501]


def test_gt_binarisation_is_strictly_above_127():
    mask = Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8), "L")
    assert binarize_gt(mask).tolist() == [[False, False, True, True]]
    rgb = Image.fromarray(np.full((2, 2, 3), 200, np.uint8))
    assert binarize_gt(rgb).all()  # converted to L first
    bool_gt = np.array([[True, False]])
    assert binarize_gt(bool_gt) is bool_gt  # already binary: not thresholded again


def test_prediction_is_resized_to_the_ground_truth_bilinearly():
    gt = np.zeros((40, 60), np.uint8)
    gt[:, 30:] = 255
    small = np.zeros((20, 30), np.float32)
    small[:, 15:] = 1.0
    s = summarize(small, gt, label=1)
    assert s.pos_hist.sum() == 1200 and s.neg_hist.sum() == 1200  # counted at the GT's 40 x 60
    import cv2

    expected = cv2.resize(small, (60, 40), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(resize_to(small, (40, 60)), expected)
    u8 = resize_to((small * 255).astype(np.uint8), (40, 60))
    assert u8.dtype == np.uint8  # keeps its exact 256 bins


def test_score_defaults_to_map_max_and_label_to_mask_non_empty():
    gt = np.zeros((4, 4), np.uint8)
    pred = np.zeros((4, 4), np.uint8)
    pred[1, 1] = 204
    s = summarize(pred, gt)
    assert s.score == pytest.approx(0.8) and s.label == 0
    gt[0, 0] = 255
    assert summarize(pred, gt, score=0.25).score == 0.25 and summarize(pred, gt).label == 1


@pytest.mark.parametrize(
    "pred, message",
    [
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.full((4, 4), 1.5, np.float32), r"\[0, 1\]"),
        (np.full((4, 4), -0.1, np.float64), r"\[0, 1\]"),
        (np.zeros((4, 4, 3), np.float32), "2-D"),
        (np.zeros((4, 4), np.int32), "dtype"),
        (np.zeros((0, 4), np.float32), "empty"),
    ],
)
def test_bad_maps_are_rejected_with_the_reason(pred, message):
    with pytest.raises(ValueError, match=message):
        as_score_map(pred)


def test_bad_scores_are_rejected():
    gt = np.zeros((2, 2), np.uint8)
    for score, message in ((float("nan"), "nan"), (1.2, r"\[0, 1\]"), ("x", "number")):
        with pytest.raises(ValueError, match=message):
            summarize(None, gt, score=score)
    with pytest.raises(ValueError, match="map, a score"):
        summarize(None, gt)


def test_score_only_prediction_has_empty_histograms():
    s = summarize(None, np.full((3, 3), 255, np.uint8), score=0.9)
    assert s.pos_hist.sum() == 0 and s.neg_hist.sum() == 0 and s.label == 1
