"""Every InpaintBench metric against exact references: sklearn on the full pixel arrays (ties averaged) and
brute-force counts, on adversarial map distributions of our own: saturated sigmoid outputs (logits beyond +-10)
in float16/32/64, float64 values closer than float32 can tell apart, maps of a few distinct values, uint8,
uint8 and float summaries mixed, ties at 0.5, constant maps, empty and full masks, all-authentic, all-forged.

The old fixed-bin scorer is re-run inline on the same maps (the attack) to show these cases are not vacuous."""

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

from inpaintbench.harness.reduce import ImageSummary, summarize_prediction
from inpaintbench.harness.scoring import Scorer

H, W = 24, 32
EXACT = 1e-9  # tighter than the 1e-6: the arithmetic is exact up to float64 rounding


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _make_map(rng, kind: str, gt: np.ndarray) -> np.ndarray:
    """One map of a distribution a real detector produces (or an adversary would)."""
    signal = np.where(gt, 1.0, -1.0)
    if kind.startswith("saturated"):  # a confident network: logits beyond +-10, overlapping classes
        z = 14 * signal + rng.normal(0, 9, gt.shape)
        dtype = {"saturated16": np.float16, "saturated32": np.float32, "saturated64": np.float64}[kind]
        return _sigmoid(z).astype(dtype)
    if kind == "below_float32":  # float64 values that only differ below float32's resolution near 1 and 0.5
        base = np.where(rng.random(gt.shape) < 0.5, 1 - 1e-12, 0.5)
        return base + rng.integers(-3, 4, gt.shape) * 1e-15 + 1e-16 * gt
    if kind == "few_values":
        levels = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32)
        return levels[np.clip(rng.integers(0, 4, gt.shape) + gt, 0, 4)]
    if kind == "uint8":
        pred = rng.integers(0, 256, gt.shape).astype(np.uint8)
        pred[rng.random(gt.shape) < 0.3] = 128  # a big tie at 128/255 >= 0.5
        return pred
    if kind == "uint8_coarse":
        return (rng.integers(0, 4, gt.shape) * 85).astype(np.uint8)
    if kind == "uniform":
        return np.clip(rng.random(gt.shape) + 0.3 * gt, 0, 1).astype(np.float32)
    raise ValueError(kind)


def _masks(rng, n: int) -> list[np.ndarray]:
    """Authentic, blob, scattered and full masks in turn."""
    masks = []
    for i in range(n):
        gt = np.zeros((H, W), bool)
        if i % 4 == 1:
            y, x = rng.integers(0, H - 8), rng.integers(0, W - 8)
            gt[y : y + rng.integers(3, 8), x : x + rng.integers(3, 8)] = True
        elif i % 4 == 2:
            gt[rng.random((H, W)) < 0.3] = True
        elif i % 4 == 3:
            gt[:] = True
        masks.append(gt)
    return masks


def _case(seed: int, kinds, n: int = 8):
    rng = np.random.default_rng(seed)
    masks = _masks(rng, n)
    maps = [_make_map(rng, kinds[i % len(kinds)], gt) for i, gt in enumerate(masks)]
    return maps, masks, [int(m.any()) for m in masks]


def _as_float(pred: np.ndarray) -> np.ndarray:
    """The value each pixel stands for, exactly (uint8 k means k / 255)."""
    return pred.astype(np.float64) / 255.0 if pred.dtype == np.uint8 else pred.astype(np.float64)


def _tpr_at(y, s, max_fpr=0.05) -> float:
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return float(tpr[fpr <= max_fpr].max())


def _brute_best_f1(y: np.ndarray, s: np.ndarray) -> float:
    """Counts TP/FP at every distinct threshold plus "nothing positive" (no cumulative sums)."""
    thresholds = np.append(np.unique(s), np.inf)
    best = 0.0
    for t in thresholds:
        predicted = s >= t
        tp, fp = int((predicted & y).sum()), int((predicted & ~y).sum())
        fn = int(y.sum()) - tp
        best = max(best, 2 * tp / max(2 * tp + fp + fn, 1))
    return best


def _reference(y: np.ndarray, s: np.ndarray) -> dict:
    """Every ranking and threshold metric by sklearn / brute force on all the pixels given."""
    ref = {"f1": f1_score(y, s >= 0.5, zero_division=0.0), "iou": jaccard_score(y, s >= 0.5, zero_division=0.0),
           "ap": average_precision_score(y, s), "f1_best": _brute_best_f1(y, s)}
    if 0 < y.sum() < y.size:
        ref["auc"] = roc_auc_score(y, s)
        ref["tpr_at_5fpr"] = _tpr_at(y, s)
    return ref


def _scorer(maps, masks, labels, scores=None) -> Scorer:
    return Scorer([summarize_prediction(p, g, None if scores is None else scores[i], labels[i])
                   for i, (p, g) in enumerate(zip(maps, masks, strict=True))])


KINDS = {
    "saturated16": ["saturated16"],
    "saturated32": ["saturated32"],
    "saturated64": ["saturated64"],
    "below_float32": ["below_float32"],
    "few_values": ["few_values"],
    "uint8": ["uint8", "uint8_coarse"],
    "mixed_dtypes": ["uint8", "saturated32", "few_values", "saturated64", "saturated16"],
}


@pytest.mark.parametrize("case", sorted(KINDS))
@pytest.mark.parametrize("seed", [0, 1])
def test_pixel_metrics_equal_sklearn_on_all_pixels(case, seed):
    maps, masks, labels = _case(seed, KINDS[case])
    got = _scorer(maps, masks, labels).compute()
    forged = [i for i, m in enumerate(masks) if m.any()]
    refs = [_reference(masks[i].ravel(), _as_float(maps[i]).ravel()) for i in forged]

    assert got["n_pixel_images"] == len(forged)
    for ours, theirs in (("pixel_f1_mean", "f1"), ("pixel_iou_mean", "iou"), ("pixel_ap_mean", "ap"),
                         ("pixel_f1_best_mean", "f1_best"), ("pixel_auc_mean", "auc"),
                         ("pixel_tpr_at_5fpr_mean", "tpr_at_5fpr")):
        values = [r[theirs] for r in refs if theirs in r]
        assert got[ours] == pytest.approx(np.mean(values), abs=EXACT), ours
    assert got["n_pixel_auc_images"] == sum("auc" in r for r in refs)  # full masks have no AUC

    pooled = _reference(np.concatenate([masks[i].ravel() for i in forged]),
                        np.concatenate([_as_float(maps[i]).ravel() for i in forged]))
    every = _reference(np.concatenate([m.ravel() for m in masks]),
                       np.concatenate([_as_float(p).ravel() for p in maps]))
    for metric in ("f1", "iou", "ap", "f1_best", "auc", "tpr_at_5fpr"):
        assert got[f"pixel_{metric}_pooled"] == pytest.approx(pooled[metric], abs=EXACT), metric
        assert got[f"pixel_{metric}_pooled_all"] == pytest.approx(every[metric], abs=EXACT), metric
    assert got["pixel_pooled_exact"] is True


@pytest.mark.parametrize("case", ["saturated32", "saturated64", "below_float32"])
def test_the_fixed_bin_scorer_was_wrong_on_the_same_maps(case):
    """The attack the exact histograms defeat: 1000 fixed bins merge the saturated values a trained network
    emits (the maps above), so its pooled AUC is off by far more than 1e-6."""
    maps, masks, labels = _case(0, KINDS[case])
    forged = [i for i, m in enumerate(masks) if m.any()]
    y = np.concatenate([masks[i].ravel() for i in forged])
    s = np.concatenate([_as_float(maps[i]).ravel() for i in forged])
    binned = np.minimum(np.floor(s * 1000), 999)
    assert abs(roc_auc_score(y, binned) - roc_auc_score(y, s)) > 1e-3
    assert _scorer(maps, masks, labels).compute()["pixel_auc_pooled"] == pytest.approx(roc_auc_score(y, s), abs=EXACT)


def test_uint8_and_float_summaries_mix_as_the_values_they_stand_for():
    """A uint8 map's 128 and a float map's 128/255 are the same score: they tie, in the pooled metrics too."""
    gt = np.zeros((H, W), bool)
    gt[:8] = True
    rng = np.random.default_rng(3)
    u8 = rng.integers(0, 256, (H, W)).astype(np.uint8)
    as_f64 = u8.astype(np.float64) / 255.0
    mixed = _scorer([u8, as_f64], [gt, gt], [1, 1]).compute()
    same = _scorer([u8, u8], [gt, gt], [1, 1]).compute()
    assert mixed == same
    assert mixed["pixel_pooled_levels"] == len(np.unique(u8))


def test_pristine_false_alarms_count():
    """An authentic image painted as fully inpainted loses in the pristine and pooled-over-all metrics (before,
    authentic images were simply left out of every pixel metric)."""
    rng = np.random.default_rng(5)
    masks = _masks(rng, 8)
    maps = [np.where(m, 0.9, 0.1).astype(np.float32) for m in masks]
    honest = _scorer(maps, masks, [int(m.any()) for m in masks]).compute()
    alarmist = [np.ones_like(p) if not m.any() else p for p, m in zip(maps, masks, strict=True)]
    painted = _scorer(alarmist, masks, [int(m.any()) for m in masks]).compute()
    assert painted["pixel_f1_mean"] == honest["pixel_f1_mean"]  # the forged-image metrics cannot see it...
    assert honest["pristine_pixel_fpr_pooled"] == 0.0 and painted["pristine_pixel_fpr_pooled"] == 1.0  # ...these can
    assert painted["pristine_map_mean"] == pytest.approx(1.0) and honest["pristine_map_mean"] == pytest.approx(0.1)
    assert painted["pristine_images_flagged"] == 1.0
    assert painted["pixel_f1_pooled_all"] < honest["pixel_f1_pooled_all"] - 0.1
    assert painted["imdlbenco_pixel_f1_mean"] == honest["imdlbenco_pixel_f1_mean"]  # IMDL counts authentic as 0
    # Means against direct counts on the pixels.
    pristine = [p for p, m in zip(alarmist, masks, strict=True) if not m.any()]
    assert painted["pristine_pixel_fpr_mean"] == pytest.approx(np.mean([(p >= 0.5).mean() for p in pristine]))


def test_imdlbenco_convention_counts_authentic_images_at_zero_with_a_strict_threshold():
    rng = np.random.default_rng(6)
    masks = _masks(rng, 8)
    maps = [_make_map(rng, "few_values", m) for m in masks]  # many pixels exactly at 0.5
    got = _scorer(maps, masks, [int(m.any()) for m in masks]).compute()
    f1 = [
        f1_score(m.ravel(), p.ravel() > 0.5, zero_division=0.0) if m.any() else 0.0
        for p, m in zip(maps, masks, strict=True)
    ]
    iou = [jaccard_score(m.ravel(), p.ravel() > 0.5, zero_division=0.0) if m.any() else 0.0
           for p, m in zip(maps, masks, strict=True)]
    assert got["imdlbenco_pixel_f1_mean"] == pytest.approx(np.mean(f1), abs=EXACT)
    assert got["imdlbenco_pixel_iou_mean"] == pytest.approx(np.mean(iou), abs=EXACT)
    ours = [f1_score(m.ravel(), p.ravel() >= 0.5) for p, m in zip(maps, masks, strict=True) if m.any()]
    assert got["pixel_f1_mean"] == pytest.approx(np.mean(ours), abs=EXACT)
    assert got["pixel_f1_mean"] != pytest.approx(got["imdlbenco_pixel_f1_mean"])  # the two really differ


def test_binary_map_auc_counts_ties_as_half():
    rng = np.random.default_rng(3)
    gt = np.zeros((H, W), bool)
    gt[4:16, 4:20] = True
    pred = ((rng.random((H, W)) < np.where(gt, 0.7, 0.2)) * 255).astype(np.uint8)
    got = _scorer([pred], [gt], [1]).compute()
    y, s = gt.ravel(), pred.ravel()
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (pos.size * neg.size)
    assert got["pixel_auc_pooled"] == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("value", [0, 127, 128, 255])
def test_constant_maps(value):
    gt = np.zeros((H, W), bool)
    gt[:10] = True
    pred = np.full((H, W), value, np.uint8)
    got = _scorer([pred], [gt], [1]).compute()
    y = gt.ravel()
    assert got["pixel_auc_pooled"] == 0.5  # every pair tied
    assert got["pixel_f1_mean"] == pytest.approx(f1_score(y, pred.ravel() >= 128), abs=1e-12)
    assert got["pixel_ap_pooled"] == pytest.approx(average_precision_score(y, pred.ravel()), abs=1e-12)
    assert got["pixel_f1_best_mean"] == pytest.approx(f1_score(y, np.ones_like(y)), abs=1e-12)  # predict all


def test_all_authentic_has_no_forged_pixel_metrics_but_false_alarms():
    rng = np.random.default_rng(4)
    maps = [rng.random((H, W)).astype(np.float32) for _ in range(5)]
    masks = [np.zeros((H, W), bool) for _ in range(5)]
    scores = [0.1, 0.7, 0.3, 0.5, 0.2]
    got = _scorer(maps, masks, [0] * 5, scores).compute()
    assert got["n_pixel_images"] == 0
    for key in ("pixel_f1_mean", "pixel_f1_pooled", "pixel_auc_pooled", "pixel_auc_mean", "pixel_iou_pooled"):
        assert got[key] is None, key
    assert got["pristine_pixel_fpr_pooled"] == pytest.approx(np.mean([(m >= 0.5).mean() for m in maps]))
    assert got["image_auc"] is None and got["image_ap"] is None  # undefined with one class
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score([0] * 5, np.array(scores) >= 0.5))


def test_all_forged_full_masks():
    rng = np.random.default_rng(5)
    maps = [rng.integers(0, 256, (H, W)).astype(np.uint8) for _ in range(3)]
    masks = [np.ones((H, W), bool) for _ in range(3)]
    got = _scorer(maps, masks, [1, 1, 1]).compute()
    assert got["pixel_auc_mean"] is None and got["pixel_auc_pooled"] is None  # no negative pixel anywhere
    y = np.ones(H * W, bool)
    assert got["pixel_f1_mean"] == pytest.approx(np.mean([f1_score(y, m.ravel() >= 128) for m in maps]))
    assert got["pixel_ap_pooled"] == 1.0
    assert got["balanced_accuracy"] == pytest.approx(np.mean([m.max() >= 128 for m in maps]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_image_metrics_match_sklearn_with_tied_scores(seed):
    rng = np.random.default_rng(seed)
    n = 60
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    scores = np.round(np.clip(rng.random(n) * 0.6 + 0.4 * labels, 0, 1), 1)  # rounding makes many ties
    scores[5] = 0.5  # exactly at the threshold: counts as inpainted
    masks = [np.full((2, 2), bool(label)) for label in labels]
    got = Scorer(
        [summarize_prediction(None, m, float(s), int(label)) for m, s, label in zip(masks, scores, labels, strict=True)]
    ).compute()
    assert got["image_auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert got["image_ap"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, scores >= 0.5), abs=1e-12)
    assert got["image_tpr_at_5fpr"] == pytest.approx(_tpr_at(labels, scores), abs=1e-12)
    assert got["n_pixel_images"] == 0 and got["pixel_f1_mean"] is None


def test_weights_equal_explicit_duplication():
    # Bootstrap and breakdowns use weights; they must equal scoring the duplicated images outright.
    maps, masks, labels = _case(7, KINDS["mixed_dtypes"])
    sums = [summarize_prediction(p, g, None, label) for p, g, label in zip(maps, masks, labels, strict=True)]
    weights = np.array([0, 2, 1, 3, 1, 0, 2, 1])
    a = Scorer(sums).compute(weights)
    b = Scorer([sums[i] for i in np.repeat(np.arange(8), weights)]).compute()
    a.pop("pixel_pooled_levels"), b.pop("pixel_pooled_levels")  # zero-weight images' values stay indexed
    for key, value in b.items():
        if value is None or isinstance(value, bool):
            assert a[key] == value, key
        else:
            assert a[key] == pytest.approx(value, abs=1e-12), key


def test_summaries_round_trip_through_the_evaluate_module_rows():
    maps, masks, labels = _case(8, KINDS["mixed_dtypes"])
    sums = [summarize_prediction(p, g, None, label) for p, g, label in zip(maps, masks, labels, strict=True)]
    again = [ImageSummary.from_example(s.as_example()) for s in sums]
    assert Scorer(again).compute() == Scorer(sums).compute()


def _admitted(maps, masks, labels, budget, order=None):
    from inpaintbench.harness.records import EntryBudget, SampleRecord

    fit, records = EntryBudget(budget), []
    for i in (range(len(maps)) if order is None else order):
        g = masks[i]
        records.append(SampleRecord(i, {"sample_id": f"s{i}", "label": labels[i]}, int(g.sum()), int((~g).sum()),
                                    summarize_prediction(maps[i], g, None, labels[i])))
        fit.admit(records[-1].summary)
    return records, fit


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in b.items():
        if isinstance(value, float):
            assert a[key] == pytest.approx(value, abs=1e-12), key
        else:
            assert a[key] == value, key


def test_histograms_past_the_memory_budget_spill_to_disk_and_score_exactly(monkeypatch):
    """Resident memory stays bounded by the budget; scored a key range at a time, every value is the same."""
    from inpaintbench.harness import scoring
    from inpaintbench.harness.hist_store import SpilledHist

    maps, masks, labels = _case(9, ["saturated64", "saturated32", "uint8"], n=12)
    records, fit = _admitted(maps, masks, labels, budget=500)
    resident = [len(r.summary.hist) for r in records if not isinstance(r.summary.hist, SpilledHist)]
    assert fit.store is not None and sum(resident) <= 500 and len(resident) < len(records) // 2
    in_memory = _scorer(maps, masks, labels)
    monkeypatch.setattr(scoring, "RANGE_ROWS", 300)  # many key ranges, each read back from the file
    spilled = Scorer([r.summary for r in records])
    assert len(spilled.pooled.ranges) > 5
    _same(spilled.compute(), in_memory.compute())
    weights = np.array([0, 2, 1, 3, 1, 0, 2, 1, 1, 1, 0, 4])
    _same(spilled.compute(weights), in_memory.compute(weights))
    # ...and both equal sklearn on all pixels (the first test's reference), spilled or not.
    y = np.concatenate([m.ravel() for m in masks])
    s = np.concatenate([_as_float(p).ravel() for p in maps])
    assert spilled.compute()["pixel_auc_pooled_all"] == pytest.approx(roc_auc_score(y, s), abs=EXACT)


def test_spilled_histograms_cross_processes_as_rows():
    """accelerate's gather pickles records: a spilled histogram travels as its rows, not as a path to a scratch
    file the receiving process may not see (or that its owner deletes)."""
    import pickle

    maps, masks, labels = _case(11, ["saturated32"], n=4)
    records, _ = _admitted(maps, masks, labels, budget=10)
    again = pickle.loads(pickle.dumps([r.summary for r in records]))
    _same(Scorer(again).compute(), Scorer([r.summary for r in records]).compute())
    rows = [ImageSummary.from_example(r.summary.as_example()) for r in records]  # the evaluate module's path
    _same(Scorer(rows).compute(), Scorer([r.summary for r in records]).compute())


def test_bootstrap_levels_are_exact_for_few_values_and_centred_on_the_exact_value():
    maps, masks, labels = _case(12, ["uint8"], n=8)  # at most 256 distinct values: resamples are exact
    scorer = _scorer(maps, masks, labels)
    view = scorer.for_resampling()
    assert view.resampling.exact and all(abs(v) < 1e-12 for v in view.offsets.values())
    maps, masks, labels = _case(12, ["saturated32"], n=8)  # thousands: coarse levels, shifted onto the exact value
    scorer = _scorer(maps, masks, labels)
    view = scorer.for_resampling(max_levels=64)
    assert not view.resampling.exact
    exact, coarse = scorer.compute(), view.compute()
    pooled = [k for k, v in exact.items()
              if k.startswith("pixel_") and "_pooled" in k and "threshold" not in k and isinstance(v, float)]
    assert len(pooled) == 12
    for key in pooled:
        assert coarse[key] == pytest.approx(exact[key], abs=1e-12), key
    resample = np.random.default_rng(0).integers(0, 3, 8).astype(float)  # a resample moves them, but not far
    assert view.compute(resample)["pixel_auc_pooled"] == pytest.approx(scorer.compute(resample)["pixel_auc_pooled"],
                                                                      abs=0.02)
