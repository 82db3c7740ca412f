"""End to end through the real CLI, the real ``evaluate`` module, real Parquet: results JSON, problems
report and exit codes, leaderboard files, ``load_leaderboard`` shapes, data identity of each layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inpaintbench.cli import main
from inpaintbench.harness.conventions import CONVENTIONS
from inpaintbench.harness.data import DataError, open_eval_data
from inpaintbench.harness.leaderboard import LeaderboardError, load_leaderboard
from inpaintbench.harness.results import read_results
from tests.helpers.harness_rows import oracle_maps, write_shard
from tests.helpers.manifests import write_manifest_for


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    return write_shard(tmp_path_factory.mktemp("data") / "part.parquet", n=8)


def _folder(root, maps, scores=None):
    (root / "maps").mkdir(parents=True)
    for sample_id, arr in maps.items():
        Image.fromarray(arr, "L").save(root / "maps" / f"{sample_id}.png")
    if scores is not None:
        (root / "scores.json").write_text(json.dumps(scores))
    return root


def test_evaluate_module_loads_by_path_and_matches_the_scorer():
    import evaluate

    from inpaintbench.harness.metrics import METRIC_PATH
    from inpaintbench.harness.reduce import summarize_prediction
    from inpaintbench.harness.scoring import compute_metrics

    rng = np.random.default_rng(0)
    sums = []
    for i in range(6):
        gt = np.zeros((20, 30), np.uint8)
        if i % 2:
            gt[3:12, 5:20] = 255
        sums.append(summarize_prediction(rng.integers(0, 256, (20, 30)).astype(np.uint8), gt))
    metric = evaluate.load(METRIC_PATH)
    for s in sums:  # streamed one by one, as a training loop would
        metric.add(**s.as_example())
    got = metric.compute(return_conventions=True)
    assert got.pop("conventions") == CONVENTIONS
    assert got == compute_metrics(sums)


def test_cli_evaluate_writes_results_with_conventions_and_intervals(tmp_path, shard, capsys):
    folder = _folder(tmp_path / "oracle", oracle_maps(8))
    out = tmp_path / "results" / "oracle.json"
    code = main(["evaluate", "--data", shard, "--submission", str(folder), "--bootstrap", "50", "--seed", "3",
                 "--train-backends", "telea", "--output", str(out), "--no-progress"])
    assert code == 0
    results = read_results(out)
    assert results["conventions"] == CONVENTIONS
    assert results["dataset"]["files_sha256"] and results["dataset"]["num_samples"] == 8
    assert results["detector"]["name"] == "oracle"
    assert set(results["breakdowns"]) == {"backend", "source", "category", "strategy", "mask_size"}
    assert set(results["breakdowns"]["backend"]) == {"telea", "patchmatch"}
    # a backend group: its forged images plus every pristine one
    assert results["breakdowns"]["backend"]["telea"]["n_inpainted"] == 2
    assert results["breakdowns"]["backend"]["telea"]["n_pristine"] == 4
    assert results["domain"]["in_domain"]["n_inpainted"] == 2 and results["domain"]["out_of_domain"]["n_inpainted"] == 2
    ci = results["intervals"]["overall"]["pixel_f1_mean"]
    assert ci["low"] <= results["metrics"]["pixel_f1_mean"] <= ci["high"]
    assert set(results["intervals"]) == {"overall", "in_domain", "out_of_domain"}
    assert "pixel_f1_mean" in capsys.readouterr().out
    # Same seed, same intervals: rerun and compare everything but the timestamp and timings.
    out2 = tmp_path / "results" / "again.json"
    main(["evaluate", "--data", shard, "--submission", str(folder), "--bootstrap", "50", "--seed", "3",
          "--train-backends", "telea", "--output", str(out2), "--no-progress"])
    again = read_results(out2)
    for key in ("metrics", "intervals", "breakdowns", "domain"):
        assert again[key] == results[key]


def test_cli_refuses_a_bad_submission_with_exit_2_and_a_report(tmp_path, shard, capsys):
    maps = oracle_maps(8)
    del maps["s003"]
    folder = _folder(tmp_path / "bad", maps)
    out = tmp_path / "r" / "bad.json"
    code = main(["evaluate", "--data", shard, "--submission", str(folder), "--output", str(out), "--no-progress"])
    assert code == 2
    assert not out.exists()  # nothing half-scored
    report = json.loads((tmp_path / "r" / "bad.problems.json").read_text())
    assert report["problems"] == [{"sample_id": "s003", "kind": "missing", "detail": "no map for this sample"}]
    assert "s003" in capsys.readouterr().err


def test_cli_reports_unusable_data_with_exit_1(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path / "nothing"), "--detector", "ela", "--no-progress"]) == 2
    assert "no Parquet files" in capsys.readouterr().err


def _fake_results(tmp_path, name, f1, backends=("telea",)):
    from inpaintbench.atomic_io import atomic_write_json
    from inpaintbench.harness.scoring import HEADLINE_METRICS

    metrics = {m: f1 for m in HEADLINE_METRICS}
    metrics["n_images"] = 10
    payload = {"format": "inpaintbench-results", "detector": {"name": name, "isolation": {"isolated": True}},
               "dataset": {"version": "v1"},
               "metrics": metrics, "conventions": CONVENTIONS,
               "breakdowns": {"backend": {b: dict(metrics) for b in backends}}}
    return atomic_write_json(tmp_path / f"{name}.json", payload)


def test_leaderboard_merges_results_sorted_and_loads_for_the_space(tmp_path, capsys):
    results = tmp_path / "results"
    _fake_results(results, "weak", 0.2)
    _fake_results(results, "strong", 0.7, backends=("telea", "patchmatch"))
    out = tmp_path / "board"
    assert main(["leaderboard", str(results), "--out", str(out)]) == 0
    wide = pd.read_csv(out / "leaderboard.csv")
    assert wide["detector"].tolist() == ["strong", "weak"]
    assert "| strong | v1 |" in (out / "leaderboard.md").read_text()
    long = load_leaderboard(out / "leaderboard.json")
    assert {"detector", "backend", "pixel_f1_mean"} <= set(long.columns)
    assert sorted(long[long.detector == "strong"].backend) == ["all", "patchmatch", "telea"]
    assert load_leaderboard(results).equals(long)  # straight from the results folder
    assert load_leaderboard(results, shape="wide")["detector"].tolist() == ["strong", "weak"]


def test_leaderboard_keeps_old_conventions_unranked_and_refuses_non_results(tmp_path):
    results = tmp_path / "results"
    path = _fake_results(results, "a", 0.2)
    payload = json.loads(path.read_text())
    payload["detector"]["name"] = "b"
    payload["conventions"] = {**CONVENTIONS, "version": "0"}
    payload["metrics"] = {**payload["metrics"], "pixel_f1_mean": 0.99}  # better, but under old conventions
    (results / "b.json").write_text(json.dumps(payload))
    board = load_leaderboard(results, shape="wide")
    assert board["detector"].tolist() == ["a", "b"]  # the old-conventions result never ranks above a current one
    assert board["ranked"].tolist() == [True, False]
    assert "conventions v0" in board["unranked_reason"][1]
    (results / "b.json").write_text('{"something": "else"}')
    with pytest.raises(LeaderboardError, match="b.json: not an InpaintBench results file"):
        load_leaderboard(results)


def test_data_identity_of_generator_output_and_release_layouts(tmp_path):
    # The generator's own layout: the manifest lists its shards (data/...) with their sha256s.
    gen = tmp_path / "gen"
    (gen / "data").mkdir(parents=True)
    write_shard(gen / "data" / "train-00000-of-00001.parquet", n=4)
    manifest = write_manifest_for(gen)
    data = open_eval_data(gen)
    assert data.identity["kind"] == "generator_output"
    assert data.identity["version"] == f"run-{manifest['config_hash'][:12]}"
    from inpaintbench.digests import sha256_file

    assert data.identity["manifest_sha256"] == sha256_file(gen / "manifest.json") and len(data.dataset) == 4
    manifest["shards"][0]["sha256"] = "0" * 64  # same size: only the sha256 the harness checks can tell
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="train-00000-of-00001.parquet: sha256 differs"):
        open_eval_data(gen)
    # A manifest that lists no shards is refused, not guessed around (no fallback to globbing folders).
    (gen / "manifest.json").write_text(json.dumps({"config_hash": "abcdef0123456789", "seed": 0}))
    with pytest.raises(DataError, match=r"gen/manifest.json: missing keys \['format'"):
        open_eval_data(gen)

    rel = tmp_path / "rel"
    (rel / "data" / "default").mkdir(parents=True)
    write_shard(rel / "data" / "default" / "ood_backend-00000-of-00001.parquet", n=4)
    (rel / "release.json").write_text(json.dumps({
        "version": "1.0.0", "generator": {"manifest_sha256": "f" * 64}, "configs": {"default": {}},
        "split_config": {"out_of_domain": [{"split": "ood_backend", "backends": ["patchmatch"], "sources": []}]},
    }))
    data = open_eval_data(rel, split="ood_backend")
    assert data.identity["version"] == "1.0.0" and data.identity["manifest_sha256"] == "f" * 64
    assert data.identity["out_of_domain_split"] is True and data.ood_backends == ("patchmatch",)
    with pytest.raises(DataError, match="no data/default/test-"):
        open_eval_data(rel)


def test_leaderboard_never_ranks_unisolated_or_self_reported_results_beside_sandboxed_ones(tmp_path):
    """The attack: a detector that read the answers (no sandbox) or a folder of maps copied from the ground truth
    scores F1 1.0. The ranking must not put it first: it is listed apart, with the reason."""
    import json

    from inpaintbench.harness.leaderboard import write_leaderboard

    results = tmp_path / "results"
    _fake_results(results, "honest", 0.4)
    cheat = json.loads(_fake_results(results, "cheat", 1.0).read_text())
    cheat["detector"]["isolation"] = {"isolated": False, "method": "none", "reason": "bwrap not found"}
    (results / "cheat.json").write_text(json.dumps(cheat))
    copied = dict(cheat, detector={"name": "copied", "spec": "folder:/tmp/maps",
                                   "isolation": {"isolated": False, "method": "folder"}})
    (results / "copied.json").write_text(json.dumps(copied))
    board = load_leaderboard(results, shape="wide")
    assert board["detector"].tolist()[0] == "honest" and board["ranked"].tolist() == [True, False, False]
    reasons = dict(zip(board["detector"], board["unranked_reason"], strict=False))
    assert "without OS isolation" in reasons["cheat"] and "self-reported" in reasons["copied"]
    out = tmp_path / "board"
    write_leaderboard(results, out)
    ranking, _, apart = (out / "leaderboard.md").read_text().partition("## Not ranked")
    assert "| honest |" in ranking and "| cheat |" not in ranking and "| copied |" not in ranking
    assert "| cheat |" in apart and "| copied |" in apart
