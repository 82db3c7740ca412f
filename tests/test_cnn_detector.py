"""The CNN localisation baseline: crops, loss, a fit that must learn, determinism, the checkpoint and the
registered ``cnn`` detector, the packaged ImageNet weights, and ``train-detector --kind cnn`` -> ``evaluate`` end
to end on a real (tiny) generator build. Random-init encoders everywhere except the one weights test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inpaintbench.harness.training.cnn.checkpoint import CNNCheckpointError, load_checkpoint, save_checkpoint
from inpaintbench.harness.training.cnn.crops import CropEpochs, LoadedImage, pristine_count, random_crop
from inpaintbench.harness.training.cnn.inference import predict_map, top_fraction_mean
from inpaintbench.harness.training.cnn.loss import bce_dice_loss
from inpaintbench.harness.training.cnn.model import LocalizationNet
from inpaintbench.harness.training.cnn.trainer import CNNTrainOptions, train_cnn
from inpaintbench.harness.training.cnn.validation import score_maps
from inpaintbench.harness.training.sidecar import sidecar_path
from tests.helpers.detector_data import synthetic_dataset, training_data, write_tiny_build

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


# ---- a synthetic forgery: a noise-textured square pasted into a smooth image -----------------------------

SIZE = 64
SQUARE = 20


def _textured_square_image(rng: np.random.Generator, inpainted: bool) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    base = np.stack([xx * 2 + rng.uniform(20, 80), yy * 2 + rng.uniform(20, 80), 180 - xx - yy], axis=-1)
    image = base + rng.normal(0, 1.0, base.shape)
    mask = np.zeros((SIZE, SIZE), bool)
    if inpainted:
        y, x = rng.integers(0, SIZE - SQUARE, 2)
        mask[y : y + SQUARE, x : x + SQUARE] = True
        image[mask] += rng.normal(0, 25.0, (int(mask.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8), mask


def _synthetic_dataset(n: int, seed: int):
    return synthetic_dataset(n, seed, make_image=_textured_square_image)


def _training_data(n: int, seed: int = 0):
    return training_data(n, seed, make_image=_textured_square_image)


def _net_from(state_dict) -> LocalizationNet:
    net = LocalizationNet()
    net.load_state_dict(state_dict)
    return net.eval()


def _fresh_images(n: int, seed: int) -> list[LoadedImage]:
    rng = np.random.default_rng(seed)
    return [LoadedImage(f"fresh-{i}", *_textured_square_image(rng, True), True) for i in range(n)]


LEARN = dict(epochs=3, crop=64, batch=8, pristine_ratio=0.25, init="random", lr=3e-3, progress=False)


@pytest.fixture(scope="module")
def learned(torch_one_thread):
    return train_cnn(_training_data(16), CNNTrainOptions(seed=0, **LEARN), validation=_synthetic_dataset(4, seed=1))


def test_fit_learns_a_textured_square_well_above_a_constant_map(learned):
    net = _net_from(learned.state_dict)
    images = _fresh_images(6, seed=99)
    metrics = score_maps(lambda im: (heat := predict_map(net, im), top_fraction_mean(heat)), images)
    # The same harness metric on constant maps: the bar below is one they cannot pass.
    constant = [score_maps(lambda im, c=c: (np.full(im.shape[:2], c, np.float32), c), images)["pixel_f1_mean"]
                for c in (0.0, 1.0)]
    assert max(constant) < 0.2
    assert metrics["pixel_f1_mean"] > 0.6, (metrics["pixel_f1_mean"], learned.history)
    # the epoch kept is the validation-best one, and the history says so
    best = max(learned.history, key=lambda h: (h["pixel_f1_mean"], h["image_auc"]))
    assert learned.meta["best_epoch"] == best["epoch"] and learned.meta["counts"]["validation_images"] == 4
    assert learned.meta["training_backends"] == ["noise_paint"] and learned.meta["init"] == "random"


def test_same_seed_gives_identical_weights_and_another_seed_does_not():
    data = _training_data(8)
    options = dict(LEARN, epochs=1)
    a = train_cnn(data, CNNTrainOptions(seed=5, **options)).state_dict
    b = train_cnn(data, CNNTrainOptions(seed=5, **options)).state_dict
    c = train_cnn(data, CNNTrainOptions(seed=6, **options)).state_dict
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_crops_keep_image_and_mask_aligned_and_are_seeded():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, (50, 90, 3), dtype=np.uint8)  # smaller than the crop in height: padded
    mask = np.zeros((50, 90), bool)
    mask[10:30, 60:85] = True
    image[..., 0][mask] = 255  # the red channel marks the mask, so alignment survives any crop and flip
    item = LoadedImage("a", image, mask, True)
    windows = set()
    for seed in range(20):
        img, msk = random_crop(item, 64, np.random.default_rng(seed))
        assert img.shape == (64, 64, 3) and msk.shape == (64, 64)
        assert msk.any()  # inpainted crops are placed around a mask pixel
        np.testing.assert_array_equal(msk > 0, img[..., 0] == 255)
        windows.add(img.tobytes())
    first, again = (random_crop(item, 64, np.random.default_rng(3)) for _ in range(2))
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert len(windows) > 5  # other seeds, other crops (window and flip)
    pristine = LoadedImage("p", image, np.zeros_like(mask), False)
    crops = CropEpochs([item] * 6 + [pristine] * 2, 64, pristine_ratio=0.25, seed=1, where="memory")
    assert len(crops) == 8 and crops.n_pristine == 2  # 2 of 8 crops pristine
    assert crops[7][1].sum() == 0 and crops[0][1].sum() > 0
    assert pristine_count(6, 0, 0.0, "x") == 0
    with pytest.raises(ValueError, match="no pristine image"):
        pristine_count(6, 0, 0.25, "memory")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        pristine_count(6, 2, 1.0, "memory")


def test_loss_prefers_the_true_mask_and_ignores_dice_on_empty_masks():
    target = torch.zeros(2, 1, 8, 8)
    target[0, :, 2:5, 2:5] = 1
    right = (target * 2 - 1) * 6
    assert bce_dice_loss(right, target) < bce_dice_loss(-right, target) - 1.0
    empty = torch.zeros(1, 1, 8, 8)
    logits = torch.randn(1, 1, 8, 8)
    assert torch.allclose(
        bce_dice_loss(logits, empty), torch.nn.functional.binary_cross_entropy_with_logits(logits, empty)
    )


def test_checkpoint_round_trips_through_the_registered_detector(learned, tmp_path):
    from inpaintbench.harness.detectors import create_detector

    path = save_checkpoint(tmp_path / "cnn.pt", learned.state_dict, learned.meta)
    image = _fresh_images(1, seed=7)[0].image[:, :50]  # 64 x 50: padded to 64 x 64 inside, cropped back
    expected = predict_map(_net_from(learned.state_dict), image)
    detector = create_detector("cnn", model=str(path))
    out = detector.predict(image)
    assert out["map"].shape == (64, 50) and out["map"].dtype == np.float32
    np.testing.assert_array_equal(out["map"], expected)
    assert out["score"] == pytest.approx(top_fraction_mean(expected))
    info = detector.describe()
    assert info["training_backends"] == ["noise_paint"] and info["model"]["init"] == "random"
    assert info["model"]["sha256"] == json.loads(sidecar_path(path).read_text())["model_sha256"]


def test_checkpoint_problems_are_named(learned, tmp_path):
    import shutil

    from inpaintbench.harness.detectors import create_detector

    path = save_checkpoint(tmp_path / "good.pt", learned.state_dict, learned.meta)
    with pytest.raises(CNNCheckpointError, match="missing.pt: checkpoint file not found"):
        load_checkpoint(tmp_path / "missing.pt")
    copy = tmp_path / "copy.pt"
    shutil.copy(path, copy)
    with pytest.raises(CNNCheckpointError, match=r"copy\.pt\.json: sidecar not found"):
        load_checkpoint(copy)
    side = json.loads(sidecar_path(path).read_text())
    sidecar_path(copy).write_text(json.dumps({**side, "model_version": "ib-cnn-other-0"}))
    with pytest.raises(CNNCheckpointError, match=r"copy\.pt: saved by architecture 'ib-cnn-other-0'"):
        load_checkpoint(copy)
    sidecar_path(copy).write_text(json.dumps({**side, "model_sha256": "0" * 64}))
    with pytest.raises(CNNCheckpointError, match=r"copy\.pt: sha256 differs"):
        load_checkpoint(copy)
    sidecar_path(copy).write_text(json.dumps({**side, "format": "inpaintbench-trained-detector"}))
    with pytest.raises(CNNCheckpointError, match="not an InpaintBench CNN checkpoint"):
        load_checkpoint(copy)
    # weights of another shape (a decoder layer dropped): named, not a bare torch error
    partial = {k: v for k, v in learned.state_dict.items() if not k.startswith("head.")}
    bad = save_checkpoint(tmp_path / "bad.pt", partial, learned.meta)
    with pytest.raises(CNNCheckpointError, match=r"bad\.pt: weights do not fit"):
        create_detector("cnn", model=str(bad))
    with pytest.raises(ValueError, match="needs its checkpoint"):
        create_detector("cnn")


def test_imagenet_init_loads_the_packaged_weights():
    from inpaintbench.harness.training.cnn.model import build_model, imagenet_weights_path

    path = imagenet_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = build_model("imagenet", seed=0)
    for key in ("_conv_stem.weight", "_blocks.15._project_conv.weight", "_bn0.running_var"):
        assert torch.equal(net.encoder.state_dict()[key], state[key]), key
    assert not torch.equal(
        build_model("random", seed=0).encoder.state_dict()["_conv_stem.weight"], state["_conv_stem.weight"]
    )
    # and it is what the forward pass uses: the stem's output equals a convolution with the file's tensor
    x = torch.rand(1, 3, 64, 64) * 255
    stem = net.encoder._conv_stem
    expected = torch.nn.functional.conv2d(
        stem.static_padding((x - 127.0) / 128.0), state["_conv_stem.weight"], stride=2
    )
    assert torch.allclose(stem((x - 127.0) / 128.0), expected)


# ---- the CLI on a real generator build: train-detector --kind cnn -> evaluate --detector cnn ---------------


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    # test_trained_detector's build, with a split that leaves room for validation photos.
    return write_tiny_build(tmp_path_factory.mktemp("build"), "cnn-detector",
                            {"train": 0.5, "validation": 0.25, "test": 0.25})


def test_train_detector_cnn_refuses_any_split_but_train(tiny_build, tmp_path, capsys):
    from inpaintbench.cli import main

    run, _ = tiny_build
    model = tmp_path / "m.pt"
    for split in ("test", "validation", "test_ood_backend"):
        assert main(["train-detector", "--data", str(run), "--kind", "cnn", "--out", str(model), "--split", split,
                     "--init", "random", "--no-progress"]) == 2
        assert f"refusing to train on split {split!r}" in capsys.readouterr().err
    assert (
        main(["train-detector", "--data", str(run), "--kind", "cnn", "--out", str(model), "--crop", "100",
              "--no-progress"]) == 2
    )
    assert "multiple of 32" in capsys.readouterr().err
    assert not model.exists() and not sidecar_path(model).exists()


@pytest.mark.slow  # a real generation run, a CLI fit and a sandboxed evaluation (~10-15 s on a shared 2-core machine)
def test_train_detector_cnn_then_evaluate_end_to_end(tiny_build, tmp_path, capsys):
    from inpaintbench.cli import main
    from inpaintbench.harness.results import read_results
    from inpaintbench.harness.training.cnn.validation import open_validation_split
    from inpaintbench.harness.training.data import open_training_data

    run, split_config = tiny_build
    model = tmp_path / "cnn.pt"
    argv = ["train-detector", "--data", str(run), "--kind", "cnn", "--out", str(model),
            "--split-config", str(split_config), "--init", "random", "--epochs", "2", "--crop", "64", "--batch", "4",
            "--pristine-ratio", "0.25", "--threads", "1", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    meta = json.loads(sidecar_path(model).read_text())
    train = open_training_data(run, split_config=str(split_config))
    validation = open_validation_split(run, split_config=str(split_config))
    assert meta["training_data"]["split"] == "train" and meta["training_data"]["num_samples"] == len(train.dataset)
    assert meta["training_backends"] == ["opencv_telea"] and len(meta["history"]) == 2
    assert meta["counts"]["validation_images"] == len(validation) > 0
    assert not set(validation["sample_id"]) & set(train.dataset["sample_id"])

    out = tmp_path / "results.json"
    params = json.dumps({"model": str(model), "threads": 1})
    assert main(["evaluate", "--data", str(run), "--detector", "cnn", "--detector-params", params, "--bootstrap", "20",
                 "--output", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    results = read_results(out)
    assert results["detector"]["name"] == "cnn" and results["detector"]["training_backends"] == ["opencv_telea"]
    assert results["detector"]["model"]["training_data"]["split"] == "train"
    assert set(results["domain"]) >= {"in_domain", "out_of_domain"}
    assert results["metrics"]["n_images"] == json.loads((run / "manifest.json").read_text())["counts"]["total"]
    assert results["failures"]["count"] == 0
