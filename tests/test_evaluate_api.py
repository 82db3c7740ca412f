"""``inpaintbench.harness.evaluate`` (harness/api.py), the one evaluation entry point: the same results as
``inpaintbench evaluate`` for the same arguments, the CLI's file names and problems reports, and bad input as one
exception type (``EvaluationError``) with the CLI's message, writing nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from PIL import Image

from inpaintbench.cli import main
from inpaintbench.harness import EvaluationError, SubmissionRefused, evaluate
from inpaintbench.harness.problems import SubmissionError
from inpaintbench.harness.results import default_results_name, read_results
from tests.helpers.harness_rows import oracle_maps, write_shard
from tests.helpers.manifests import write_manifest_for

VOLATILE = ("created", "timing")  # the only fields two runs of the same evaluation may differ in


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A generator output dir (manifest + one shard of 8 rows): the layout whose results get a versioned name."""
    root = tmp_path_factory.mktemp("api") / "build"
    (root / "data").mkdir(parents=True)
    write_shard(root / "data" / "train-00000-of-00001.parquet", n=8)
    write_manifest_for(root)
    return root


def _stable(results: dict) -> dict:
    return {k: v for k, v in results.items() if k not in VOLATILE}


def _folder(root, maps):
    (root / "maps").mkdir(parents=True)
    for sample_id, arr in maps.items():
        Image.fromarray(arr, "L").save(root / "maps" / f"{sample_id}.png")
    return root


def _cli_error(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("perturb", [None, "JPEG:75"])
def test_api_results_equal_the_cli_results_file_under_the_cli_default_name(tmp_path, build, perturb):
    extra = [] if perturb is None else ["--perturb", perturb]
    assert main(["evaluate", "--data", str(build), "--detector", "ela", "--bootstrap", "30", "--seed", "4",
                 "--train-backends", "telea", "--results-dir", str(tmp_path / "cli"), "--no-progress", *extra]) == 0
    results = evaluate(build, detector="ela", bootstrap=30, seed=4, train_backends=["telea"], perturb=perturb,
                       results_dir=tmp_path / "api")
    (cli_file,) = (tmp_path / "cli").iterdir()
    (api_file,) = (tmp_path / "api").iterdir()
    assert api_file.name == cli_file.name  # same default name, perturbation slug included
    spec = "none" if perturb is None else "jpeg:75"  # canonicalised once, in EvalOptions
    assert api_file.name == default_results_name("ela", {**results["dataset"], "perturbation": spec})
    assert api_file.name.startswith("ela__run-") and (perturb is None) != api_file.name.endswith("__jpeg-75.json")
    cli, written = read_results(cli_file), read_results(api_file)
    assert _stable(written) == _stable(results)  # the file is the returned dict
    assert _stable(results) == _stable(cli)
    for key in ("metrics", "intervals", "breakdowns", "domain", "config", "detector", "dataset", "perturbation"):
        assert results[key] == cli[key], key
    assert results["dataset"]["perturbation"] == spec and results["config"]["perturbation"] == spec
    assert results["intervals"]["overall"] and results["detector"]["isolation"]
    # The comparison has teeth: the volatile fields are the only ones left out, and they do differ in kind
    # (timing is measured per run), so equal stable parts are not equal by construction.
    assert set(results) - set(_stable(results)) == set(VOLATILE)


def test_api_writes_nothing_without_a_destination_and_honours_output(tmp_path, build, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray default "results/" folder would appear here
    results = evaluate(build, detector="ela", bootstrap=0)
    assert list(tmp_path.iterdir()) == []
    assert results["metrics"]["n_images"] == 8 and results["intervals"] == {}
    out = tmp_path / "named" / "mine.json"
    again = evaluate(build, detector="ela", bootstrap=0, output=out, results_dir=tmp_path / "ignored")
    assert [p.name for p in out.parent.iterdir()] == ["mine.json"] and not (tmp_path / "ignored").exists()
    assert _stable(read_results(out)) == _stable(again) == _stable(results)


def test_folder_submission_scores_like_the_cli(tmp_path, build):
    folder = _folder(tmp_path / "oracle", oracle_maps(8))
    results = evaluate(build, submission=folder, bootstrap=0, results_dir=tmp_path / "api")
    assert results["detector"]["name"] == "oracle" and results["detector"]["isolation"]["method"] == "folder"
    assert results["metrics"]["pixel_f1_mean"] > 0.9 and results["failures"]["count"] == 0
    assert main(["evaluate", "--data", str(build), "--submission", str(folder), "--bootstrap", "0",
                 "--results-dir", str(tmp_path / "cli"), "--no-progress"]) == 0
    (cli_file,) = (tmp_path / "cli").iterdir()
    assert [p.name for p in (tmp_path / "api").iterdir()] == [cli_file.name]
    assert cli_file.name.startswith("oracle__run-")
    assert _stable(results) == _stable(read_results(cli_file))


def test_strict_refusal_raises_submission_refused_and_writes_the_cli_report(tmp_path, build, capsys):
    maps = oracle_maps(8)
    del maps["s003"]
    folder = _folder(tmp_path / "bad", maps)
    out = tmp_path / "api" / "bad.json"
    with pytest.raises(SubmissionRefused, match="s003: no map for this sample") as info:
        evaluate(build, submission=folder, bootstrap=0, output=out)
    exc = info.value
    # One except clause catches every refusal to score; code that caught SubmissionError still does.
    assert isinstance(exc, EvaluationError) and isinstance(exc, SubmissionError)
    assert [p.sample_id for p in exc.problems] == ["s003"]
    assert not out.exists() and exc.problems_path == tmp_path / "api" / "bad.problems.json"
    report = json.loads(exc.problems_path.read_text())
    # The CLI's answer to the same folder: exit 2, the same report beside its own results path.
    code, err = _cli_error(["evaluate", "--data", str(build), "--submission", str(folder), "--bootstrap", "0",
                            "--output", str(tmp_path / "cli" / "bad.json"), "--no-progress"], capsys)
    assert code == 2 and str(exc) in err
    assert json.loads((tmp_path / "cli" / "bad.problems.json").read_text()) == report
    # No destination: refused the same way, nothing written.
    with pytest.raises(SubmissionRefused) as bare:
        evaluate(build, submission=folder, bootstrap=0)
    assert bare.value.problems_path is None and str(bare.value) == str(exc)
    # policy penalize scores it as a miss instead, and lists it beside the results (as the CLI does).
    results = evaluate(build, submission=folder, bootstrap=0, policy="penalize", output=tmp_path / "pen" / "p.json")
    assert results["failures"]["count"] == 1
    assert json.loads((tmp_path / "pen" / "p.problems.json").read_text())["problems"] == report["problems"]


BAD_INPUTS = {
    # name: (evaluate kwargs, CLI arguments after the data path, expected message fragment)
    "missing data folder": ({"detector": "ela"}, ["--detector", "ela"], "no Parquet files"),
    "detector and submission": ({"detector": "ela", "submission": "preds"}, None, "exactly one of"),
    "neither detector nor submission": ({}, None, "exactly one of"),
    "unknown perturbation": (
        {"detector": "ela", "perturb": "jpg:75"},
        ["--detector", "ela", "--perturb", "jpg:75"],
        "unknown kind 'jpg'",
    ),
    "perturbation out of range": (
        {"detector": "ela", "perturb": "jpeg:0"},
        ["--detector", "ela", "--perturb", "jpeg:0"],
        "jpeg:0",
    ),
    "perturbed submission": (
        {"submission": "preds", "perturb": "jpeg:75"},
        ["--submission", "preds", "--perturb", "jpeg:75"],
        "--perturb applies to --detector runs only",
    ),
    "detector that does not load": (
        {"detector": "inpaintbench.harness.detectors:Nope"},
        ["--detector", "inpaintbench.harness.detectors:Nope"],
        "has no attribute 'Nope'",
    ),
    "unknown policy": ({"detector": "ela", "policy": "lenient"}, None, "policy must be one of"),
    "a list of perturbations": (
        {"detector": "ela", "perturb": "jpeg:75,resize:0.5"},
        None,
        "call evaluate once per spec",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_evaluation_error_with_the_cli_message_and_writes_nothing(tmp_path, build, capsys, case):
    kwargs, cli_args, fragment = BAD_INPUTS[case]
    data = tmp_path / "nothing" if case == "missing data folder" else build
    (tmp_path / "preds" / "maps").mkdir(parents=True)  # a valid folder: only the combination is wrong
    kwargs = {k: (str(tmp_path / v) if k == "submission" else v) for k, v in kwargs.items()}
    results_dir = tmp_path / "results"
    with pytest.raises(EvaluationError, match=re.escape(fragment)) as info:
        evaluate(data, bootstrap=0, results_dir=results_dir, **kwargs)
    assert not isinstance(info.value, SubmissionRefused)
    assert not results_dir.exists()  # nothing written, not even the folder
    if cli_args is not None:  # the CLI refuses the same input: exit 1, the same message after "error: "
        cli_args = [str(tmp_path / "preds") if a == "preds" else a for a in cli_args]
        code, err = _cli_error(["evaluate", "--data", str(data), *cli_args, "--bootstrap", "0",
                                "--results-dir", str(results_dir), "--no-progress"], capsys)
        assert code == 2 and f"error: {info.value}" in err
        assert not results_dir.exists()


def test_importing_the_harness_stays_light_and_exports_evaluate():
    """``evaluate`` is exported lazily: the package import must not load ``datasets`` (seconds), while the module
    that does the work does load it (so the check below can fail)."""
    probe = ("import sys, inpaintbench.harness as h; light = 'datasets' not in sys.modules; "
             "from inpaintbench.harness import evaluate, EvaluationError; import inpaintbench.harness.run; "
             "print(light, evaluate.__module__, issubclass(EvaluationError, ValueError), 'datasets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "inpaintbench.harness.api", "True", "True"]
    from inpaintbench import harness

    with pytest.raises(AttributeError, match="no attribute 'evaluat'"):
        harness.evaluat  # noqa: B018 - a typo still fails as an attribute error
