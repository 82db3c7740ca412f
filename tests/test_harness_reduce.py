"""The reducer: exact histograms equal brute-force counts for every dtype, keys keep the order of values even
between adjacent floats, every common GT encoding decodes (or is refused), resizing, bad maps rejected."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inpaintbench.gt_mask import binarize_gt
from inpaintbench.harness.exact_hist import HALF_KEY, exact_hist, keys_to_values, values_to_keys
from inpaintbench.harness.reduce import as_score_map, check_aspect, resize_to, summarize_prediction


def _brute(pred: np.ndarray, gt: np.ndarray):
    """Distinct float64 values with counts, by np.unique (no bit tricks)."""
    values = pred.astype(np.float64).ravel() / (255.0 if pred.dtype == np.uint8 else 1.0)
    distinct = np.unique(values)
    pos = np.array([np.sum((values == v) & gt.ravel()) for v in distinct])
    neg = np.array([np.sum((values == v) & ~gt.ravel()) for v in distinct])
    return distinct, pos, neg


@pytest.mark.parametrize("dtype", [np.uint8, np.float16, np.float32, np.float64])
def test_exact_histogram_equals_brute_force_counts(dtype):
    rng = np.random.default_rng(0)
    gt = rng.random((30, 40)) < 0.3
    if dtype == np.uint8:
        pred = rng.integers(0, 256, gt.shape).astype(np.uint8)
    else:  # saturated sigmoid: logits beyond +-10, most values within 1e-4 of 0 or 1
        pred = (1 / (1 + np.exp(-rng.normal(0, 12, gt.shape)))).astype(dtype)
        pred[:3] = dtype(0.5)  # a big tie exactly at the threshold
    hist = exact_hist(as_score_map(pred), gt)
    values, pos, neg = _brute(pred, gt)
    np.testing.assert_array_equal(hist.values, values)
    np.testing.assert_array_equal(hist.pos, pos)
    np.testing.assert_array_equal(hist.neg, neg)
    assert np.all(np.diff(hist.keys.astype(np.float64)) >= 0) and np.all(hist.keys[1:] != hist.keys[:-1])


def test_keys_order_adjacent_floats_at_both_ends_and_round_trip():
    f64 = np.float64
    values = np.array([0.0, 5e-324, 1e-300, np.nextafter(f64(0.5), 0), 0.5, np.nextafter(f64(0.5), 1),
                       1 - 2**-52, np.nextafter(f64(1), 0), 1.0])
    keys = values_to_keys(values)
    assert np.all(keys[1:] > keys[:-1])  # strictly increasing, even between neighbouring doubles near 1
    np.testing.assert_array_equal(keys_to_values(keys), values)
    assert values_to_keys(np.array([0.5]))[0] == HALF_KEY
    assert np.all((keys >= HALF_KEY) == (values >= 0.5))


def test_negative_zero_is_zero():
    gt = np.array([[True, False, True]])
    pred = np.array([[-0.0, 0.0, 1.0]], np.float32)
    hist = exact_hist(as_score_map(pred), gt)
    assert hist.values.tolist() == [0.0, 1.0] and hist.pos.tolist() == [1, 1] and hist.neg.tolist() == [1, 0]


@pytest.mark.parametrize("encoding", ["0/255", "0/1", "bool", "float01", "mode1", "16bit", "rgb"])
def test_every_common_gt_encoding_reads_the_same(encoding):
    truth = np.zeros((6, 8), bool)
    truth[1:4, 2:7] = True
    mask = {
        "0/255": truth.astype(np.uint8) * 255,
        "0/1": truth.astype(np.uint8),  # read as 0/255 (> 127) this would be empty: the bug this guards
        "bool": truth,
        "float01": truth.astype(np.float32),
        "mode1": Image.fromarray(truth.astype(np.uint8) * 255).convert("1"),
        "16bit": Image.fromarray(truth.astype(np.uint16) * 65535),
        "rgb": Image.fromarray(np.repeat(truth[..., None].astype(np.uint8) * 255, 3, axis=2)),
    }[encoding]
    np.testing.assert_array_equal(binarize_gt(mask), truth)
    assert summarize_prediction(truth.astype(np.float32), mask).label == 1


def test_soft_gt_edges_split_at_the_midpoint_of_their_encoding():
    assert binarize_gt(np.array([[0, 127, 128, 255]], np.uint8)).tolist() == [[False, False, True, True]]
    assert binarize_gt(np.array([[0.0, 0.5, 0.51, 1.0]])).tolist() == [[False, False, True, True]]


@pytest.mark.parametrize("mask, message", [
    (np.array([[0, 100]], np.uint8), "ambiguous"),  # non-zero but nothing above the midpoint: never "empty"
    (np.array([[0.0, 2.0]]), r"\[0, 1\]"),
    (np.array([[0, -1]], np.int32), "negative"),
    (np.array([[0, 70000]], np.int64), "70000"),
    (Image.fromarray(np.array([[[255, 0, 0]]], np.uint8)), "colour"),
    (np.zeros((2, 2, 2), np.uint8), "2-D"),
])
def test_ambiguous_gt_is_refused_never_read_as_empty(mask, message):
    with pytest.raises(ValueError, match=message):
        binarize_gt(mask)


def test_forged_label_with_empty_mask_is_refused():
    with pytest.raises(ValueError, match="empty but the label says inpainted"):
        summarize_prediction(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.uint8), label=1)


def test_prediction_is_resized_to_the_ground_truth_bilinearly_keeping_its_dtype():
    import cv2

    gt = np.zeros((40, 60), np.uint8)
    gt[:, 30:] = 255
    small = np.zeros((20, 30), np.float64)
    small[:, 15:] = 1.0
    s = summarize_prediction(small, gt, label=1)
    assert s.hist.pos.sum() == 1200 and s.hist.neg.sum() == 1200  # counted at the GT's 40 x 60
    out = resize_to(small, (40, 60))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, cv2.resize(small, (60, 40), interpolation=cv2.INTER_LINEAR))
    assert resize_to((small * 255).astype(np.uint8), (40, 60)).dtype == np.uint8
    assert resize_to(small.astype(np.float16), (40, 60)).dtype == np.float32  # OpenCV has no float16


def test_another_aspect_ratio_is_refused_by_summarize_like_every_entry_point():
    gt = np.zeros((40, 60), np.uint8)
    gt[:5] = 255
    assert check_aspect((20, 30), (40, 60)) is None
    with pytest.raises(ValueError, match="different aspect ratio"):
        summarize_prediction(np.zeros((40, 40), np.float32), gt)


def test_decisions_at_half_are_taken_in_the_maps_own_precision():
    # 0.5 - 1e-12 rounds to 0.5 in float32: a scorer that casts float64 maps to float32 flips this pixel.
    gt = np.array([[True, False]])
    s = summarize_prediction(np.array([[0.5 - 1e-12, 0.0]]), gt, label=1)
    assert s.metrics["f1"] == 0.0 and s.flagged == 0
    s32 = summarize_prediction(np.array([[0.5 - 1e-12, 0.0]], np.float32), gt, label=1)
    assert s32.metrics["f1"] == 1.0  # in float32 the value *is* 0.5


def test_score_defaults_to_map_max_and_label_to_mask_non_empty():
    gt = np.zeros((4, 4), np.uint8)
    pred = np.zeros((4, 4), np.uint8)
    pred[1, 1] = 204
    s = summarize_prediction(pred, gt)
    assert s.score == pytest.approx(0.8) and s.label == 0
    assert s.flagged == 1 and s.map_sum == pytest.approx(0.8)
    gt[0, 0] = 255
    assert summarize_prediction(pred, gt, score=0.25).score == 0.25 and summarize_prediction(pred, gt).label == 1


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
            summarize_prediction(None, gt, score=score)
    with pytest.raises(ValueError, match="map, a score"):
        summarize_prediction(None, gt)


def test_score_only_prediction_has_no_histogram():
    s = summarize_prediction(None, np.full((3, 3), 255, np.uint8), score=0.9)
    assert len(s.hist) == 0 and not s.has_map and s.label == 1
