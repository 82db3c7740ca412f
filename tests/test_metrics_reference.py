"""Every InpaintBench metric against exact references: sklearn on the full pixel arrays and brute-force counts,
on random and adversarial inputs (ties, constant maps, empty and full masks, all-authentic, all-forged)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    jaccard_score,
    roc_auc_score,
    roc_curve,
)

from inpaintbench.harness.reduce import summarize
from inpaintbench.harness.scoring import Scorer

H, W = 24, 32


def _quantised(pred: np.ndarray) -> np.ndarray:
    """The values the histogram sees: uint8 as is, floats floored to 1/1000 (the documented bins)."""
    if pred.dtype == np.uint8:
        return pred.astype(np.float64) / 255.0
    return np.minimum(np.floor(pred.astype(np.float32) * np.float32(1000)), 999) / 1000.0


def _random_case(rng, kind: str, n: int = 8):
    """(maps, masks, labels): masks of every kind, maps with heavy ties for uint8."""
    maps, masks = [], []
    for i in range(n):
        gt = np.zeros((H, W), np.uint8)
        shape = i % 4
        if shape == 1:  # random blob
            y, x = rng.integers(0, H - 6), rng.integers(0, W - 6)
            gt[y : y + rng.integers(2, 7), x : x + rng.integers(2, 7)] = 255
        elif shape == 2:  # scattered pixels
            gt[rng.random((H, W)) < 0.3] = 255
        elif shape == 3:  # full mask: no negatives
            gt[:] = 255
        # shape 0: authentic (empty mask)
        if kind == "uint8":
            pred = rng.integers(0, 256, (H, W)).astype(np.uint8)
            pred[rng.random((H, W)) < 0.3] = 128  # a big tie straddling nothing: 128/255 >= 0.5
        elif kind == "uint8_coarse":
            pred = (rng.integers(0, 4, (H, W)) * 85).astype(np.uint8)  # 4 levels: ties everywhere
        else:
            pred = rng.random((H, W)).astype(np.float32)
            pred[gt > 127] = np.clip(pred[gt > 127] + 0.3, 0, 1)
        maps.append(pred)
        masks.append(gt)
    labels = [int(m.any()) for m in masks]
    return maps, masks, labels


def _scorer(maps, masks, labels, scores=None):
    sums = [summarize(p, g, None if scores is None else scores[i], labels[i]) for i, (p, g) in enumerate(zip(maps, masks))]
    return Scorer([s.pos_hist for s in sums], [s.neg_hist for s in sums], [s.score for s in sums], labels).compute()


def _brute_best_f1(y: np.ndarray, q: np.ndarray) -> float:
    """Brute force: count TP/FP/FN at every distinct threshold plus "nothing positive" (no cumsum tricks)."""
    thresholds = np.append(np.unique(q), np.inf)[:, None]
    predicted = q[None, :] >= thresholds
    tp = (predicted & y[None, :]).sum(axis=1)
    fp = (predicted & ~y[None, :]).sum(axis=1)
    fn = y.sum() - tp
    return float(np.max(2 * tp / np.maximum(2 * tp + fp + fn, 1)))


def _tpr_at(y, s, max_fpr=0.05) -> float:
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return float(tpr[fpr <= max_fpr].max())


@pytest.mark.parametrize("kind", ["uint8", "uint8_coarse", "float"])
@pytest.mark.parametrize("seed", [0, 1])
def test_pixel_metrics_match_sklearn_on_full_pixel_arrays(kind, seed):
    rng = np.random.default_rng(seed)
    maps, masks, labels = _random_case(rng, kind)
    got = _scorer(maps, masks, labels)
    forged = [i for i, m in enumerate(masks) if (m > 127).any()]
    ys = [(masks[i] > 127).ravel() for i in forged]
    qs = [_quantised(maps[i]).ravel() for i in forged]
    raw = [maps[i].ravel() / (255.0 if maps[i].dtype == np.uint8 else 1.0) for i in forged]

    f1 = [f1_score(y, r >= 0.5) for y, r in zip(ys, raw)]
    iou = [jaccard_score(y, r >= 0.5) for y, r in zip(ys, raw)]
    auc = [roc_auc_score(y, q) for y, q in zip(ys, qs) if 0 < y.sum() < y.size]
    ap = [average_precision_score(y, q) for y, q in zip(ys, qs)]
    best = [_brute_best_f1(y, q) for y, q in zip(ys, qs)]
    inv = [max(f1_score(y, r >= 0.5), f1_score(y, (1 - r) >= 0.5)) for y, r in zip(ys, raw)]
    assert got["n_pixel_images"] == len(forged)
    assert got["pixel_f1_mean"] == pytest.approx(np.mean(f1), abs=1e-12)
    assert got["pixel_iou_mean"] == pytest.approx(np.mean(iou), abs=1e-12)
    assert got["pixel_auc_mean"] == pytest.approx(np.mean(auc), abs=1e-12)
    assert got["n_pixel_auc_images"] == len(auc)  # full masks (no negatives) left out of the AUC mean
    assert got["pixel_ap_mean"] == pytest.approx(np.mean(ap), abs=1e-12)
    assert got["pixel_f1_best_mean"] == pytest.approx(np.mean(best), abs=1e-12)
    if kind != "float":  # 1 - p lands in the mirrored bin exactly only for uint8 maps
        assert got["pixel_f1_inverted_max_mean"] == pytest.approx(np.mean(inv), abs=1e-12)

    y_all, q_all, r_all = np.concatenate(ys), np.concatenate(qs), np.concatenate(raw)
    assert got["pixel_f1_pooled"] == pytest.approx(f1_score(y_all, r_all >= 0.5), abs=1e-12)
    assert got["pixel_iou_pooled"] == pytest.approx(jaccard_score(y_all, r_all >= 0.5), abs=1e-12)
    assert got["pixel_auc_pooled"] == pytest.approx(roc_auc_score(y_all, q_all), abs=1e-12)
    assert got["pixel_ap_pooled"] == pytest.approx(average_precision_score(y_all, q_all), abs=1e-12)
    assert got["pixel_f1_best_pooled"] == pytest.approx(_brute_best_f1(y_all, q_all), abs=1e-12)
    assert got["pixel_tpr_at_5fpr_pooled"] == pytest.approx(_tpr_at(y_all, q_all), abs=1e-12)
    if kind == "float":  # binning error against the raw floats stays tiny
        assert got["pixel_auc_pooled"] == pytest.approx(roc_auc_score(y_all, r_all), abs=2e-3)


def test_binary_map_auc_counts_ties_as_half():
    # A binary map: a sort-based AUC that ignores ties gets this wrong (NOTES: 0.864 vs 0.822).
    rng = np.random.default_rng(3)
    gt = np.zeros((H, W), np.uint8)
    gt[4:16, 4:20] = 255
    pred = ((rng.random((H, W)) < np.where(gt > 0, 0.7, 0.2)) * 255).astype(np.uint8)
    got = _scorer([pred], [gt], [1])
    y, s = (gt > 0).ravel(), pred.ravel()
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (pos.size * neg.size)
    assert got["pixel_auc_pooled"] == pytest.approx(brute, abs=1e-12)
    assert got["pixel_auc_pooled"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("value", [0, 127, 128, 255])
def test_constant_maps(value):
    gt = np.zeros((H, W), np.uint8)
    gt[:10] = 255
    pred = np.full((H, W), value, np.uint8)
    got = _scorer([pred], [gt], [1])
    y = (gt > 0).ravel()
    assert got["pixel_auc_pooled"] == 0.5  # every pair tied
    assert got["pixel_f1_mean"] == pytest.approx(f1_score(y, pred.ravel() >= 128), abs=1e-12)
    assert got["pixel_ap_pooled"] == pytest.approx(average_precision_score(y, pred.ravel()), abs=1e-12)
    assert got["pixel_f1_best_mean"] == pytest.approx(f1_score(y, np.ones_like(y)), abs=1e-12)  # predict all


def test_all_authentic_has_no_pixel_metrics_and_one_class_image_metrics():
    rng = np.random.default_rng(4)
    maps = [rng.random((H, W)).astype(np.float32) for _ in range(5)]
    masks = [np.zeros((H, W), np.uint8) for _ in range(5)]
    scores = [0.1, 0.7, 0.3, 0.5, 0.2]
    got = _scorer(maps, masks, [0] * 5, scores)
    assert got["n_pixel_images"] == 0
    for key in ("pixel_f1_mean", "pixel_f1_pooled", "pixel_auc_pooled", "pixel_auc_mean", "pixel_iou_pooled"):
        assert got[key] is None, key
    assert got["image_auc"] is None and got["image_ap"] is None  # undefined with one class
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score([0] * 5, np.array(scores) >= 0.5))
    assert got["image_tnr"] == pytest.approx(0.6)


def test_all_forged_full_masks():
    rng = np.random.default_rng(5)
    maps = [rng.integers(0, 256, (H, W)).astype(np.uint8) for _ in range(3)]
    masks = [np.full((H, W), 255, np.uint8) for _ in range(3)]
    got = _scorer(maps, masks, [1, 1, 1])
    assert got["pixel_auc_mean"] is None and got["pixel_auc_pooled"] is None  # no negative pixel anywhere
    assert got["n_pixel_auc_images"] == 0
    y = np.ones(H * W, bool)
    assert got["pixel_f1_mean"] == pytest.approx(np.mean([f1_score(y, m.ravel() >= 128) for m in maps]))
    assert got["pixel_ap_pooled"] == 1.0
    assert got["image_auc"] is None
    assert got["balanced_accuracy"] == pytest.approx(np.mean([m.max() >= 128 for m in maps]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_image_metrics_match_sklearn_with_tied_scores(seed):
    rng = np.random.default_rng(seed)
    n = 60
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    scores = np.round(np.clip(rng.random(n) * 0.6 + 0.4 * labels, 0, 1), 1)  # rounding makes many ties
    scores[5] = 0.5  # exactly at the threshold: counts as inpainted
    pos = np.zeros((n, 4))
    got = Scorer(pos, pos, scores, labels).compute()
    assert got["image_auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert got["image_ap"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, scores >= 0.5), abs=1e-12)
    assert got["image_tpr_at_5fpr"] == pytest.approx(_tpr_at(labels, scores), abs=1e-12)
    assert got["n_pixel_images"] == 0 and got["pixel_f1_mean"] is None


def test_weights_equal_explicit_duplication():
    # Bootstrap and breakdowns use weights; they must equal scoring the duplicated images outright.
    rng = np.random.default_rng(7)
    maps, masks, labels = _random_case(rng, "uint8", n=8)
    sums = [summarize(p, g, None, l) for p, g, l in zip(maps, masks, labels)]
    weights = np.array([0, 2, 1, 3, 1, 0, 2, 1])
    idx = np.repeat(np.arange(8), weights)
    full = Scorer([s.pos_hist for s in sums], [s.neg_hist for s in sums], [s.score for s in sums], labels)
    dup = Scorer(
        [sums[i].pos_hist for i in idx], [sums[i].neg_hist for i in idx], [sums[i].score for i in idx],
        [labels[i] for i in idx],
    )
    a, b = full.compute(weights), dup.compute()
    for key, value in b.items():
        if value is None:
            assert a[key] is None, key
        else:
            assert a[key] == pytest.approx(value, abs=1e-12), key


def test_inconsistent_summaries_are_rejected():
    with pytest.raises(ValueError, match="inconsistent summaries"):
        Scorer(np.zeros((2, 4)), np.zeros((2, 5)), [0.1, 0.2], [0, 1])
    with pytest.raises(ValueError, match="labels"):
        Scorer(np.zeros((1, 4)), np.zeros((1, 4)), [0.1], [2])
