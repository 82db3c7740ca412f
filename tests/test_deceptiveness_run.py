"""``inpaintbench assess`` with the detector judge on a small real generated run (real COCO-format source,
real classical backends, real Parquet shards): assessments file content, spread over trials, determinism, resume,
interruption and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.deceptiveness import create_judge
from inpaintbench.builder.deceptiveness.runner import AssessError, assess_run, read_assessments
from inpaintbench.builder.generate import run_generation
from inpaintbench.cli import main as cli_main
from inpaintbench.harness.detector_judge import DetectorJudge
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set

ASSESSMENTS_FILE = Path("assessments") / "deceptiveness.parquet"
# ELA saturates on most of these small synthetic photos: a high threshold lets stage 2 happen.
JUDGE = {"detector": "ela", "threshold": 0.99}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("assess")
    images_dir, annotations = write_coco_set(root / "coco", num_images=5, bad_inputs=False)
    config = GenerateConfig.from_dict(
        {"sources": [coco_source_spec(images_dir, annotations)], "out_dir": str(root / "run"), **SMALL_PHOTO_CONFIG}
    )
    run_generation(config, progress=False)
    return root / "run"


def copy_run(run: Path, dest: Path) -> Path:
    """The shards only (what assess reads), so each test starts with no assessments file."""
    shutil.copytree(run / "data", dest / "data")
    return dest


def assessment_rows(run: Path) -> list[dict]:
    return read_assessments(run / ASSESSMENTS_FILE)


def comparable(rows: list[dict]) -> list[dict]:
    """NaN (pristine rows) never equals itself: None instead, so equal assessments files compare equal."""
    return [{k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows]


def test_every_sample_gets_a_row_and_trials_spread(generated, tmp_path):
    run = copy_run(generated, tmp_path / "run")
    result = assess_run(run, create_judge("detector", **JUDGE), trials=6, seed=0, progress=False)
    rows = assessment_rows(run)
    labels = {}
    for shard in sorted((run / "data").glob("*.parquet")):
        table = pq.read_table(shard, columns=["sample_id", "label", "backend"]).to_pylist()
        labels.update({r["sample_id"]: (r["label"], r["backend"]) for r in table})
    assert sorted(r["sample_id"] for r in rows) == sorted(labels) and result.assessed == len(labels)
    for row in rows:
        label, backend = labels[row["sample_id"]]
        assert row["backend"] == backend and row["judge"] == "detector" and row["judge_key"] == result.judge_key
        if label == 0:
            assert row["outcome"] == "n/a" and row["trials"] == 0 and np.isnan(row["deceptiveness"])
            continue
        counts = [row[name] for name in ("deceiving", "uncertain", "not_deceiving", "invalid")]
        assert row["trials"] == 6 == sum(counts) and row["invalid"] == 0 and row["valid_trials"] == 6
        k = row["deceiving"] + row["uncertain"]
        assert row["deceptiveness"] == k / 6 and row["deceptiveness_mean"] == pytest.approx((k + 1) / 8)
        assert row["ci_low"] < row["deceptiveness_mean"] < row["ci_high"]
        assert row["caught_single"] <= row["not_deceiving"]
    assessed = [r for r in rows if r["outcome"] != "n/a"]
    # Test-time augmentation makes the verdicts of one sample differ between trials, on some samples.
    assert any(0 < r["deceptiveness"] < 1 for r in assessed)
    assert sum(r["deceiving"] + r["uncertain"] for r in assessed) > 0
    assert 0 < sum(r["caught_single"] for r in assessed) < sum(r["not_deceiving"] for r in assessed)
    summary = result.summary
    assert summary["overall"]["samples"] == len(assessed) and summary["pristine"] == len(rows) - len(assessed)
    assert sum(b["samples"] for b in summary["by_backend"].values()) == len(assessed)
    assert summary["overall"]["mean_deceptiveness"] == pytest.approx(np.mean([r["deceptiveness"] for r in assessed]))


def test_deterministic_for_a_seed_and_resumable(generated, tmp_path):
    whole, resumed, reseeded = (copy_run(generated, tmp_path / name) for name in ("whole", "resumed", "reseeded"))
    judge = create_judge("detector", **JUDGE)
    assess_run(whole, judge, trials=4, seed=7, progress=False)
    first = assess_run(resumed, judge, trials=4, seed=7, progress=False, limit=5, flush_every=2)
    assert first.assessed == 5 and len(assessment_rows(resumed)) == 5
    second = assess_run(resumed, judge, trials=4, seed=7, progress=False)
    assert second.reused == 5 and second.assessed == len(assessment_rows(whole)) - 5
    assert (resumed / ASSESSMENTS_FILE).read_bytes() == (whole / ASSESSMENTS_FILE).read_bytes()
    again = assess_run(resumed, judge, trials=4, seed=7, progress=False)
    assert again.assessed == 0 and (resumed / ASSESSMENTS_FILE).read_bytes() == (whole / ASSESSMENTS_FILE).read_bytes()
    # Another seed is another assessment: its own rows next to the first ones, with other draws.
    other = assess_run(reseeded, judge, trials=4, seed=8, progress=False)
    assert other.judge_key != first.judge_key

    def counts(rows):
        return [(r["sample_id"], r["deceiving"], r["uncertain"], r["caught_single"]) for r in rows]

    assert counts(assessment_rows(reseeded)) != counts(assessment_rows(whole))
    assess_run(resumed, judge, trials=4, seed=8, progress=False)
    keys = {r["judge_key"] for r in assessment_rows(resumed)}
    assert keys == {first.judge_key, other.judge_key}


class FailingDetectorJudge(DetectorJudge):
    """The detector judge until its n-th sample, then an error (as a crash mid-run would be)."""

    def __init__(self, fail_at: int, **params):
        super().__init__(**params)
        self.fail_at, self.singles = fail_at, 0

    def answer_single(self, image, rng):
        self.singles += 1
        if self.singles > self.fail_at:
            raise RuntimeError("judge crashed")
        return super().answer_single(image, rng)


def test_an_error_mid_run_keeps_what_was_assessed(generated, tmp_path):
    run = copy_run(generated, tmp_path / "run")
    with pytest.raises(RuntimeError, match="judge crashed"):
        assess_run(run, FailingDetectorJudge(fail_at=3 * 2, **JUDGE), trials=2, seed=0, progress=False)
    kept = assessment_rows(run)
    assert 3 <= len(kept) and all(r["outcome"] != "n/a" or r["trials"] == 0 for r in kept)
    result = assess_run(run, create_judge("detector", **JUDGE), trials=2, seed=0, progress=False)
    assert result.reused == len(kept)  # the same judge config: the rows before the crash are kept as they are
    fresh = copy_run(generated, tmp_path / "fresh")
    assess_run(fresh, create_judge("detector", **JUDGE), trials=2, seed=0, progress=False)
    assert comparable(assessment_rows(run)) == comparable(assessment_rows(fresh))


def test_cli_prints_the_summary_per_backend(generated, tmp_path, capsys):
    run = copy_run(generated, tmp_path / "run")
    argv = ["assess", "--data", str(run), "--trials", "3", "--threshold", "0.99", "--no-progress"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    backends = {r["backend"] for r in assessment_rows(run) if r["outcome"] != "n/a"}
    assert "(all)" in out and all(name in out for name in backends) and "pristine samples (not assessed)" in out
    assert cli_main(argv) == 0
    assert " 0 assessed now" in capsys.readouterr().out


def test_bad_input_is_named_and_loses_nothing(generated, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["assess", "--data", str(empty), "--no-progress"]) == 2
    assert f"{empty}: no shards found" in capsys.readouterr().err

    run = copy_run(generated, tmp_path / "run")
    assess_run(run, create_judge("detector", **JUDGE), trials=1, seed=0, progress=False)
    shard = sorted((run / "data").glob("*.parquet"))[0]
    shard.write_bytes(b"not parquet")
    before = (run / ASSESSMENTS_FILE).read_bytes()
    assert cli_main(["assess", "--data", str(run), "--trials", "2", "--no-progress"]) == 2
    assert f"{shard}: not a readable Parquet shard" in capsys.readouterr().err
    assert (run / ASSESSMENTS_FILE).read_bytes() == before

    broken = copy_run(generated, tmp_path / "broken")
    (broken / ASSESSMENTS_FILE).parent.mkdir()
    (broken / ASSESSMENTS_FILE).write_bytes(b"half a file")
    with pytest.raises(AssessError, match="existing assessments are unreadable"):
        assess_run(broken, create_judge("detector"), trials=1, progress=False)
    assert (broken / ASSESSMENTS_FILE).read_bytes() == b"half a file"

    assert cli_main(["assess", "--data", str(run), "--judge", "vlm", "--no-progress"]) == 2
    assert "--judge vlm needs --model" in capsys.readouterr().err
