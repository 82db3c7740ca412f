"""``builder.manifest``'s reader on a real generated run (real COCO-format source, classical backends, Parquet
shards) and on hand-edited copies of it: every way a manifest or a listed shard can be wrong gets an error naming
the file and the problem, and each of the four readers of a build (harness, release, assess, Space) raises its
own error type with that text and reads the shards the manifest lists, in its order."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from inpaintbench.digests import sha256_file
from inpaintbench.folders import ManifestError, check_shards, manifest_shards, read_manifest, run_shards
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("manifest-reader")
    images_dir, annotations = write_coco_set(root / "coco", num_images=3, bad_inputs=False)
    config = {
        "sources": [coco_source_spec(images_dir, annotations)],
        "out_dir": str(root / "run"),
        "samples_per_shard": 4,
        **SMALL_PHOTO_CONFIG,
    }
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation

    run_generation(GenerateConfig.from_dict(config), progress=False)
    return root / "run"


def copy_run(run: Path, dest: Path) -> Path:
    """What the readers read (manifest + shards), to hand-edit without touching the shared run."""
    shutil.copytree(run / "data", dest / "data")
    shutil.copy2(run / "manifest.json", dest / "manifest.json")
    return dest


def edit_manifest(run: Path, edit) -> Path:
    """Apply ``edit`` (which changes the parsed manifest in place) and write the manifest back."""
    path = run / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


def changed(edit):
    """A manifest edit as the new file text (``edit`` changes the parsed manifest in place)."""
    return lambda manifest: (edit(manifest), json.dumps(manifest))[1]


def test_real_run_lists_its_shards_in_manifest_order(generated):
    manifest = read_manifest(generated)
    listed = json.loads((generated / "manifest.json").read_text())["shards"]
    assert len(listed) >= 2  # the order checks below mean something only with several shards
    expected = [generated / item["path"] for item in listed]
    assert expected == sorted((generated / "data").glob("*.parquet"))
    for verify in ("sha256", "size", "none"):
        assert check_shards(manifest, verify) == expected
    assert manifest_shards(generated) == expected == run_shards(generated)
    assert manifest.sha256 == sha256_file(generated / "manifest.json") and manifest.path == generated / "manifest.json"
    assert [s.num_samples for s in manifest.shards] == [pq.read_metadata(p).num_rows for p in expected]
    assert sum(s.num_samples for s in manifest.shards) == manifest.data["counts"]["total"]


def test_manifest_order_decides_not_file_names(generated, tmp_path):
    run = copy_run(generated, tmp_path / "run")
    edit_manifest(run, lambda m: m["shards"].reverse())
    listed = manifest_shards(run)
    assert listed == sorted(listed, reverse=True) and len(listed) >= 2


# Each case: the real manifest -> the text of a hand-edited copy, and what the error must say after the file name.
BAD_MANIFESTS = {
    "not_json": (lambda m: "{not json", "not valid JSON"),
    "not_an_object": (lambda m: json.dumps([m]), "expected a JSON object at the top level, got list"),
    "missing_keys": (changed(lambda m: [m.pop("counts"), m.pop("seed")]), "missing keys ['seed', 'counts']"),
    "other_format": (changed(lambda m: m.update(format="other")), "format 'other' version 1, expected"),
    "newer_version": (
        changed(lambda m: m.update(format_version=2)),
        "version 2, expected 'inpaintbench-manifest' version 1",
    ),
    "shards_empty": (changed(lambda m: m.update(shards=[])), "'shards' must be a non-empty list"),
    "shards_not_list": (changed(lambda m: m.update(shards={"a": 1})), "'shards' must be a non-empty list"),
    "entry_missing_field": (
        changed(lambda m: m["shards"][1].pop("bytes")),
        "shards[1]: needs path, num_samples, sha256, bytes",
    ),
    "entry_not_object": (changed(lambda m: m["shards"].__setitem__(0, "data/x.parquet")), "shards[0]: needs path"),
    "entry_bad_count": (
        changed(lambda m: m["shards"][0].update(num_samples="many")),
        "shards[0]: num_samples and bytes must be integers",
    ),
    "entry_bad_path": (
        changed(lambda m: m["shards"][0].update(path=7)),
        "shards[0]: path and sha256 must be non-empty strings",
    ),
    "path_up": (
        changed(lambda m: m["shards"][0].update(path="../run/data/x.parquet")),
        "shards[0]: path '../run/data/x.parquet' points outside",
    ),
    "path_absolute": (
        changed(lambda m: m["shards"][0].update(path="/etc/hostname")),
        "shards[0]: path '/etc/hostname' points outside",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_bad_manifest_is_named_with_its_problem(generated, tmp_path, case):
    text_of, message = BAD_MANIFESTS[case]
    run = copy_run(generated, tmp_path / "run")
    path = run / "manifest.json"
    path.write_text(text_of(json.loads(path.read_text())))
    before = path.read_bytes()
    with pytest.raises(ManifestError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        read_manifest(run)
    assert path.read_bytes() == before  # reading never rewrites


def test_missing_manifest_and_bad_verify_mode(generated, tmp_path):
    with pytest.raises(ManifestError, match=re.escape(f"{tmp_path / 'manifest.json'}: no manifest")):
        read_manifest(tmp_path)
    assert run_shards(tmp_path) == []  # no manifest and no data/: nothing, for the caller to word
    with pytest.raises(ValueError, match="verify must be 'sha256', 'size' or 'none', got 'md5'"):
        manifest_shards(generated, verify="md5")


def test_listed_shards_are_checked_on_disk(generated, tmp_path):
    run = copy_run(generated, tmp_path / "run")
    first, second = manifest_shards(run)[:2]

    # Same size, one byte changed: only sha256 sees it.
    data = bytearray(first.read_bytes())
    data[200] ^= 0xFF
    first.write_bytes(bytes(data))
    assert manifest_shards(run, "size")[0] == first
    with pytest.raises(ManifestError, match=re.escape(f"{first}: sha256 differs from the manifest's")):
        manifest_shards(run, "sha256")

    # A byte more: size sees it; "none" only asks that the file exists.
    with open(second, "ab") as handle:
        handle.write(b"\0")
    size = second.stat().st_size
    with pytest.raises(ManifestError, match=re.escape(f"{second}: {size} bytes, the manifest says {size - 1}")):
        manifest_shards(run, "size")
    assert manifest_shards(run, "none")[1] == second

    second.unlink()
    with pytest.raises(ManifestError, match=re.escape(f"{second}: listed in {run / 'manifest.json'} but missing")):
        manifest_shards(run, "none")


def test_without_a_manifest_the_data_folder_is_read_and_shards_folder_never(generated, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(generated / "data", run / "data")
    assert run_shards(run) == sorted((run / "data").glob("*.parquet"))
    old = tmp_path / "old"  # the retired shards/ layout: the generator never wrote it
    shutil.copytree(generated / "data", old / "shards")
    assert run_shards(old) == []


# --- the four readers of a build: their own error type, the manifest's text, the manifest's shards -----------
def _callers():
    from inpaintbench.builder.deceptiveness.runner import AssessError, find_shards
    from inpaintbench.builder.release.inputs import GeneratorOutputError, load_generator_output
    from inpaintbench.harness.data import DataError as HarnessDataError
    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.space.config import SpaceConfig
    from inpaintbench.space.data import DataError as SpaceDataError
    from inpaintbench.space.data import load_store

    return {
        "harness": (HarnessDataError, lambda run, tmp: open_eval_data(run)),
        "release": (GeneratorOutputError, lambda run, tmp: load_generator_output(run)),
        "assess": (AssessError, lambda run, tmp: find_shards(run)),
        "space": (SpaceDataError, lambda run, tmp: load_store(SpaceConfig(data=str(run), cache_dir=str(tmp / "c")))),
    }


@pytest.mark.parametrize("caller", ["harness", "release", "assess", "space"])
def test_callers_raise_their_own_error_with_the_manifest_text(generated, tmp_path, caller):
    error_type, read = _callers()[caller]
    run = copy_run(generated, tmp_path / "run")
    edit_manifest(run, lambda m: m["shards"][0].pop("sha256"))
    with pytest.raises(error_type, match=re.escape(f"{run.resolve() / 'manifest.json'}: shards[0]: needs path")):
        read(run.resolve(), tmp_path)
    copy_run(generated, tmp_path / "fresh")
    shard = manifest_shards(tmp_path / "fresh")[0]
    shard.unlink()
    with pytest.raises(error_type, match=re.escape(f"{shard}: listed in") + ".*but missing"):
        read(tmp_path / "fresh", tmp_path)


def test_callers_read_only_the_listed_shards(generated, tmp_path):
    """A Parquet file the manifest does not list (left over, or dropped in by hand) is not part of the build."""
    run = copy_run(generated, tmp_path / "run")
    listed = manifest_shards(run)
    shutil.copy2(listed[0], run / "data" / "train-99999-of-99999.parquet")
    total = read_manifest(run).data["counts"]["total"]
    callers = _callers()
    assert callers["assess"][1](run, tmp_path) == listed
    assert len(callers["harness"][1](run, tmp_path).dataset) == total
    assert len(callers["space"][1](run, tmp_path)) == total
    assert [s.path for s in callers["release"][1](run, tmp_path).shards] == [p.resolve() for p in listed]
