"""Deceptiveness scores (UGDA) in the release, on a small real generated run assessed by the real
``inpaintbench assess`` (detector judge, K=2), released by the real ``inpaintbench publish --to`` and read back
with ``load_dataset`` and the builder class."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set
from tests.helpers.release_rows import rows_without_decoding

pytestmark = pytest.mark.slow  # one real generation + assess + publish (~4 s) shared by the module

ASSESSMENTS_FILE = Path("assessments") / "deceptiveness.parquet"
SPLITS = {
    "salt": "ugda-release", "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
    "out_of_domain": [{"split": "test_ood_backend", "backends": ["opencv_ns"]}],
    "configs": [{"name": "default"}, {"name": "paste_back", "where": {"strategy": ["paste_back", "none"]}}],
    "licenses": {"synth": {"id": "cc0-1.0", "note": "synthetic test photos"}},
}
# ELA saturates on these small synthetic photos: at 0.99 stage 2 happens, so outcomes vary.
ASSESS = ["--judge", "detector", "--threshold", "0.99", "--trials", "2", "--no-progress"]


def cli(*argv: str) -> int:
    from inpaintbench.cli import main

    return main(list(argv))


@pytest.fixture(scope="module")
def generated(tmp_path_factory, torch_one_thread) -> Path:
    """A real generator run (5 photos, the default classical backend mix), not yet assessed."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation

    root = tmp_path_factory.mktemp("ugda-release")
    images_dir, annotations = write_coco_set(root / "coco", num_images=5, bad_inputs=False)
    config = GenerateConfig.from_dict(
        {"sources": [coco_source_spec(images_dir, annotations)], "out_dir": str(root / "run"), **SMALL_PHOTO_CONFIG}
    )
    run_generation(config, progress=False)
    return root / "run"


@pytest.fixture(scope="module")
def split_config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ugda-splits") / "splits.yaml"
    path.write_text(yaml.safe_dump(SPLITS, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def assessed(generated, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("assessed") / "run"
    shutil.copytree(generated, run)
    assert cli("assess", "--data", str(run), *ASSESS) == 0
    return run


@pytest.fixture(scope="module")
def publish(split_config_file):
    """``publish(run, dest, *extra)``: ``inpaintbench publish --version 1.0.0 --out dest`` of ``run``; exit code."""

    def run_publish(run: Path, dest: Path, *extra: str) -> int:
        return cli("publish", "--version", "1.0.0", "--data", str(run), "--split-config", str(split_config_file),
                   "--out", str(dest), *extra)

    return run_publish


@pytest.fixture(scope="module")
def release(assessed, publish) -> Path:
    dest = assessed.parent / "release"
    assert publish(assessed, dest) == 0
    return dest


def assessments_by_id(run: Path) -> dict[str, dict]:
    from inpaintbench.builder.deceptiveness.runner import read_assessments

    rows = read_assessments(run / ASSESSMENTS_FILE)
    assert len({r["judge_key"] for r in rows}) == 1
    return {r["sample_id"]: r for r in rows}


def same_float32(a: float, b: float) -> bool:
    import numpy as np

    return (math.isnan(a) and math.isnan(b)) or float(np.float32(b)) == a


def test_columns_are_present_and_equal_to_the_assessments_file(release, assessed, tmp_path):
    import datasets

    from inpaintbench.schema import ASSESSMENT_FEATURES, FEATURES

    expected_features = datasets.Features({**FEATURES, **ASSESSMENT_FEATURES})
    ds = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "cache"))
    assert all(ds[s].features == expected_features for s in ds)
    by_id = assessments_by_id(assessed)
    seen = set()
    for split in ds:
        columns = ds[split].select_columns(["sample_id", "label", "deceptiveness", "deceptiveness_ci_low",
                                            "deceptiveness_ci_high", "ugda_outcome"]).to_list()
        for row in columns:
            side = by_id[row["sample_id"]]
            assert same_float32(row["deceptiveness"], side["deceptiveness_mean"])
            assert same_float32(row["deceptiveness_ci_low"], side["ci_low"])
            assert same_float32(row["deceptiveness_ci_high"], side["ci_high"])
            assert row["ugda_outcome"] == side["outcome"]
            if row["label"] == 0:
                assert math.isnan(row["deceptiveness"]) and row["ugda_outcome"] == "n/a"
            else:
                assert row["deceptiveness_ci_low"] <= row["deceptiveness"] <= row["deceptiveness_ci_high"]
            seen.add(row["sample_id"])
    # Every released sample assessed; every assessed one released but the held-out backend's edits of train photos.
    left_out = set(by_id) - seen
    assert seen <= set(by_id) and {by_id[i]["backend"] for i in left_out} <= {"opencv_ns"}
    recorded = json.loads((release / "release.json").read_text())
    assert recorded["excluded_ood_samples_on_train_photos"].get("test_ood_backend", 0) == len(left_out)
    outcomes = {r["outcome"] for r in by_id.values()}
    assert outcomes & {"deceiving", "uncertain"} and "not_deceiving" in outcomes  # the filter below has work to do


def test_deceiving_config_is_the_ugda_filter_plus_pristine(release, assessed, tmp_path):
    import datasets

    by_id = assessments_by_id(assessed)
    default = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "cache"))
    deceiving = datasets.load_dataset(str(release), "deceiving", cache_dir=str(tmp_path / "cache"))
    split_of = {i: s for s in default for i in default[s]["sample_id"]}
    expected = {i for i, r in by_id.items() if r["outcome"] in ("deceiving", "uncertain", "n/a") and i in split_of}
    got = {i: s for s in deceiving for i in deceiving[s]["sample_id"]}
    assert set(got) == expected
    assert all(split_of[i] == s for i, s in got.items())  # same split as in default
    pristine = {i for i, r in by_id.items() if r["outcome"] == "n/a"}
    assert pristine < set(got) and len(got) < len(split_of)

    summary = json.loads((release / "release.json").read_text())
    record = summary["assessment"]
    assert summary["configs"]["deceiving"]["include_pristine"] is True
    assert record["judge"] == "detector" and record["trials"] == 2 and record["seed"] == 0
    assert record["params"] == json.loads(next(iter(by_id.values()))["judge_config"])["judge"]
    assert record["params"]["params"]["threshold"] == 0.99 and record["params"]["detector"]["name"] == "ela"
    assert record["judge_key"] == next(iter(by_id.values()))["judge_key"]
    from inpaintbench.digests import sha256_file

    assert record["sidecar_sha256"] == sha256_file(assessed / ASSESSMENTS_FILE)
    inpainted = [r for i, r in by_id.items() if r["outcome"] != "n/a" and i in split_of]  # the released ones
    overall = record["share_deceived"]["overall"]
    assert overall["judged"] == len(inpainted)
    assert overall["deceived"] == sum(r["outcome"] in ("deceiving", "uncertain") for r in inpainted)
    by_backend = record["share_deceived"]["by_backend"]
    assert set(by_backend) == {r["backend"] for r in inpainted}
    assert sum(b["deceived"] for b in by_backend.values()) == overall["deceived"]
    assert sum(b["deceived"] for b in record["share_deceived"]["by_split"].values()) == overall["deceived"]


def test_card_has_the_deceptiveness_section(release, assessed):
    text = (release / "README.md").read_text()
    summary = json.loads((release / "release.json").read_text())
    record = summary["assessment"]
    meta = yaml.safe_load(text.split("---", 2)[1])
    assert [c["config_name"] for c in meta["configs"]] == ["default", "paste_back", "deceiving"]
    section = text.split("## Deceptiveness (UGDA)", 1)[1].split("\n## ", 1)[0]
    for needle in (
        "weak proxy",
        record["judge_key"],
        record["sidecar_sha256"],
        "K = 2",
        'ds.filter(lambda r: r["deceptiveness_ci_low"] > 0.5)',
        "### Share deceived by backend",
        "### Share deceived by split",
        "`deceiving`",
    ):
        assert needle in section, needle
    for backend, block in record["share_deceived"]["by_backend"].items():
        assert f"| {backend} | {block['inpainted']} | {block['judged']} | {block['deceived']} |" in section
    assert "`ugda_outcome`" in text.split("## Fields", 1)[1]


def test_builder_class_yields_what_load_dataset_yields_with_assessments(release, tmp_path):
    import datasets

    from inpaintbench.builder.hf_builder import InpaintBench

    for config in ("default", "deceiving"):
        expected = datasets.load_dataset(str(release), config, cache_dir=str(tmp_path / "a"))
        builder = InpaintBench(config_name=config, release=str(release), cache_dir=str(tmp_path / "b"))
        builder.download_and_prepare()
        got = builder.as_dataset()
        assert list(got) == list(expected)
        for split in expected:
            assert got[split].features == expected[split].features
            assert "ugda_outcome" in got[split].features
            assert rows_without_decoding(got[split]) == rows_without_decoding(expected[split])


def test_without_assessments_the_release_is_unchanged(generated, publish, tmp_path):
    import datasets

    from inpaintbench.builder.hf_builder import InpaintBench
    from inpaintbench.schema import FEATURES

    assert not (generated / ASSESSMENTS_FILE).exists()
    dest = tmp_path / "plain"
    assert publish(generated, dest) == 0
    summary = json.loads((dest / "release.json").read_text())
    assert "assessment" not in summary and list(summary["configs"]) == ["default", "paste_back"]
    assert "Deceptiveness" not in (dest / "README.md").read_text()
    for path in (dest / "data").rglob("*.parquet"):
        assert pq.read_schema(path).names == list(FEATURES)
    ds = datasets.load_dataset(str(dest), cache_dir=str(tmp_path / "a"))
    builder = InpaintBench(config_name="default", release=str(dest), cache_dir=str(tmp_path / "b"))
    builder.download_and_prepare()
    got = builder.as_dataset()
    for split in ds:
        assert ds[split].features == got[split].features == FEATURES
        assert rows_without_decoding(got[split]) == rows_without_decoding(ds[split])
    with pytest.raises(ValueError, match="BuilderConfig 'deceiving'|no config 'deceiving'"):
        InpaintBench(config_name="deceiving", release=str(dest), cache_dir=str(tmp_path / "c")).download_and_prepare()


def test_several_judge_setups_need_a_choice_and_other_assessments_are_never_reused(assessed, publish, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(assessed, run, ignore=shutil.ignore_patterns("release"))
    first_key = next(iter(assessments_by_id(assessed).values()))["judge_key"]
    dest = tmp_path / "release"
    assert publish(run, dest) == 0
    staged = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    capsys.readouterr()

    assert cli("assess", "--data", str(run), *ASSESS[:-1], "--seed", "1", "--no-progress") == 0  # a second setup
    capsys.readouterr()
    assert publish(run, tmp_path / "other") == 2  # bad input: which judge setup is meant
    err = capsys.readouterr().err
    assert "--assessment KEY" in err and first_key in err and "K=2, seed 0" in err and "K=2, seed 1" in err
    assert not (tmp_path / "other").exists()

    from inpaintbench.builder.deceptiveness.runner import read_assessments

    second_key = next(r["judge_key"] for r in read_assessments(run / ASSESSMENTS_FILE) if r["judge_key"] != first_key)
    assert publish(run, tmp_path / "other", "--assessment", "nosuchkey") == 2
    assert "no judge setup 'nosuchkey'" in capsys.readouterr().err
    # Same judge setup, but the assessments file changed: the staged release is not reused; it is rebuilt from it.
    assert publish(run, dest, "--assessment", first_key) == 0
    assert "rebuilt" in capsys.readouterr().out
    rebuilt = json.loads((dest / "release.json").read_text())
    assert (
        rebuilt["assessment"]["sidecar_sha256"]
        != json.loads(staged[dest / "release.json"])["assessment"]["sidecar_sha256"]
    )
    assert publish(run, tmp_path / "second", "--assessment", second_key) == 0
    second = json.loads((tmp_path / "second" / "release.json").read_text())
    assert second["assessment"]["judge_key"] == second_key and second["assessment"]["seed"] == 1
    assert publish(run, tmp_path / "second", "--assessment", second_key) == 0  # same inputs: reused
    assert "reused" in capsys.readouterr().out


def test_assessments_from_another_run_are_refused(assessed, publish, tmp_path, capsys):
    import pyarrow as pa

    run = tmp_path / "run"
    shutil.copytree(assessed, run, ignore=shutil.ignore_patterns("release"))
    table = pq.read_table(run / ASSESSMENTS_FILE)
    ids = table.column("sample_id").to_pylist()
    ids[0] = "not-in-this-build"
    pq.write_table(table.set_column(0, "sample_id", pa.array(ids, pa.string())), run / ASSESSMENTS_FILE)
    assert publish(run, tmp_path / "release") == 2
    err = capsys.readouterr().err
    assert str(run / ASSESSMENTS_FILE) in err and "another run" in err
    assert not (tmp_path / "release").exists()


def test_hub_release_with_assessments_loads_by_revision_and_through_the_builder(assessed, split_config_file, tmp_path):
    """Published to tests/helpers/hub_server.py by the real CLI, read back by the real clients: the builder class takes
    its features from the tagged release.json and yields what load_dataset yields, for both configs."""

    from tests.helpers.hub_client import run_client, run_publish
    from tests.helpers.hub_server import HubServer

    repo = "inpaintbench-org/assessed"
    run = tmp_path / "run"
    shutil.copytree(assessed, run, ignore=shutil.ignore_patterns("release"))
    with HubServer(tmp_path / "hub") as hub:
        proc = run_publish(hub, tmp_path, run, split_config_file, "1.0.0", repo)
        assert proc.returncode == 0, proc.stderr[-3000:]
        loaded = run_client(
            hub,
            tmp_path,
            f"""
            import json, math, datasets
            from inpaintbench.builder.hf_builder import InpaintBench

            def rows(ds):
                for c in ("image", "mask", "original"):
                    ds = ds.cast_column(c, datasets.Image(decode=False))
                return [{{k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}}
                        for r in ds.to_list()]

            out = {{}}
            for config in ("default", "deceiving"):
                expected = datasets.load_dataset("{repo}", config, revision="v1.0.0")
                builder = InpaintBench(config_name=config, release="{repo}", revision="v1.0.0",
                                       cache_dir="{tmp_path}/bc")
                builder.download_and_prepare()
                got = builder.as_dataset()
                out[config] = {{
                    "same": list(got) == list(expected) and all(
                        got[s].features == expected[s].features and rows(got[s]) == rows(expected[s])
                        for s in expected),
                    "columns": sorted(set(c for s in got for c in got[s].column_names)),
                    "outcomes": sorted(set(o for s in got for o in got[s]["ugda_outcome"])),
                }}
            print(json.dumps(out))
        """,
        )
        assert hub.state.unhandled == []
    for config in ("default", "deceiving"):
        assert loaded[config]["same"] is True
        assert {"deceptiveness", "deceptiveness_ci_low", "deceptiveness_ci_high", "ugda_outcome"} <= set(
            loaded[config]["columns"]
        )
    assert set(loaded["deceiving"]["outcomes"]) <= {"deceiving", "uncertain", "n/a"}
    assert "not_deceiving" in loaded["default"]["outcomes"] and set(loaded["deceiving"]["outcomes"]) < set(
        loaded["default"]["outcomes"]
    )


def test_a_partly_assessed_run_releases_its_unassessed_samples_as_nan_and_empty(generated, publish, tmp_path):
    import datasets

    from inpaintbench.builder.deceptiveness import create_judge
    from inpaintbench.builder.deceptiveness.runner import assess_run

    run = tmp_path / "run"
    shutil.copytree(generated, run)
    assess_run(run, create_judge("detector", detector="ela", threshold=0.99), trials=2, seed=0, progress=False, limit=5)
    assert publish(run, tmp_path / "release") == 0
    scored = assessments_by_id(run)
    ds = datasets.load_dataset(str(tmp_path / "release"), cache_dir=str(tmp_path / "cache"))
    rows = [
        r
        for s in ds
        for r in ds[s].select_columns(["sample_id", "deceptiveness", "deceptiveness_ci_high", "ugda_outcome"]).to_list()
    ]
    unscored = [r for r in rows if r["sample_id"] not in scored]
    assert len(scored) == 5 and len(unscored) == len(rows) - 5
    assert all(
        math.isnan(r["deceptiveness"]) and math.isnan(r["deceptiveness_ci_high"]) and r["ugda_outcome"] == ""
        for r in unscored
    )
    record = json.loads((tmp_path / "release" / "release.json").read_text())["assessment"]["share_deceived"]["overall"]
    assert record["judged"] == sum(r["outcome"] != "n/a" for r in scored.values()) < record["inpainted"]
