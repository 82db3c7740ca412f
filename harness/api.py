"""One evaluation from Python: ``evaluate(data, detector=...)`` opens the data, runs the detector (sandboxed) or
reads a folder submission, scores every sample and returns the results dict that ``inpaintbench evaluate``
writes. The CLI's one-process path calls the same code, so the two give the same numbers.

    from inpaintbench.harness import evaluate, EvaluationError

    results = evaluate("runs/embedded", detector="ela", results_dir="harness/results")
    print(results["metrics"]["pixel_f1_mean"])

Bad input (data that cannot be read, a detector that does not start, both or neither of ``detector`` and
``submission``, an unknown perturbation, ...) raises ``EvaluationError`` with the message the CLI prints after
``error:``, and nothing is written. A submission refused under ``policy="strict"`` raises ``SubmissionRefused``
(an ``EvaluationError`` and a ``problems.SubmissionError``), carrying every problem and, when a results path was
given, the path of the ``.problems.json`` report written next to it.

This module's top level imports nothing heavy: ``EvaluationError`` can be caught without loading ``datasets``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from inpaintbench.harness.conventions import DEFAULT_ENTRY_BUDGET
from inpaintbench.harness.problems import SubmissionError

if TYPE_CHECKING:
    from inpaintbench.harness.data import EvalData
    from inpaintbench.harness.run import Collected, EvalOptions

__all__ = ["EvaluationError", "SubmissionRefused", "evaluate"]


class EvaluationError(ValueError):
    """The evaluation cannot run on this input; the message names the input and the problem."""


class SubmissionRefused(EvaluationError, SubmissionError):
    """Scoring refused (policy strict): ``problems`` lists every sample's problem; ``problems_path`` is the report
    written next to the results path (None when no results path was given)."""

    def __init__(self, problems: list, where: str = "", problems_path: Path | None = None) -> None:
        SubmissionError.__init__(self, problems, where)
        self.problems_path = problems_path


@dataclass
class Outcome:
    """What one evaluation produced: the results dict and the files written (None when not written)."""

    results: dict
    output: Path | None = None
    problems_path: Path | None = None


def evaluate(data: str | Path, *, detector: str | None = None, submission: str | Path | None = None,
             config: str | None = None, split: str | None = None, params: dict | None = None,
             name: str | None = None, train_backends: list[str] | str | None = None, perturb: str | None = None,
             policy: str = "strict", timeout_s: float = 60.0, memory_mb: int = 8192, bootstrap: int = 1000,
             seed: int = 0, entry_budget: int | None = DEFAULT_ENTRY_BUDGET, progress: bool = False,
             results_dir: str | Path | None = None, output: str | Path | None = None) -> dict:
    """Score one detector (or one folder of predictions) on one dataset; return the results dict.

    data: a generator output dir, a release folder (with ``config`` and ``split``, default test) or Parquet
    file(s). detector: a registered name (``ela``), ``package.module:Class`` or ``file.py:Class``, run in the
    sandbox with ``params`` as keyword arguments, ``timeout_s`` per sample and ``memory_mb`` of address space
    (0: no limit). submission: instead of a detector, a folder with ``maps/<id>.png|npy`` and/or
    ``scores.csv|json``. perturb: one perturbation spec (``jpeg:75``, ``resize:0.5+jpeg:75``; default the clean
    image), detector runs only; for several specs call ``evaluate`` once per spec. policy: ``strict`` refuses
    to score when any sample has a problem (``SubmissionRefused``), ``penalize`` scores such samples as misses.

    Files: with ``output`` the results go to that path; else with ``results_dir`` to
    ``<results_dir>/<name>__<version>[...].json`` (the CLI's default name); with neither nothing is written.
    Problems (failures scored as misses, or a strict refusal) go to ``<results stem>.problems.json`` beside it.

    Single process only: the detector runs in one sandboxed process. Spreading it over processes
    (``inpaintbench evaluate --num-processes N``) stays in the CLI, which relaunches itself under accelerate.
    Defaults are the CLI's, except ``progress`` (no progress bars unless asked).
    """
    started = time.perf_counter()
    opts = make_options(data, detector=detector, submission=submission, config=config, split=split,
                        params=params, name=name, train_backends=train_backends, perturb=perturb, policy=policy,
                        timeout_s=timeout_s, memory_mb=memory_mb, bootstrap=bootstrap, seed=seed,
                        entry_budget=entry_budget, progress=progress)
    return run_options(opts, results_dir=results_dir, output=output, started=started).results


def make_options(data: str | Path, *, perturb: str | None = None, params: dict | None = None,
                 submission: str | Path | None = None, **fields) -> EvalOptions:
    """``EvalOptions`` from ``evaluate``'s arguments; a bad combination or value raises ``EvaluationError``."""
    from inpaintbench.harness.perturbations import IDENTITY, LIST_SEPARATOR
    from inpaintbench.harness.run import EvalOptions

    if perturb is not None and not isinstance(perturb, str):
        raise EvaluationError(f"perturb takes one spec string, got {type(perturb).__name__} {perturb!r}; "
                              "call evaluate once per spec")
    if perturb is not None and LIST_SEPARATOR in perturb:
        raise EvaluationError(f"perturb takes one spec, got the list {perturb!r}; call evaluate once per spec "
                              "(each is its own evaluation and results file)")
    if isinstance(fields.get("train_backends"), str):  # "telea,patchmatch", as --train-backends takes it
        fields["train_backends"] = [b for b in fields["train_backends"].split(",") if b]
    if params is not None and not isinstance(params, dict):
        raise EvaluationError(f"params must be a dict of keyword arguments, got {type(params).__name__}")
    try:
        return EvalOptions(data=str(data), params=dict(params or {}),
                           submission=None if submission is None else str(submission),
                           perturbation=IDENTITY if perturb is None else perturb, **fields)
    except ValueError as exc:  # includes PerturbationSpecError
        raise EvaluationError(str(exc)) from None


def results_path(opts: EvalOptions, data: EvalData, collected: Collected, results_dir: str | Path | None,
                 output: str | Path | None) -> Path | None:
    """Where the results go: ``output``, else ``results_dir`` / the default name, else nowhere (None)."""
    from inpaintbench.harness.results import default_results_name

    if output:
        return Path(output)
    if results_dir is None:
        return None
    name = opts.name or collected.detector.get("name") or "detector"
    return Path(results_dir) / default_results_name(name, {**data.identity, "perturbation": opts.perturbation})


def run_options(opts: EvalOptions, *, results_dir: str | Path | None = None, output: str | Path | None = None,
                started: float | None = None) -> Outcome:
    """Open, collect (one process), score and write; errors as ``evaluate``."""
    from inpaintbench.harness.data import DataError, open_eval_data
    from inpaintbench.harness.folder import FolderSubmissionError
    from inpaintbench.harness.records import GroundTruthError
    from inpaintbench.harness.run import collect_records
    from inpaintbench.harness.sandbox import DetectorStartError

    started = time.perf_counter() if started is None else started
    try:
        data = open_eval_data(opts.data, opts.config, opts.split)
        collected = collect_records(opts, data)
    except (DataError, FolderSubmissionError, DetectorStartError, GroundTruthError) as exc:
        raise EvaluationError(str(exc)) from exc
    return score_and_write(opts, data, collected, started=started, results_dir=results_dir, output=output)


def score_and_write(opts: EvalOptions, data: EvalData, collected: Collected, *, started: float,
                    results_dir: str | Path | None = None, output: str | Path | None = None) -> Outcome:
    """Score collected records (all of them, from every process) and write the results file and problems
    report where asked; the one step the CLI's distributed path shares with ``evaluate``."""
    from inpaintbench.atomic_io import atomic_write_json
    from inpaintbench.harness.run import score_records

    path = results_path(opts, data, collected, results_dir, output)
    problems_path = None if path is None else path.with_name(path.stem + ".problems.json")
    who = opts.submission or opts.detector
    try:
        results = score_records(opts, data, collected, elapsed_s=time.perf_counter() - started)
    except SubmissionError as exc:
        if problems_path is not None:
            atomic_write_json(problems_path, {"submission": who, "dataset": data.identity,
                                              "problems": [p.as_dict() for p in exc.problems]})
        raise SubmissionRefused(exc.problems, who or "", problems_path) from None
    if path is None:
        return Outcome(results)
    atomic_write_json(path, results)
    if not results["failures"]["count"]:
        return Outcome(results, path)
    atomic_write_json(problems_path, {"submission": who, "dataset": data.identity,
                                      "problems": results["failures"]["samples"]})
    return Outcome(results, path, problems_path)
