"""The learned inpainter (``learned_inpaint``): the shipped weights, the backend through the real generator and
``inpaintbench regenerate``, its determinism, that its fills remove the object, the clear errors for missing or
corrupt weights, and the training side: seeded masks and batches, and the refusal of benchmark photos.

Real parts throughout: the shipped network (no mock), the real generator on a small synthetic COCO set, the real
embedded photos with their annotated object masks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inpaintbench.builder.backends import InpaintRequest, create_backend
from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from inpaintbench.builder.learned_inpainter import photos as photo_sets
from inpaintbench.builder.learned_inpainter import weights as weights_module
from inpaintbench.builder.learned_inpainter.masks import MAX_HOLE, MIN_HOLE, random_mask
from inpaintbench.builder.learned_inpainter.weights import InpainterWeightsError, load, sidecar_path
from inpaintbench.builder.regenerate import regenerate
from tests.helpers.embedded_objects import object_masks
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, decoded, rows_of

# The fill must move the hole's pixels by more than this mean |difference| (of 255) from the original: far above
# rounding, well below what any real fill of an object does (measured on the shipped weights: see the test).
REMOVED_MIN_MEAN_ABS = 10.0


@pytest.fixture(scope="module")
def backend():
    return create_backend("learned_inpaint")


# ---- the shipped weights ------------------------------------------------------------------------------------------

def test_shipped_weights_are_small_recorded_and_never_saw_a_benchmark_or_held_out_photo():
    path = weights_module.SHIPPED_WEIGHTS
    assert path.stat().st_size <= 10 * 1024 * 1024
    net, sidecar = load(path)
    assert sidecar["weights_sha256"] == weights_module.file_sha256(path)
    assert sidecar["steps_done"] > 0 and sidecar["wall_minutes"] > 0 and sidecar["code"]["git_commit"]
    trained = {p["path"] for p in sidecar["training_photos"]}
    assert trained == set(photo_sets.TRAIN_PHOTOS) and not trained & set(photo_sets.HELD_OUT_PHOTOS)
    assert all(len(p["file_sha256"]) == 64 and len(p["pixels_sha256"]) == 64 for p in sidecar["training_photos"])
    # The exclusion was checked against every embedded photo, and none is near any training photo.
    assert len(sidecar["benchmark_exclusion"]["benchmark_photos_compared"]) == 16
    from inpaintbench.builder.release.photos import PHASH_MAX_DISTANCE

    assert sidecar["benchmark_exclusion"]["closest_pair"]["phash_distance"] > PHASH_MAX_DISTANCE
    assert set(sidecar["quality_held_out"]) >= {"learned_inpaint", "opencv_telea"}


# ---- the backend --------------------------------------------------------------------------------------------------

def test_backend_is_prompt_free_paste_back_and_removes_annotated_objects(backend):
    assert backend.follows_prompt is False and backend.holds_model is False
    for name, photo, hole in object_masks(3):
        result = backend.inpaint(InpaintRequest(Image.fromarray(photo), Image.fromarray(hole.astype(np.uint8) * 255),
                                                prompt="ignored", seed=1))
        filled = np.asarray(result.image)
        assert result.strategy == "paste_back" and filled.shape == photo.shape
        assert np.array_equal(filled[~hole], photo[~hole]), name  # paste back: nothing outside the hole moves
        moved = np.abs(filled[hole].astype(int) - photo[hole]).mean()
        assert moved > REMOVED_MIN_MEAN_ABS, (name, moved)  # the object is gone, not restored


def test_fill_is_byte_identical_across_runs_thread_counts_and_seeds(backend):
    name, photo, hole = object_masks(1)[0]
    request = dict(image=Image.fromarray(photo), mask=Image.fromarray(hole.astype(np.uint8) * 255))
    previous = torch.get_num_threads()
    outputs = []
    try:
        for threads, seed in ((1, 0), (2, 0), (1, 0), (2, 12345)):
            torch.set_num_threads(threads)
            outputs.append(np.asarray(backend.inpaint(InpaintRequest(**request, seed=seed)).image).tobytes())
    finally:
        torch.set_num_threads(previous)
    # Seed-free (no noise is drawn): another seed gives the same bytes, by design.
    assert len(set(outputs)) == 1


def test_backend_through_the_generator_into_shards_and_regenerate_bit_identically(clean_coco_set, tmp_path):
    images, annotations = clean_coco_set
    out = tmp_path / "out"
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images, annotations)], "out_dir": str(out),
        "backends": [{"name": "learned_inpaint"}], "objects_per_image": 2, **SMALL_PHOTO_CONFIG,
    })
    run_generation(config, progress=False)
    rows = rows_of(out)
    learned = [r for r in rows if r["backend"] == "learned_inpaint"]
    assert learned and {r["strategy"] for r in learned} == {"paste_back"}
    assert {r["action"] for r in learned} == {"remove"}  # prompt-free: the generator plans removals only
    for row in learned:
        image, original, mask = decoded(row["image"]), decoded(row["original"]), decoded(row["mask"]) > 127
        assert np.array_equal(image[~mask], original[~mask])
        assert (decoded(row["changed_mask"]) > 0).any()
        recipe = json.loads(row["recipe"])
        assert recipe["weights_sha256"] == weights_module.file_sha256(weights_module.SHIPPED_WEIGHTS)
        report = regenerate(row["sample_id"], out, tmp_path / "regen")
        assert report.identical and report.max_abs_difference == 0, report


# ---- missing and corrupt weights ----------------------------------------------------------------------------------

@pytest.fixture
def weights_copy(tmp_path) -> Path:
    path = tmp_path / "w" / weights_module.WEIGHTS_NAME
    path.parent.mkdir()
    shutil.copyfile(weights_module.SHIPPED_WEIGHTS, path)
    shutil.copyfile(sidecar_path(weights_module.SHIPPED_WEIGHTS), sidecar_path(path))
    return path


def test_missing_weights_or_sidecar_name_the_file(weights_copy, tmp_path):
    create_backend("learned_inpaint", weights=str(weights_copy))  # the copy itself loads
    with pytest.raises(InpainterWeightsError, match=r"nowhere\.safetensors: learned_inpaint weights missing"):
        create_backend("learned_inpaint", weights=str(tmp_path / "nowhere.safetensors"))
    sidecar_path(weights_copy).unlink()
    with pytest.raises(InpainterWeightsError, match=r"learned_inpaint\.json: sidecar .* missing"):
        create_backend("learned_inpaint", weights=str(weights_copy))


def test_corrupt_weights_name_the_file(weights_copy):
    data = bytearray(weights_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a tensor: would load silently without the check
    weights_copy.write_bytes(bytes(data))
    with pytest.raises(InpainterWeightsError, match=rf"{weights_copy.name}: corrupt or replaced"):
        create_backend("learned_inpaint", weights=str(weights_copy))
    # A truncated file whose sidecar was updated to match: safetensors itself refuses it, still naming the file.
    weights_copy.write_bytes(bytes(data[:1000]))
    side = sidecar_path(weights_copy)
    record = json.loads(side.read_text())
    record["weights_sha256"] = weights_module.file_sha256(weights_copy)
    side.write_text(json.dumps(record))
    with pytest.raises(InpainterWeightsError, match=rf"{weights_copy.name}: not a readable safetensors file"):
        create_backend("learned_inpaint", weights=str(weights_copy))


# ---- training side ------------------------------------------------------------------------------------------------

def test_masks_are_seeded_and_bounded():
    first = random_mask(np.random.default_rng(7), 128, 160)
    assert np.array_equal(first, random_mask(np.random.default_rng(7), 128, 160))
    assert not np.array_equal(first, random_mask(np.random.default_rng(8), 128, 160))  # another seed, another hole
    rng = np.random.default_rng(0)
    fractions = [random_mask(rng, 128, 128).mean() for _ in range(200)]
    assert min(fractions) >= MIN_HOLE and max(fractions) <= MAX_HOLE
    assert np.std(fractions) > 0.05  # holes of many sizes, not one


def test_training_batches_are_deterministic_for_a_seed():
    from inpaintbench.builder.learned_inpainter.train import batch_of

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (200, 300, 3), dtype=np.uint8) for _ in range(3)]
    a = batch_of(np.random.default_rng(11), images, 4, 64)
    b = batch_of(np.random.default_rng(11), images, 4, 64)
    c = batch_of(np.random.default_rng(12), images, 4, 64)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)) and not torch.equal(a[1], c[1])


def test_a_benchmark_photo_or_its_near_copy_is_refused_for_training(tmp_path):
    from inpaintbench.builder.embedded.catalog import load_photo

    benchmark = photo_sets.benchmark_fingerprints()
    # The real lists pass the check.
    real = photo_sets.load_set(photo_sets.OPENCV_DOC_EXAMPLES, photo_sets.TRAIN_PHOTOS[:3])
    assert photo_sets.check_not_benchmark(real, benchmark)["closest_pair"]["phash_distance"] > 6
    # The attack: the embedded coffee photo slipped into the training folder as a resized JPEG (other pixels, so
    # only the perceptual hash can catch it), and the exact astronaut as PNG.
    (tmp_path / "data").mkdir()
    coffee = load_photo("skimage/coffee")
    coffee.resize((coffee.width * 3 // 4, coffee.height * 3 // 4)).save(tmp_path / "data" / "cup.jpg", quality=75)
    load_photo("skimage/astronaut").save(tmp_path / "data" / "a.png")
    for name, expected in (("data/cup.jpg", "skimage/coffee"), ("data/a.png", "skimage/astronaut")):
        photo = photo_sets.load_photo(tmp_path, name)
        with pytest.raises(photo_sets.TrainingPhotoError, match=rf"{name}: is the benchmark photo '{expected}'"):
            photo_sets.check_not_benchmark(real + [photo], benchmark)


def test_missing_training_photo_names_the_file_and_the_package(tmp_path):
    with pytest.raises(photo_sets.TrainingPhotoError, match=r"data/aero1\.jpg: training photo missing.*opencv-doc"):
        photo_sets.load_photo(tmp_path, "data/aero1.jpg")


def test_the_default_mix_runs_it_and_the_default_splits_hold_it_out():
    """Issue 14: the default benchmark has an AI generator in it, and the default release tests detectors trained
    on classical fills on it (test_ood_backend), never training on it."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.release.splits import (
        EXCLUDED,
        TRAINING_SPLIT,
        default_split_config_path,
        load_split_config,
    )

    assert "learned_inpaint" in [spec.name for spec in GenerateConfig().backends]
    splits = load_split_config(default_split_config_path())
    assert splits.held_out_split("embedded", "learned_inpaint") == "test_ood_backend"
    assert splits.held_out_split("embedded", "opencv_telea") is None
    photos = [f"photo{i}" for i in range(200)]
    assigned = splits.assign_many(["embedded"] * 200, photos, ["learned_inpaint"] * 200)
    assert set(assigned) == {"test_ood_backend", EXCLUDED}  # never in train, validation or test
    # Its edits of train photos are left out, not trained on: the photo is in train for the other backends.
    in_domain = splits.assign_many(["embedded"] * 200, photos, ["opencv_telea"] * 200)
    assert all((a == EXCLUDED) == (d == TRAINING_SPLIT) for a, d in zip(assigned, in_domain, strict=True))


def test_the_recipe_names_the_shipped_weights_the_same_in_every_checkout(weights_copy):
    """Two checkouts building the same samples must write the same recipe bytes: the shipped weights are named by
    their package path and sha256, never by the file's location on this machine (a fresh clone in /tmp/fresh and
    /work/main once differed only there). Weights a user passes are recorded as given."""
    shipped = create_backend("learned_inpaint").recipe()
    assert shipped["weights"] == "package:inpaintbench.builder.learned_inpainter/learned_inpaint.safetensors"
    assert str(weights_module.SHIPPED_WEIGHTS.parent) not in json.dumps(shipped)  # the attack: a path-bearing recipe
    assert shipped["weights_sha256"] == load(weights_module.SHIPPED_WEIGHTS)[1]["weights_sha256"]
    given = create_backend("learned_inpaint", weights=str(weights_copy)).recipe()
    assert given["weights"] == str(weights_copy) and given["weights_sha256"] == shipped["weights_sha256"]
