"""Release folder: layout, card, determinism, input checks, load_dataset and the builder class on it."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers.release_rows import make_rows, rows_without_decoding, write_generator_output, write_split_config

SMALL_SHARDS = 6000  # bytes: a few rows per release file, so splits span several files


@pytest.fixture(scope="module")
def split_config_file(tmp_path_factory) -> Path:
    return write_split_config(tmp_path_factory.mktemp("split-config") / "splits.yaml")


@pytest.fixture(scope="module")
def release_v1(tmp_path_factory, split_config_file):
    """Built once per module: the tests below only read it."""
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import build_release
    from inpaintbench.builder.release.splits import load_split_config

    root = tmp_path_factory.mktemp("release-v1")
    rows = make_rows(range(12))
    out = write_generator_output(root / "gen", rows)
    dest = root / "release"
    summary = build_release(
        load_generator_output(out), load_split_config(split_config_file), dest, "1.0.0", "org/bench", SMALL_SHARDS
    )
    return dest, summary, rows


def test_layout_names_counts_and_summary(release_v1):
    dest, summary, rows = release_v1
    names = sorted(p.relative_to(dest).as_posix() for p in (dest / "data").rglob("*.parquet"))
    pattern = re.compile(
        r"data/(default|paste_back)/(train|validation|test|test_ood_backend)-(\d{5})-of-(\d{5})\.parquet"
    )
    groups = defaultdict(list)
    for name in names:
        match = pattern.fullmatch(name)
        assert match, name
        groups[match.group(1, 2)].append((int(match.group(3)), int(match.group(4))))
    for items in groups.values():
        totals = {total for _, total in items}
        assert len(totals) == 1 and sorted(i for i, _ in items) == list(range(totals.pop()))
    assert max(len(v) for v in groups.values()) > 1  # small shards: a split spans several files
    # 5/2/5 photos in train/validation/test, 2 in-domain samples each (pristine + patchmatch); opencv_ns held out,
    # its edits of the 5 train photos left out of the release.
    assert len(rows) == 36 and summary["num_samples"] == 31
    assert summary["excluded_ood_samples_on_train_photos"] == {"test_ood_backend": 5}
    split_totals = {s: c["total"] for s, c in summary["counts"]["split"].items()}
    assert split_totals == {"train": 10, "validation": 4, "test": 10, "test_ood_backend": 7}
    recorded = json.loads((dest / "release.json").read_text())
    assert set(recorded["files"]) == {
        p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() and p.name != "release.json"
    }


def test_load_dataset_on_the_local_release_folder(release_v1, tmp_path):
    import datasets

    from inpaintbench.schema import FEATURES

    dest, summary, rows = release_v1
    ds = datasets.load_dataset(str(dest), cache_dir=str(tmp_path / "cache"))
    assert set(ds) == {"train", "validation", "test", "test_ood_backend"}
    assert all(ds[s].features == FEATURES for s in ds)
    assert set(ds["test_ood_backend"]["backend"]) == {"opencv_ns"}
    photo_split = defaultdict(set)
    for split in ("train", "validation", "test"):
        assert "opencv_ns" not in ds[split]["backend"]
        for photo in ds[split]["source_image_id"]:
            photo_split[photo].add(split)
    assert all(len(s) == 1 for s in photo_split.values()) and len(photo_split) == 12
    train_photos = {photo for photo, splits in photo_split.items() if splits == {"train"}}
    assert train_photos and not train_photos & set(ds["test_ood_backend"]["source_image_id"])
    # Every sample is released except the held-out backend's edits of train photos.
    left_out = {r["sample_id"] for r in rows if r["backend"] == "opencv_ns" and r["source_image_id"] in train_photos}
    assert sorted(i for s in ds for i in ds[s]["sample_id"]) == sorted(
        r["sample_id"] for r in rows if r["sample_id"] not in left_out
    )
    first = ds["train"][0]
    assert first["image"].size == (16, 16) and first["mask"].mode == "L"

    paste = datasets.load_dataset(str(dest), "paste_back", cache_dir=str(tmp_path / "cache"))
    assert set(paste) == {"train", "validation", "test"}  # no paste_back sample is held out
    assert set(v for s in paste for v in paste[s]["strategy"]) == {"paste_back", "none"}
    assert sum(paste[s].num_rows for s in paste) == 24


def test_card_front_matter_tables_plot_and_sections(release_v1):
    from PIL import Image

    dest, summary, _ = release_v1
    text = (dest / "README.md").read_text()
    meta = yaml.safe_load(text.split("---", 2)[1])
    assert meta["license"] == "other" and meta["size_categories"] == ["n<1K"]
    assert "image-classification" in meta["task_categories"] and meta["pretty_name"] == "InpaintBench"
    files = {p.relative_to(dest).as_posix() for p in (dest / "data").rglob("*.parquet")}
    for config in meta["configs"]:
        for item in config["data_files"]:
            matched = {f for f in files if re.fullmatch(item["path"].replace("*", ".*"), f)}
            assert matched == set(summary["configs"][config["config_name"]]["splits"][item["split"]]["files"])
    assert [c["config_name"] for c in meta["configs"]] == ["default", "paste_back"]
    for needle in (
        'revision="v1.0.0"', "load_dataset(\"org/bench\"", "datasets` >= 4", "GeneratorBasedBuilder", "### By backend",
        "### By source", "### By category", "### By strategy", "## How it was made", "## Limitations and misuse risk",
        "2502.06593", "images/counts.png", "photos bundled in Python wheels", "no objects: 1",
    ):
        assert needle in text, needle
    assert "| patchmatch | " in text and "| **all** |" in text
    with Image.open(dest / "images" / "counts.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 300


def test_release_is_deterministic(release_v1, tmp_path, split_config_file):
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import build_release
    from inpaintbench.builder.release.splits import load_split_config

    dest, summary, rows = release_v1
    out2 = write_generator_output(tmp_path / "gen2", rows, rows_per_shard=7)  # other input sharding, same rows
    again = build_release(
        load_generator_output(out2),
        load_split_config(split_config_file),
        tmp_path / "r2",
        "1.0.0",
        "org/bench",
        SMALL_SHARDS,
    )
    first = json.loads((dest / "release.json").read_text())
    # Every data file and the plot are byte-identical; the card differs only in naming the other manifest.
    assert {k: v for k, v in again["files"].items() if k != "README.md"} == {
        k: v for k, v in first["files"].items() if k != "README.md"
    }
    card_a = (dest / "README.md").read_text().replace(first["generator"]["manifest_sha256"], "M")
    card_b = (tmp_path / "r2" / "README.md").read_text().replace(again["generator"]["manifest_sha256"], "M")
    assert card_a == card_b
    # The split salt is the release's seed: another salt puts photos in other splits, so other data files.
    salted = build_release(
        load_generator_output(out2),
        load_split_config(write_split_config(tmp_path / "salted.yaml", salt="another-salt")),
        tmp_path / "r3",
        "1.0.0",
        "org/bench",
        SMALL_SHARDS,
    )
    data = {k: v for k, v in first["files"].items() if k.startswith("data/")}
    assert {k: v for k, v in salted["files"].items() if k.startswith("data/")} != data


def test_refuses_to_write_over_a_non_empty_folder(tmp_path, split_config_file):
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import ReleaseLayoutError, build_release
    from inpaintbench.builder.release.splits import load_split_config

    out = write_generator_output(tmp_path / "gen", make_rows(range(3)))
    dest = tmp_path / "release"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseLayoutError, match="not an empty folder"):
        build_release(load_generator_output(out), load_split_config(split_config_file), dest, "1.0.0")
    assert (dest / "keep.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == [
        "gen",
        "release",
    ]


def test_bad_generator_outputs_are_named(tmp_path, split_config_file):
    from inpaintbench.builder.release.inputs import GeneratorOutputError, load_generator_output
    from inpaintbench.builder.release.layout import ReleaseLayoutError, build_release
    from inpaintbench.builder.release.splits import load_split_config

    with pytest.raises(GeneratorOutputError, match="no manifest"):
        load_generator_output(tmp_path)
    out = write_generator_output(tmp_path / "gen", make_rows(range(3)))
    shard = out / "data" / "shard-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(GeneratorOutputError, match=re.escape(str(shard.resolve())) + ".*sha256"):
        load_generator_output(out)
    shard.unlink()
    with pytest.raises(GeneratorOutputError, match="missing"):
        load_generator_output(out)

    dup = write_generator_output(tmp_path / "dup", make_rows([1]) + make_rows([1]))
    with pytest.raises(ReleaseLayoutError, match="appears twice"):
        build_release(load_generator_output(dup), load_split_config(split_config_file), tmp_path / "r", "1.0.0")
    coco = write_generator_output(tmp_path / "coco", make_rows([1], source="coco"))
    with pytest.raises(ReleaseLayoutError, match=r"no license stated for source\(s\) \['coco'\]"):
        build_release(load_generator_output(coco), load_split_config(split_config_file), tmp_path / "r", "1.0.0")
    assert not (tmp_path / "r").exists()


def test_builder_class_configs_match_the_example_split_config():
    from inpaintbench.builder.hf_builder import ASSESSMENT_CONFIGS, RELEASE_CONFIGS, InpaintBench
    from inpaintbench.builder.release.splits import default_split_config_path, load_split_config

    config = load_split_config(default_split_config_path())
    assert [c.name for c in config.configs] == list(RELEASE_CONFIGS)
    # "deceiving" is added by the release writer when assessments come along (tests/test_release_assessments.py).
    assert [c.name for c in InpaintBench.BUILDER_CONFIGS] == list(RELEASE_CONFIGS) + list(ASSESSMENT_CONFIGS)


def test_builder_class_yields_exactly_what_load_dataset_yields(release_v1, tmp_path):
    import datasets

    from inpaintbench.builder.hf_builder import InpaintBench

    dest, _, _ = release_v1
    for config in ("default", "paste_back"):
        expected = datasets.load_dataset(str(dest), config, cache_dir=str(tmp_path / "cache-a"))
        builder = InpaintBench(config_name=config, release=str(dest), cache_dir=str(tmp_path / "cache-b"))
        builder.download_and_prepare()
        got = builder.as_dataset()
        assert list(got) == list(expected)
        for split in expected:
            assert got[split].features == expected[split].features
            assert rows_without_decoding(got[split]) == rows_without_decoding(expected[split])
    with pytest.raises(ValueError, match="no revisions"):
        InpaintBench(
            config_name="default", release=str(dest), revision="v1.0.0", cache_dir=str(tmp_path / "c")
        ).download_and_prepare()


def test_cli_writes_a_local_release_and_reuses_it(tmp_path, split_config_file, capsys):
    import argparse

    from inpaintbench.builder.release_cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = write_generator_output(tmp_path / "gen", make_rows(range(4)))

    def run(*argv):
        args = parser.parse_args(["publish", "--data", str(out), "--split-config", str(split_config_file), *argv])
        return args.func(args)

    dest = tmp_path / "local-release"
    assert run("--version", "1.0.0", "--out", str(dest)) == 0
    assert "built" in capsys.readouterr().out and (dest / "README.md").is_file()
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    assert run("--version", "1.0.0", "--out", str(dest)) == 0
    assert "reused" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == before
    # Built with other options (more files per split): rebuilt and swapped in whole, nothing else left beside it.
    assert run("--version", "1.0.0", "--out", str(dest), "--min-files-per-split", "3") == 0
    assert "rebuilt" in capsys.readouterr().out
    assert json.loads((dest / "release.json").read_text())["build_options"]["min_files_per_split"] == 3
    assert sorted(p.name for p in dest.parent.iterdir() if p.name.startswith(".")) == []
    # A folder that is not a release is never touched.
    foreign = tmp_path / "my-notes"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert run("--version", "1.0.0", "--out", str(foreign)) == 2
    assert "not a release folder" in capsys.readouterr().err and (foreign / "notes.txt").read_text() == "keep me"
    assert run("--version", "1.0.0") == 2  # neither --repo nor --to
    assert run("--version", "1.0", "--out", str(tmp_path / "x")) == 2
    assert "MAJOR.MINOR.PATCH" in capsys.readouterr().err


def test_publish_refuses_a_folder_built_for_another_repo_or_version(release_v1):
    from inpaintbench.builder.release.publish import PublishError, publish_release

    dest, _, _ = release_v1  # built for org/bench v1.0.0; the checks run before any Hub call
    for repo, version in (("org/other", "1.0.0"), ("org/bench", "1.0.1")):
        with pytest.raises(PublishError, match="built for org/bench v1.0.0"):
            publish_release(dest, repo, version, api=object())
    with pytest.raises(PublishError, match="MAJOR.MINOR.PATCH"):
        publish_release(dest, "org/bench", "1.0", api=object())


def test_every_split_is_several_files_for_dataloader_workers(tmp_path, split_config_file):
    """At least min(8, rows) files per split even when one file would hold it all (the old layout's one file per
    split gave one worker); rows spread evenly; the size cap still adds files."""
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import MIN_FILES_PER_SPLIT, build_release
    from inpaintbench.builder.release.splits import load_split_config

    out = write_generator_output(tmp_path / "gen", make_rows(range(40)))
    summary = build_release(load_generator_output(out), load_split_config(split_config_file), tmp_path / "r", "1.0.0")
    for config in summary["configs"].values():
        for split in config["splits"].values():
            counts = [pq.read_metadata(tmp_path / "r" / f).num_rows for f in split["files"]]
            assert len(counts) == min(MIN_FILES_PER_SPLIT, split["num_samples"]) and sum(counts) == split["num_samples"]
            assert max(counts) - min(counts) <= 1, counts  # rows spread evenly
    capped = build_release(load_generator_output(out), load_split_config(split_config_file), tmp_path / "r2", "1.0.0",
                           max_shard_bytes=2000, min_files_per_split=1)
    train = capped["configs"]["default"]["splits"]["train"]
    assert len(train["files"]) > MIN_FILES_PER_SPLIT  # the byte cap wins when it asks for more
