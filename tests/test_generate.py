"""The generation run end to end, in process, on a small COCO-format set written by the test (real COCO source,
real classical backends, real datasets/Parquet)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.backends import BACKENDS, InpaintBackend, InpaintResult
from inpaintbench.builder.draws import SampleKey, sample_seed
from inpaintbench.builder.generate import OutputDirConflict, run_generation
from inpaintbench.builder.planning import PLANNERS, EditPlan, Planner
from inpaintbench.cli import main as cli_main
from inpaintbench.digests import file_digest
from inpaintbench.ids import recompute_sample_id
from inpaintbench.schema import FEATURES, LABEL_NAMES
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, load_shards, make_config, write_coco_set
from tests.helpers.registries import registered


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    return write_coco_set(tmp_path_factory.mktemp("coco"), num_images=8)


@pytest.fixture(scope="module")
def built(coco_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    config = make_config(coco_set, out)
    result = run_generation(config, progress=False)
    return config, result


def shard_bytes(out_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((Path(out_dir) / "data").glob("*.parquet"))}


def test_shards_load_with_the_schema_and_match_the_manifest(built, tmp_path):
    config, result = built
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest == result.manifest
    dataset = load_shards(result.out_dir, tmp_path / "cache")
    assert dataset.features == FEATURES
    assert len(dataset) == manifest["counts"]["total"] > 0
    assert len(set(dataset["sample_id"])) == len(dataset)
    assert manifest["counts"]["by_label"] == dict(sorted(Counter(LABEL_NAMES[v] for v in dataset["label"]).items()))
    assert manifest["counts"]["by_backend"] == dict(sorted(Counter(dataset["backend"]).items()))
    assert set(manifest["counts"]["by_backend"]) >= {
        "none",
        "opencv_telea",
        "opencv_ns",
        "patchmatch",
        "learned_inpaint",
    }
    assert manifest["config_hash"] == config.config_hash and manifest["seed"] == config.seed
    assert manifest["work"] == {"images": 10, "shards": 4}
    for shard in manifest["shards"]:
        sha256, size = file_digest(result.out_dir / shard["path"])
        assert (shard["sha256"], shard["bytes"]) == (sha256, size)
        assert shard["num_samples"] <= config.samples_per_shard


def test_inpainted_and_pristine_samples_are_what_they_claim(built, tmp_path):
    config, result = built
    dataset = load_shards(result.out_dir, tmp_path / "cache")
    kinds = Counter()
    for row in dataset:
        image, original = np.asarray(row["image"]), np.asarray(row["original"])
        mask = np.asarray(row["mask"])
        assert row["mask"].mode == "L" and mask.shape == image.shape[:2] == (row["height"], row["width"])
        slot = "pristine" if row["label"] == 0 else "edit0"
        key = SampleKey(row["source"], row["source_image_id"], row["object_id"], slot)
        assert row["sample_id"] == recompute_sample_id(row)  # an id names its content (inpaintbench.ids)
        assert row["seed"] == sample_seed(config, key)
        if row["label"] == 0:
            kinds["pristine"] += 1
            assert not mask.any() and np.array_equal(image, original)
            assert (row["backend"], row["strategy"], row["action"], row["object_id"]) == ("none", "none", "none", "")
            continue
        kinds["inpainted"] += 1
        hole = mask == 255
        assert set(np.unique(mask)) <= {0, 255}
        assert row["mask_area_fraction"] == pytest.approx(hole.mean(), abs=1e-6)
        assert row["mask_variant"] in config.mask_variants and 0 <= row["mask_dilation_pct"] <= 10
        assert row["strategy"] == "paste_back" and row["action"] == "remove"
        np.testing.assert_array_equal(image[~hole], original[~hole])  # classical backends keep the outside
        assert np.abs(image[hole].astype(int) - original[hole].astype(int)).mean() > 5  # the object is gone
        assert json.loads(row["backend_params"])["backend"] == row["backend"]
        assert json.loads(row["extra"])["mask"]["mask_pixels"] == int(hole.sum())
    assert kinds["pristine"] > 0 and kinds["inpainted"] > kinds["pristine"]


def test_bad_inputs_are_counted_with_reasons(built):
    _, result = built
    skipped = result.manifest["skipped"]
    reasons = [(item["stage"], Path(item["path"]).name, item["reason"]) for item in skipped["items"]]
    assert any(s == "load" and n == "missing.png" and r.endswith("missing.png: file not found") for s, n, r in reasons)
    assert any(s == "load" and n == "truncated.png" and "truncated" in r for s, n, r in reasons)
    assert any(s == "select" and r == "crowd annotation" for s, _, r in reasons)
    assert any(s == "select" and r.startswith("tiny") for s, _, r in reasons)
    assert skipped["by_stage"] == dict(Counter(item["stage"] for item in skipped["items"]))
    assert skipped["total"] == len(skipped["items"]) == 4
    assert skipped["by_reason"]["file not found"] == 1  # the path prefix is dropped when counting


def test_same_seed_is_byte_identical_and_another_seed_is_not(built, coco_set, tmp_path):
    config, result = built
    again = run_generation(config.replace(out_dir=str(tmp_path / "again")), progress=False)
    assert shard_bytes(again.out_dir) == shard_bytes(result.out_dir)
    assert (again.out_dir / "manifest.json").read_bytes() == (result.out_dir / "manifest.json").read_bytes()
    other = run_generation(config.replace(out_dir=str(tmp_path / "other"), seed=1), progress=False)
    assert shard_bytes(other.out_dir) != shard_bytes(result.out_dir)


def test_resume_rewrites_only_missing_or_damaged_shards(built, tmp_path):
    config, result = built
    import shutil

    out = tmp_path / "resume"
    shutil.copytree(result.out_dir, out)
    reference = shard_bytes(result.out_dir)
    names = sorted(reference)
    (out / "data" / names[1]).unlink()  # a shard lost
    with open(out / "data" / names[2], "r+b") as handle:  # a shard cut short
        handle.truncate(100)
    (out / "work" / "shards" / names[3].replace(".parquet", ".json")).unlink()  # killed before its record
    (out / "data" / f".{names[0]}.tmp-999").write_bytes(b"half a shard")  # a killed writer's temp file
    (out / "manifest.json").unlink()
    resumed = run_generation(config.replace(out_dir=str(out)), progress=False)
    assert (resumed.shards_written, resumed.shards_reused) == (3, 1)
    assert shard_bytes(out) == reference
    assert not list((out / "data").glob(".*tmp*"))
    assert (out / "manifest.json").read_bytes() == (result.out_dir / "manifest.json").read_bytes()
    complete = run_generation(config.replace(out_dir=str(out)), progress=False)
    assert (complete.shards_written, complete.shards_reused) == (0, 4)


def test_another_config_in_the_same_dir_is_refused_and_nothing_is_lost(built, tmp_path):
    config, result = built
    import shutil

    out = tmp_path / "conflict"
    shutil.copytree(result.out_dir, out)
    before = shard_bytes(out)
    with pytest.raises(OutputDirConflict, match=r"another config .*differing keys: pristine_ratio, seed"):
        run_generation(config.replace(out_dir=str(out), seed=3, pristine_ratio=0.5), progress=False)
    assert shard_bytes(out) == before


class FlakyBackend(InpaintBackend):
    """Raises on some seeds, returns a wrong size on others: what a misbehaving real backend does."""

    def inpaint(self, request):
        if request.seed % 3 == 0:
            raise RuntimeError("CUDA out of memory (simulated)")
        if request.seed % 3 == 1:
            return InpaintResult(request.image.resize((10, 10)), strategy="paste_back")
        return InpaintResult(request.image.copy(), strategy="full_regeneration")


def test_a_backend_failing_on_some_samples_is_recorded_and_the_run_goes_on(coco_set, tmp_path):
    with registered(BACKENDS, "test_flaky", FlakyBackend):
        config = make_config(coco_set, tmp_path / "flaky", backends=[{"name": "test_flaky"}])
        result = run_generation(config, progress=False)
    inpaint_skips = [item for item in result.manifest["skipped"]["items"] if item["stage"] == "inpaint"]
    reasons = Counter(item["reason"].split(":")[0] for item in inpaint_skips)
    assert reasons["backend test_flaky raised RuntimeError"] > 0
    assert reasons["backend test_flaky"] > 0  # the wrong-size result
    assert result.manifest["counts"]["by_backend"].get("test_flaky", 0) > 0
    assert (
        result.manifest["counts"]["by_strategy"]["full_regeneration"]
        == result.manifest["counts"]["by_backend"]["test_flaky"]
    )
    assert len(result.manifest["shards"]) == 4


def test_cli_generates_and_prints_where_and_what(coco_set, tmp_path, capsys):
    images_dir, annotations = coco_set
    config_file = tmp_path / "small.yaml"
    config_file.write_text("".join(f"{k}: {v}\n" for k, v in SMALL_PHOTO_CONFIG.items()))
    out = tmp_path / "cli"
    argv = ["generate", "--config", str(config_file), "--no-embedded", "--images", str(images_dir),
            "--annotations", str(annotations), "--out", str(out), "--max-images", "4", "--no-progress"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"Shards: {out / 'data'}" in printed and f"Manifest: {out / 'manifest.json'}" in printed
    assert f"Samples: {manifest['counts']['total']} from 4 images" in printed
    assert "by backend:" in printed and "Skipped:" in printed
    assert cli_main(argv[:-1] + ["--seed", "9", "--no-progress"]) == 2
    assert "holds a build of another config" in capsys.readouterr().err


class CountingBackend(InpaintBackend):
    """Counts how often it is built: a diffusion backend costs seconds to gigabytes per construction."""

    constructed = 0

    def __init__(self, **params):
        super().__init__(**params)
        type(self).constructed += 1

    def inpaint(self, request):
        return InpaintResult(request.image.copy(), strategy="full_regeneration")


@pytest.fixture
def counting_backend():
    """``test_counting`` registered for the test, its count at 0."""
    CountingBackend.constructed = 0
    with registered(BACKENDS, "test_counting", CountingBackend):
        yield CountingBackend


def test_each_backend_of_the_mix_is_built_once_per_process_and_reused(coco_set, tmp_path, counting_backend):
    config = make_config(coco_set, tmp_path / "once", backends=[{"name": "test_counting"}, {"name": "opencv_ns"}])
    result = run_generation(config, progress=False)
    assert result.manifest["counts"]["by_backend"]["test_counting"] > 3
    assert CountingBackend.constructed == 1


class PickyPlanner(Planner):
    """Fails on even object ids, as a model-backed planner may fail on one object."""

    def plan(self, scene, target, rng):
        if int(target.object_id) % 2 == 0:
            raise ValueError(f"no replacement fits object {target.object_id}")
        return EditPlan(action="remove", prompt="background")


def test_a_planner_failing_on_one_object_is_recorded_and_the_rest_is_generated(coco_set, tmp_path, counting_backend):
    # A prompt-steered backend: prompt-blind classical ones never consult the configured planner.
    with registered(PLANNERS, "test_picky", PickyPlanner):
        config = make_config(coco_set, tmp_path / "picky", planner="test_picky", backends=[{"name": "test_counting"}])
        result = run_generation(config, progress=False)
    plan_skips = [item for item in result.manifest["skipped"]["items"] if item["stage"] == "plan"]
    assert plan_skips and all(int(item["object_id"]) % 2 == 0 for item in plan_skips)
    assert all(r.startswith("planner test_picky raised ValueError: no replacement fits") for r in
               (item["reason"] for item in plan_skips))
    assert result.manifest["counts"]["by_label"]["inpainted"] > 0


def test_changed_inputs_under_the_same_config_are_refused(clean_coco_set, tmp_path):
    _, annotations = clean_coco_set
    config = make_config(clean_coco_set, tmp_path / "out")
    first = run_generation(config, progress=False)
    assert first.manifest["inputs"]["synth"]["images"] == 3
    coco = json.loads(annotations.read_text())
    coco["images"] = coco["images"][:2]  # a photo dropped from the annotation file, same path
    annotations.write_text(json.dumps(coco))
    before = shard_bytes(first.out_dir)
    with pytest.raises(OutputDirConflict, match="same config but the inputs changed since \\(source\\(s\\) synth"):
        run_generation(config, progress=False)
    assert shard_bytes(first.out_dir) == before


def test_annotations_edited_in_place_are_refused_on_resume(clean_coco_set, tmp_path):
    # Same images, same ids: only a polygon moved. The source's fingerprint (sha256 of its COCO file) catches it.
    _, annotations = clean_coco_set
    config = make_config(clean_coco_set, tmp_path / "out")
    first = run_generation(config, progress=False)
    assert len(first.manifest["inputs"]["synth"]["fingerprint"]) == 64
    coco = json.loads(annotations.read_text())
    coco["annotations"][0]["segmentation"][0] = [v + 1 for v in coco["annotations"][0]["segmentation"][0]]
    annotations.write_text(json.dumps(coco))
    before = shard_bytes(first.out_dir)
    with pytest.raises(OutputDirConflict, match="inputs changed since"):
        run_generation(config, progress=False)
    assert shard_bytes(first.out_dir) == before


def test_a_photo_replaced_in_place_is_refused_on_resume(clean_coco_set, tmp_path):
    """Same annotations, same file names: one photo's bytes replaced. The source's photo state (each photo's size
    and mtime) changes, so the resumed run refuses to mix shards of the old photo with the new. The manifest leaves
    that machine-local state out, so the same build elsewhere writes the same manifest."""
    import os

    images_dir, annotations = clean_coco_set
    config = make_config(clean_coco_set, tmp_path / "out")
    first = run_generation(config, progress=False)
    assert run_generation(config, progress=False).manifest == first.manifest  # untouched: resumes as it was
    assert "photo_state" not in first.manifest["inputs"]["synth"]
    photo = images_dir / json.loads(annotations.read_text())["images"][0]["file_name"]
    stat = photo.stat()
    Image.open(photo).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photo)
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    before = shard_bytes(first.out_dir)
    with pytest.raises(OutputDirConflict, match="inputs changed since"):
        run_generation(config, progress=False)
    assert shard_bytes(first.out_dir) == before


def test_a_file_name_outside_the_images_folder_is_a_skip_not_a_read(tmp_path):
    """COCO file_names with '..' or an absolute path elsewhere would read any file the process can: each is a skip
    naming the reason, and the photo outside is never opened (it is a valid photo: reading it would succeed)."""
    images_dir, annotations = write_coco_set(tmp_path / "coco", num_images=2, bad_inputs=False)
    coco = json.loads(annotations.read_text())
    outside = tmp_path / "outside.png"
    (images_dir / coco["images"][0]["file_name"]).rename(outside)
    coco["images"][0]["file_name"] = "../outside.png"
    coco["images"][1] = {**coco["images"][1], "file_name": str(outside)}
    annotations.write_text(json.dumps(coco))
    result = run_generation(make_config((images_dir, annotations), tmp_path / "out"), progress=False)
    reasons = [item["reason"] for item in result.manifest["skipped"]["items"] if item["stage"] == "load"]
    assert len(reasons) == 2 and all("points outside the images folder" in r for r in reasons), reasons
    assert result.manifest["counts"]["total"] == 0


def test_a_file_name_with_a_nul_byte_is_a_skip_not_a_crash(tmp_path):
    # os.stat raises ValueError (not OSError) on a NUL: the resume fingerprint used to crash the whole run on it.
    images_dir, annotations = write_coco_set(tmp_path / "coco", num_images=2, bad_inputs=False)
    coco = json.loads(annotations.read_text())
    coco["images"][0]["file_name"] = "photo\x00.png"
    annotations.write_text(json.dumps(coco))
    result = run_generation(make_config((images_dir, annotations), tmp_path / "out"), progress=False)
    reasons = [item["reason"] for item in result.manifest["skipped"]["items"] if item["stage"] == "load"]
    assert len(reasons) == 1 and "contains a NUL byte" in reasons[0], reasons
    assert result.manifest["counts"]["total"] > 0  # the other photo still made its samples


def test_a_backend_that_cannot_load_stops_the_run_before_any_sample(coco_set, tmp_path, capsys):
    # A missing model must end the run at its start with the model named, not become one skip per sample.
    images_dir, annotations = coco_set
    missing = tmp_path / "no-such-model"
    config_file = tmp_path / "mix.yaml"
    config_file.write_text(
        "".join(f"{k}: {v}\n" for k, v in SMALL_PHOTO_CONFIG.items())
        + "backends:\n  - {name: opencv_telea, weight: 1}\n"
        f"  - {{name: sd_inpaint, weight: 1, params: {{model: '{missing}'}}}}\n"
    )
    out = tmp_path / "out"
    argv = ["generate", "--config", str(config_file), "--no-embedded", "--images", str(images_dir),
            "--annotations", str(annotations), "--out", str(out), "--max-images", "2", "--no-progress"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "sd_inpaint" in err and str(missing) in err
    assert not list(out.glob("data/*.parquet"))


class BatchRecordingBackend(InpaintBackend):
    """Records each inpaint_batch call's sizes; refuses batches holding the poisoned seed."""

    batches: list[list[tuple[int, int]]] = []
    poisoned_seed: int | None = None

    def inpaint(self, request):
        if request.seed == type(self).poisoned_seed:
            raise ValueError("poisoned sample")
        return InpaintResult(request.image.copy(), strategy="full_regeneration", extra={"batched": False})

    def inpaint_batch(self, requests):
        type(self).batches.append([r.image.size for r in requests])
        if any(r.seed == type(self).poisoned_seed for r in requests):
            raise RuntimeError("a batch with a bad sample")
        return [
            InpaintResult(r.image.copy(), strategy="full_regeneration", extra={"batched": True}) for r in requests
        ]


@pytest.fixture
def batching_backend():
    """``test_batching`` registered for the test, with no batch recorded and no seed poisoned."""
    BatchRecordingBackend.batches, BatchRecordingBackend.poisoned_seed = [], None
    with registered(BACKENDS, "test_batching", BatchRecordingBackend):
        yield BatchRecordingBackend


def test_edits_of_one_photo_go_to_their_backend_as_one_same_size_batch(coco_set, tmp_path, batching_backend):
    config = make_config(coco_set, tmp_path / "batched", backends=[{"name": "test_batching"}], edits_per_object=2)
    result = run_generation(config, progress=False)
    batches = BatchRecordingBackend.batches
    assert max(len(b) for b in batches) >= 2 and all(len(set(sizes)) == 1 for sizes in batches)
    assert sum(len(b) for b in batches) == result.manifest["counts"]["by_label"]["inpainted"]


def test_a_failing_batch_is_retried_one_by_one_and_only_the_bad_sample_is_skipped(coco_set, tmp_path,
                                                                                 batching_backend):
    clean = run_generation(make_config(coco_set, tmp_path / "clean", backends=[{"name": "test_batching"}],
                                       edits_per_object=2), progress=False)
    ds = load_shards(clean.out_dir, tmp_path / "cache")
    victim = next(r for r in ds if r["label"] == 1)
    BatchRecordingBackend.poisoned_seed = victim["seed"]
    try:
        poisoned = run_generation(make_config(coco_set, tmp_path / "poisoned", backends=[{"name": "test_batching"}],
                                              edits_per_object=2), progress=False)
    finally:
        BatchRecordingBackend.poisoned_seed = None
    inpaint_skips = [s for s in poisoned.manifest["skipped"]["items"] if s["stage"] == "inpaint"]
    assert len(inpaint_skips) == 1 and "poisoned sample" in inpaint_skips[0]["reason"]
    counts = poisoned.manifest["counts"]["by_label"]
    assert counts["inpainted"] == clean.manifest["counts"]["by_label"]["inpainted"] - 1
