"""The trained pixel-level baseline: features, pixel sampling, a fit that must learn, the model file, and
``train-detector`` -> ``evaluate`` end to end on a real (tiny) generator build."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inpaintbench.harness.training.features import FEATURES_VERSION, compute_features, feature_names
from inpaintbench.harness.training.model_file import TrainedModelError, load_model, save_model, sidecar_path
from inpaintbench.harness.training.sampling import PixelBudget, balanced_weights, plan_budget, sample_pixels
from inpaintbench.harness.training.trainer import TrainOptions, train_detector
from tests.helpers.detector_data import SIZE, SMALL_FIT, noisy_patch_image, training_data, write_tiny_build


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    # HistGradientBoosting uses OpenMP: one thread, as every test here must on the shared 2-core machine.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        estimator, meta = train_detector(training_data(), TrainOptions(pristine_share=0.25, seed=0, **SMALL_FIT))
    path = save_model(tmp_path_factory.mktemp("model") / "synth.joblib", estimator, meta)
    return estimator, meta, path


def _mean_pixel_f1(estimator, n_images: int = 6, seed: int = 99) -> float:
    """Mean per-image F1 at 0.5 on fresh inpainted images (never seen in training)."""
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n_images):
        image, mask = noisy_patch_image(rng, inpainted=True)
        features = compute_features(image)
        pred = estimator.predict_proba(features.reshape(-1, features.shape[-1]))[:, 1] >= 0.5
        gt = mask.ravel() > 127
        tp = float((pred & gt).sum())
        scores.append(2 * tp / max(float(pred.sum() + gt.sum()), 1.0))
    return float(np.mean(scores))


def test_features_are_deterministic_finite_and_of_the_named_shape():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    first, second = compute_features(image), compute_features(image.copy())
    assert first.shape == (37, 53, len(feature_names())) and first.dtype == np.float32
    assert np.array_equal(first, second)
    assert np.isfinite(first).all()
    other = compute_features(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8))
    assert not np.array_equal(first, other)
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        compute_features(image[..., 0])


def test_pixel_sampling_is_balanced_seeded_and_order_free():
    mask = np.zeros((40, 40), bool)
    mask[5:15, 5:25] = True  # 200 inpainted pixels of 1600
    budget = PixelBudget(pixels_per_image=100, pixels_per_pristine=30)
    idx, y = sample_pixels(mask, True, budget, seed=1, sample_id="a")
    assert idx.size == 100 and y.sum() == 50 and np.array_equal(y, mask.ravel()[idx])
    again, _ = sample_pixels(mask, True, budget, seed=1, sample_id="a")
    assert np.array_equal(idx, again)
    assert not np.array_equal(idx, sample_pixels(mask, True, budget, seed=2, sample_id="a")[0])
    assert not np.array_equal(idx, sample_pixels(mask, True, budget, seed=1, sample_id="b")[0])
    pristine_idx, pristine_y = sample_pixels(np.zeros_like(mask), False, budget, seed=1, sample_id="p")
    assert pristine_idx.size == 30 and pristine_y.sum() == 0
    # the pristine share is a share of all sampled pixels: 0.25 -> one pristine pixel per three inpainted ones
    share = plan_budget(100, 0.25, n_inpainted=6, n_pristine=2)
    assert share.pixels_per_pristine * 2 / (share.pixels_per_pristine * 2 + 600) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no pristine image"):
        plan_budget(100, 0.5, n_inpainted=6, n_pristine=0)
    with pytest.raises(ValueError, match="only one class"):
        balanced_weights(np.zeros(5, np.int8))


def test_fit_learns_a_noisy_patch_well_above_a_constant_model(fitted):
    from sklearn.dummy import DummyClassifier

    estimator, meta, _ = fitted
    learned = _mean_pixel_f1(estimator)
    # The same measurement on constant models: the bar below is one they cannot pass.
    x = np.zeros((2, len(feature_names())), np.float32)
    constants = [DummyClassifier(strategy="constant", constant=c).fit(x, [0, 1]) for c in (0, 1)]
    constant_best = max(_mean_pixel_f1(c) for c in constants)
    assert constant_best < 0.3
    assert learned > 0.7, f"pixel F1 {learned:.3f} on held-out noisy patches"
    assert meta["counts"]["pristine_images"] == 3 and meta["counts"]["achieved_pristine_share"] == pytest.approx(
        0.25, abs=0.01
    )
    assert meta["training_backends"] == ["noise_paint"] and meta["features_version"] == FEATURES_VERSION


def test_training_is_deterministic_for_a_seed():
    small = {**SMALL_FIT, "pixels_per_image": 100, "max_iter": 10}
    data = training_data(n=4)
    a, _ = train_detector(data, TrainOptions(seed=3, **small))
    b, _ = train_detector(data, TrainOptions(seed=3, **small))
    c, _ = train_detector(data, TrainOptions(seed=4, **small))
    probe = compute_features(noisy_patch_image(np.random.default_rng(5), True)[0]).reshape(-1, len(feature_names()))
    assert np.array_equal(a.predict_proba(probe), b.predict_proba(probe))
    # Another seed samples other training pixels: another model.
    assert not np.array_equal(a.predict_proba(probe), c.predict_proba(probe))


def test_saved_model_round_trips_through_the_registered_detector(fitted):
    from inpaintbench.harness.detectors import create_detector

    estimator, meta, path = fitted
    image, _ = noisy_patch_image(np.random.default_rng(7), True)
    features = compute_features(image)
    expected = estimator.predict_proba(features.reshape(-1, features.shape[-1]))[:, 1].reshape(SIZE, SIZE)
    full = create_detector("trained", model=str(path), stride=1).predict(image)
    np.testing.assert_array_equal(full["map"], expected.astype(np.float32))
    detector = create_detector("trained", model=str(path))  # default stride 2: every other pixel, half-size map
    out = detector.predict(image)
    np.testing.assert_array_equal(out["map"], expected[::2, ::2].astype(np.float32))
    assert 0.0 <= out["score"] <= 1.0
    assert detector.describe()["training_backends"] == ["noise_paint"]
    assert detector.describe()["model"]["sha256"] == meta_sha(path)


def meta_sha(path) -> str:
    return json.loads(sidecar_path(path).read_text())["model_sha256"]


def test_model_file_problems_are_named(fitted, tmp_path):
    import shutil

    _, _, path = fitted
    with pytest.raises(TrainedModelError, match="missing.joblib: model file not found"):
        load_model(tmp_path / "missing.joblib")
    copy = tmp_path / "old.joblib"
    shutil.copy(path, copy)
    with pytest.raises(TrainedModelError, match="sidecar not found"):
        load_model(copy)
    side = json.loads(sidecar_path(path).read_text())
    sidecar_path(copy).write_text(json.dumps({**side, "features_version": "ib-pixel-features-0"}))
    with pytest.raises(TrainedModelError, match=r"old\.joblib: trained on features 'ib-pixel-features-0'"):
        load_model(copy)
    sidecar_path(copy).write_text(json.dumps({**side, "model_sha256": "0" * 64}))
    with pytest.raises(TrainedModelError, match=r"old\.joblib: sha256 differs"):
        load_model(copy)
    with pytest.raises(ValueError, match="needs its model file"):
        from inpaintbench.harness.detectors import create_detector

        create_detector("trained")


# ---- end to end on a real generator build: train-detector -> evaluate ------------------------------------


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    return write_tiny_build(tmp_path_factory.mktemp("build"), "trained-detector",
                            {"train": 0.6, "validation": 0.2, "test": 0.2})


@pytest.mark.slow  # a real generation run and two CLI runs (~10-20 s on a shared 2-core machine)
def test_train_detector_cli_trains_on_train_only_and_evaluates_end_to_end(tiny_build, tmp_path, capsys):
    from inpaintbench.cli import main
    from inpaintbench.harness.results import read_results
    from inpaintbench.harness.training.data import open_training_data

    run, split_config = tiny_build
    model = tmp_path / "m.joblib"
    for split in ("test", "validation", "test_ood_backend"):
        assert main(["train-detector", "--data", str(run), "--out", str(model), "--split", split, "--no-progress"]) == 2
        assert f"refusing to train on split {split!r}" in capsys.readouterr().err
    assert not model.exists()

    argv = ["train-detector", "--data", str(run), "--out", str(model), "--split-config", str(split_config),
            "--pristine-ratio", "0.25", "--pixels-per-image", "200", "--max-iter", "20", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    meta = json.loads(sidecar_path(model).read_text())
    train = open_training_data(run, split_config=str(split_config))
    assert meta["training_data"]["split"] == "train" and meta["training_data"]["num_samples"] == len(train.dataset)
    assert meta["training_data"]["manifest_sha256"] and meta["training_backends"] == ["opencv_telea"]
    assert set(train.dataset["backend"]) <= {"opencv_telea", "none"}  # NS is held out, never trained on
    assert meta["counts"]["inpainted_images"] + meta["counts"]["pristine_images"] <= len(train.dataset)

    out = tmp_path / "results.json"
    params = json.dumps({"model": str(model)})
    assert main(["evaluate", "--data", str(run), "--detector", "trained", "--detector-params", params,
                 "--bootstrap", "20", "--output", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    results = read_results(out)
    assert results["detector"]["name"] == "trained" and results["detector"]["training_backends"] == ["opencv_telea"]
    assert results["detector"]["model"]["training_data"]["split"] == "train"
    assert set(results["domain"]) >= {"in_domain", "out_of_domain"}
    assert results["metrics"]["n_images"] == json.loads((run / "manifest.json").read_text())["counts"]["total"]
    assert results["failures"]["count"] == 0
    # It learned: on the backend it never trained on, Telea-trained pixels find NS fills in noisy photos (smooth
    # patches). An all-ones map would score mean 2a/(1+a) (a = mask area fraction), an all-zeros one 0.
    from inpaintbench.harness.data import open_eval_data

    rows = open_eval_data(run).dataset
    areas = np.array([a for a, b in zip(rows["mask_area_fraction"], rows["backend"], strict=True) if b == "opencv_ns"])
    constant_best = float(np.mean(2 * areas / (1 + areas)))
    ood = results["domain"]["out_of_domain"]
    assert constant_best < 0.4 and ood["pixel_f1_mean"] > 0.5, (constant_best, ood["pixel_f1_mean"])
    assert ood["pixel_auc_pooled"] > 0.85


@pytest.mark.slow  # publishes the tiny build, then a small fit (~3-6 s)
def test_train_detector_reads_a_release_folder_train_split(tiny_build, tmp_path, capsys):
    from inpaintbench.cli import main
    from inpaintbench.harness.data import open_eval_data

    run, split_config = tiny_build
    release = tmp_path / "release"
    assert main(["publish", "--version", "1.0.0", "--data", str(run), "--split-config", str(split_config),
                 "--out", str(release)]) == 0
    model = tmp_path / "r.joblib"
    assert main(["train-detector", "--data", str(release), "--out", str(model), "--split", "test",
                 "--no-progress"]) == 2
    assert main(["train-detector", "--data", str(release), "--out", str(model), "--pixels-per-image", "100",
                 "--max-iter", "5", "--no-progress"]) == 0, capsys.readouterr().err
    data = json.loads(sidecar_path(model).read_text())["training_data"]
    train = open_eval_data(release, None, "train")
    assert data["kind"] == "release" and data["split"] == "train" and data["num_samples"] == len(train.dataset)
    assert data["files_sha256"] == train.identity["files_sha256"]
    assert data["manifest_sha256"] == json.loads((release / "release.json").read_text())["generator"]["manifest_sha256"]
