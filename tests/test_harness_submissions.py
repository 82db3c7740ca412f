"""Submissions: folders of maps/scores and sandboxed Python detectors; every bad sample named, none dropped."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from inpaintbench.harness.data import open_eval_data
from inpaintbench.harness.problems import SubmissionError
from inpaintbench.harness.reduce import summarize_prediction
from inpaintbench.harness.run import EvalOptions, run_evaluation
from inpaintbench.harness.scoring import Scorer
from tests.helpers.harness_rows import MISBEHAVING_DETECTOR, make_rows, oracle_maps, write_shard


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    return write_shard(tmp_path_factory.mktemp("data") / "part.parquet", n=8)


def _write_folder(root, maps: dict, scores: dict | None, fmt: str = "png", scores_as: str = "csv"):
    (root / "maps").mkdir(parents=True)
    for sample_id, arr in maps.items():
        if fmt == "png":
            Image.fromarray(arr, "L").save(root / "maps" / f"{sample_id}.png")
        else:
            np.save(root / "maps" / f"{sample_id}.npy", arr.astype(np.float32) / 255.0)
    if scores is not None and scores_as == "csv":
        with open(root / "scores.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sample_id", "score"])
            writer.writerows(scores.items())
    elif scores is not None:
        (root / "scores.json").write_text(json.dumps(scores))
    return root


def _expected(maps, scores):
    rows = make_rows(8)
    sums = [summarize_prediction(maps[i], m, scores[i] if scores else None, label)
            for i, m, label in zip(rows["sample_id"], rows["mask"], rows["label"], strict=False)]
    return Scorer(sums).compute()


@pytest.mark.parametrize("fmt, scores_as", [("png", "csv"), ("npy", "json"), ("png", None)])
def test_folder_submission_scores_exactly_like_the_reducer(tmp_path, shard, fmt, scores_as):
    maps = oracle_maps(8)
    scores = {k: round(float(v.mean() / 255), 4) for k, v in maps.items()} if scores_as else None
    folder = _write_folder(tmp_path / "sub", maps, scores, fmt, scores_as or "csv")
    data = open_eval_data(shard)
    results = run_evaluation(EvalOptions(data=shard, submission=str(folder), bootstrap=0, progress=False), data,
                             use_evaluate=False)
    expected_maps = maps if fmt == "png" else {k: v.astype(np.float32) / 255.0 for k, v in maps.items()}
    expected = _expected(expected_maps, scores)
    assert results["metrics"] == expected
    assert results["metrics"]["pixel_pooled_exact"] is True
    assert results["failures"]["count"] == 0
    assert results["metrics"]["pixel_f1_mean"] > 0.8  # the oracle maps are good: a sanity check on the data


def _bad_folder(tmp_path):
    maps = oracle_maps(8)
    scores = {k: 0.5 for k in maps}
    del maps["s001"]  # missing map
    del scores["s002"]  # missing score
    maps["zzz-not-in-data"] = np.zeros((40, 56), np.uint8)  # extra id
    maps["s003"] = np.zeros((40, 20), np.uint8)  # wrong shape (aspect ratio)
    scores["s004"] = float("nan")
    scores["s005"] = 1.7
    folder = _write_folder(tmp_path / "bad", maps, scores)
    (folder / "maps" / "s006.png").write_bytes(b"not a png")
    return folder


def test_bad_folder_is_refused_naming_every_sample(tmp_path, shard):
    folder = _bad_folder(tmp_path)
    data = open_eval_data(shard)
    with pytest.raises(SubmissionError) as info:
        run_evaluation(EvalOptions(data=shard, submission=str(folder), bootstrap=0, progress=False), data,
                       use_evaluate=False)
    found = {(p.sample_id, p.kind) for p in info.value.problems}
    assert found == {
        ("s001", "missing"), ("s002", "missing"), ("zzz-not-in-data", "extra"), ("s003", "wrong_shape"),
        ("s004", "nan"), ("s005", "out_of_range"), ("s006", "unreadable"),
    }
    message = str(info.value)
    for sample_id in ("s001", "s002", "s003", "s004", "s005", "s006", "zzz-not-in-data"):
        assert sample_id in message


def test_penalize_policy_scores_failures_as_misses_and_lists_them(tmp_path, shard):
    folder = _bad_folder(tmp_path)
    data = open_eval_data(shard)
    results = run_evaluation(EvalOptions(data=shard, submission=str(folder), bootstrap=0, progress=False,
                                         policy="penalize"), data, use_evaluate=False)
    assert results["metrics"]["n_images"] == 8  # nobody dropped
    assert results["failures"]["count"] == 7
    assert results["failures"]["by_kind"] == {"extra": 1, "missing": 2, "nan": 1, "out_of_range": 1,
                                              "unreadable": 1, "wrong_shape": 1}
    # Each failed sample counts as score 0 with an all-zero map; the others as submitted.
    failed = {"s001", "s002", "s003", "s004", "s005", "s006"}
    maps = {k: (np.zeros_like(v) if k in failed else v) for k, v in oracle_maps(8).items()}
    scores = {k: (0.0 if k in failed else 0.5) for k in maps}
    assert results["metrics"] == _expected(maps, scores)


@pytest.mark.slow
def test_sandboxed_detector_reports_crash_timeout_errors_and_memory_per_sample(tmp_path):
    """One run hits every failure: the child is killed/restarted and the other samples still score."""
    import datasets

    from inpaintbench.schema import FEATURES

    rows = make_rows(9)
    codes = {"s001": 1, "s002": 2, "s003": 3, "s004": 4, "s005": 5, "s006": 6, "s007": 7}
    for i, sample_id in enumerate(rows["sample_id"]):
        arr = np.asarray(rows["image"][i]).copy()
        arr[0, 0, 0] = codes.get(sample_id, 200)
        rows["image"][i] = Image.fromarray(arr)
    path = str(tmp_path / "codes.parquet")
    datasets.Dataset.from_dict(rows, features=FEATURES).to_parquet(path)
    detector_file = tmp_path / "misbehaving.py"
    detector_file.write_text(MISBEHAVING_DETECTOR)
    data = open_eval_data(path)
    opts = EvalOptions(data=path, detector=f"{detector_file}:Misbehaving", params={"sleep": 30}, timeout_s=3,
                       memory_mb=3072, bootstrap=0, progress=False, policy="penalize")
    results = run_evaluation(opts, data, use_evaluate=False)
    failures = {f["sample_id"]: (f["kind"], f["detail"]) for f in results["failures"]["samples"]}
    assert {k: v[0] for k, v in failures.items()} == {
        "s001": "crash", "s002": "timeout", "s003": "error", "s004": "nan", "s005": "out_of_range",
        "s006": "wrong_shape", "s007": "error",
    }
    assert "exit code 3" in failures["s001"][1]
    assert "boom" in failures["s003"][1]
    assert "MemoryError" in failures["s007"][1]
    assert results["metrics"]["n_images"] == 9
    assert results["detector"]["training_backends"] == ["telea"]  # read from the class, in the child
    assert results["domain"]["training_backends"] == ["telea"]
    with pytest.raises(SubmissionError, match="s001"):
        opts.policy = "strict"
        run_evaluation(opts, data, use_evaluate=False)


def test_detector_that_cannot_load_is_a_clear_error(tmp_path, shard):
    from inpaintbench.harness.sandbox import DetectorStartError

    data = open_eval_data(shard)
    with pytest.raises(DetectorStartError, match="has no attribute 'Nope'"):
        run_evaluation(EvalOptions(data=shard, detector="inpaintbench.harness.detectors:Nope", bootstrap=0,
                                   progress=False), data, use_evaluate=False)
