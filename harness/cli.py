"""``inpaintbench evaluate`` and ``inpaintbench leaderboard``.

    inpaintbench evaluate --data runs/embedded --detector ela           # a registered detector
    inpaintbench evaluate --data release/ --dataset-config default --split test --detector my_pkg.det:MyDetector
    inpaintbench evaluate --data runs/embedded --detector path/to/det.py:Det --timeout 30 --memory-mb 4096
    inpaintbench evaluate --data runs/embedded --submission preds/      # maps/<id>.png|npy + scores.csv|json
    inpaintbench evaluate --data runs/embedded --detector ela --num-processes 2  # accelerate launch, 2 processes
    inpaintbench evaluate --data runs/embedded --detector ela --perturb jpeg:75,resize:0.5+jpeg:75  # robustness
    inpaintbench leaderboard harness/results --out leaderboard/

--perturb SPEC (repeatable, or comma-separated): one evaluation per spec, each its own results file; the
detector sees the perturbed image, the ground truth stays at native size. Specs: none, jpeg:Q, webp:Q (1-100),
resize:F (0-4], blur:SIGMA (px), noise:STD (0-255 units, seeded per sample id), chains a+b applied in order.

Exit codes (inpaintbench.cli_grammar): 0 scored; 2 bad input: unusable data or options, a detector that does not
load, or a submission refused (problems listed, report written next to the results path).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from inpaintbench.cli_grammar import EXIT_BAD_INPUT, add_data_argument, add_renamed

DEFAULT_RESULTS_DIR = "results"


def register(subparsers) -> None:
    evaluate = subparsers.add_parser("evaluate", help="score a detector or a folder of predictions on a split",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=run_evaluate)
    board = subparsers.add_parser("leaderboard", help="merge results JSONs into leaderboard CSV / Markdown / JSON")
    board.add_argument("results", nargs="+", help="results JSON files or directories of them")
    board.add_argument("--out", default="leaderboard", metavar="DIR", help="output directory (default: leaderboard)")
    board.add_argument("--sort", default="pixel_f1_mean", metavar="METRIC", help="sort column (default pixel_f1_mean)")
    board.add_argument(
        "--robustness-plot",
        metavar="PNG",
        help="also draw each detector's metrics clean vs under each perturbation (e.g. docs/img/robustness.png)",
    )
    board.set_defaults(func=run_leaderboard)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser, "generator output dir, release folder, or Parquet file/dir/glob")
    parser.add_argument("--dataset-config", dest="config", metavar="NAME",
                        help="the release's dataset config (release folders only; default: default)")
    add_renamed(parser, {"--config": "--dataset-config NAME (--config names a file in every command)"})
    parser.add_argument("--split", help="release split (default test)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--detector", metavar="SPEC", help="registered name, package.module:Class or file.py:Class")
    who.add_argument("--submission", metavar="DIR", help="folder with maps/<id>.png|npy and/or scores.csv|json")
    parser.add_argument("--detector-params", default="{}", metavar="JSON", help="keyword arguments for the class")
    parser.add_argument("--name", help="name on the leaderboard (default: the detector's or folder's name)")
    parser.add_argument("--train-backends", metavar="A,B", help="backends the detector was trained on (in-domain)")
    parser.add_argument("--policy", choices=("strict", "penalize"), default="strict",
                        help="strict: refuse to score if any sample has a problem; penalize: score it as a miss")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="per-sample time limit (default 60)")
    parser.add_argument("--memory-mb", type=int, default=8192, metavar="MB",
                        help="detector process address-space limit, 0 = none (default 8192)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples, 0 = none")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--entry-budget", type=int, default=None, metavar="N",
                        help="histogram rows (one per distinct map value per image, 24 bytes) held in memory; past "
                             "it they spill to a scratch file, exactly (default 2097152, about 48 MiB)")
    parser.add_argument("--num-processes", type=int, default=1, metavar="N",
                        help="run the detector in N processes via accelerate launch")
    parser.add_argument("--perturb", action="append", metavar="SPEC",
                        help="post-process images before the detector sees them (jpeg:75, resize:0.5, blur:1, "
                             "noise:5, webp:80, chains resize:0.5+jpeg:75, none); repeatable or comma-separated: "
                             "one evaluation and results file per spec (default: none)")
    parser.add_argument("--output", metavar="FILE", help="results JSON path (default: results/<name>__<version>.json)")
    parser.add_argument("--results-dir", default=DEFAULT_RESULTS_DIR, metavar="DIR")
    parser.add_argument("--no-progress", action="store_true")
    # Set by --num-processes on the relaunched processes: the main one writes its exit code there, so a refused
    # submission still reads as exit 2 (a non-zero rank exit would make the launcher report a crash instead).
    parser.add_argument("--status-file", help=argparse.SUPPRESS)


def options_from_args(args):
    """``EvalOptions`` for one evaluation (one --perturb spec); ValueError with the message to print."""
    from inpaintbench.harness.api import make_options

    try:
        params = json.loads(args.detector_params)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--detector-params is not valid JSON ({exc})") from None
    if not isinstance(params, dict):
        raise ValueError("--detector-params must be a JSON object")
    train = None if args.train_backends is None else [b for b in args.train_backends.split(",") if b]
    budget = {} if getattr(args, "entry_budget", None) is None else {"entry_budget": args.entry_budget}
    return make_options(args.data, **budget, config=args.config, split=args.split, detector=args.detector,
                        params=params, submission=args.submission, name=args.name, train_backends=train,
                        policy=args.policy, timeout_s=args.timeout, memory_mb=args.memory_mb,
                        bootstrap=args.bootstrap, seed=args.seed, progress=not args.no_progress,
                        perturb=_single_perturbation(args))


def _single_perturbation(args) -> str:
    from inpaintbench.harness.perturbations import IDENTITY

    specs = getattr(args, "perturb", None) or [IDENTITY]
    if len(specs) != 1:  # run_evaluate splits lists into one evaluation per spec before this point
        raise ValueError(f"one evaluation takes one perturbation, got {specs}")
    return specs[0]


def perturbation_specs(args) -> list[str]:
    """The canonical specs of --perturb, checked against the rest of the command before anything runs."""
    from inpaintbench.harness.perturbations import IDENTITY, parse_perturbation_list
    from inpaintbench.harness.run import SUBMISSION_PERTURB_REFUSAL

    specs = parse_perturbation_list(args.perturb)
    if args.submission is not None and any(spec != IDENTITY for spec in specs):
        raise ValueError(SUBMISSION_PERTURB_REFUSAL)
    if len(specs) > 1 and args.output:
        raise ValueError(f"--output names one results file but --perturb asks for {len(specs)} evaluations "
                         f"({', '.join(specs)}); leave --output out and use --results-dir: each results file gets "
                         "its default name, which includes the perturbation")
    return specs


def relaunch_argv(args) -> list[str]:
    """The same evaluation as CLI arguments (without --num-processes), rebuilt from the parsed namespace so it
    does not depend on how this process was called (console script, ``main(argv)``, ``python -m``)."""
    argv = ["evaluate", "--data", args.data]
    flags = {"config": "--dataset-config", "split": "--split", "detector": "--detector", "submission": "--submission",
             "detector_params": "--detector-params", "name": "--name", "train_backends": "--train-backends",
             "policy": "--policy", "timeout": "--timeout", "memory_mb": "--memory-mb", "bootstrap": "--bootstrap",
             "seed": "--seed", "output": "--output", "results_dir": "--results-dir", "entry_budget": "--entry-budget"}
    for dest, flag in flags.items():
        value = getattr(args, dest)
        if value is not None:
            argv += [flag, str(value)]
    for spec in args.perturb or []:
        argv += ["--perturb", spec]
    if args.no_progress:
        argv.append("--no-progress")
    return argv


def run_evaluate(args) -> int:
    try:
        specs = perturbation_specs(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    codes = []
    for spec in specs:
        # Each spec is a whole evaluation (own sandbox, own results file): one that fails does not stop the
        # others, and what an earlier one wrote stays.
        codes.append(_evaluate_one(argparse.Namespace(**{**vars(args), "perturb": [spec]})))
    return next((code for code in codes if code), 0)


def _evaluate_one(args) -> int:
    from inpaintbench.harness import distributed

    if args.num_processes > 1 and distributed.world_size() == 1:
        if args.detector is None:
            print("--num-processes only applies to --detector runs (a folder submission needs no detector processes)",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ib-eval-") as tmp:
            status = Path(tmp) / "status"
            cmd, env = distributed.launch_command(
                args.num_processes, relaunch_argv(args) + ["--status-file", str(status)]
            )
            launched = subprocess.run(cmd, env=env).returncode
            return int(status.read_text()) if status.is_file() else (launched or 1)
    code = _evaluate(args) or 0
    if args.status_file and distributed.is_main_process():
        Path(args.status_file).write_text(str(code))
        return 0 if code == 2 else code  # a refusal is an answer, not a crash: keep the launcher quiet
    return code


def _evaluate(args) -> int | None:
    """The evaluation itself; None on processes other than the main one. One process: ``api.run_options``, the
    code behind ``inpaintbench.harness.evaluate``; several: each collects its share, the main one scores and
    writes through the same ``api.score_and_write``."""
    import time

    from inpaintbench.harness import distributed
    from inpaintbench.harness.api import EvaluationError, SubmissionRefused, run_options
    from inpaintbench.harness.problems import format_problems

    started = time.perf_counter()
    try:
        opts = options_from_args(args)
    except ValueError as exc:  # EvaluationError is one
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if distributed.world_size() > 1:
            outcome = _evaluate_distributed(args, opts, started)
            if outcome is None:
                return None
        else:
            outcome = run_options(opts, results_dir=args.results_dir, output=args.output, started=started)
    except SubmissionRefused as exc:
        print(f"{exc}\nNot scored (policy strict; --policy penalize scores such samples as misses). "
              f"Full list: {exc.problems_path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    results = outcome.results
    if results["failures"]["count"]:
        print(
            format_problems([_problem(p) for p in results["failures"]["samples"]], "scored as misses"), file=sys.stderr
        )
    _print_summary(results, outcome.output)
    return 0


def _evaluate_distributed(args, opts, started: float):
    """This process's share under ``accelerate launch``, gathered on the main process, which scores and writes
    (``api.score_and_write``); None on the other processes."""
    from inpaintbench.harness import distributed
    from inpaintbench.harness.api import EvaluationError, score_and_write
    from inpaintbench.harness.data import DataError, open_eval_data
    from inpaintbench.harness.folder import FolderSubmissionError
    from inpaintbench.harness.records import GroundTruthError
    from inpaintbench.harness.run import collect_records
    from inpaintbench.harness.sandbox import DetectorStartError

    state = distributed.make_state()
    try:
        with state.main_process_first():  # one process fills the datasets cache, the others reuse it
            data = open_eval_data(opts.data, opts.config, opts.split)
        collected = collect_records(opts, data, state.process_index, state.num_processes)
        collected = distributed.gather_collected(state, collected, opts.entry_budget)
        # The last collective: stop gloo's threads before any rank exits, or a rank that exits first can
        # abort with "terminate called without an active exception" (seen here, about 1 run in 3).
        state.destroy_process_group()
    except (DataError, FolderSubmissionError, DetectorStartError, GroundTruthError) as exc:
        raise EvaluationError(str(exc)) from exc
    if not state.is_main_process:
        return None
    return score_and_write(opts, data, collected, started=started, results_dir=args.results_dir, output=args.output)


def _problem(d: dict):
    from inpaintbench.harness.problems import Problem

    return Problem(**d)


def _print_summary(results: dict, output: Path) -> None:
    from inpaintbench.harness.scoring import HEADLINE_METRICS

    metrics, overall = results["metrics"], (results.get("intervals") or {}).get("overall") or {}
    perturbation = results["dataset"].get("perturbation", "none")
    print(f"{results['detector'].get('name')} on {results['dataset'].get('version')}"
          f"{'' if perturbation == 'none' else f' perturbed by {perturbation}'} "
          f"({metrics['n_images']} images, {metrics['n_pixel_images']} with pixel metrics)")
    for m in HEADLINE_METRICS:
        value, ci = metrics.get(m), overall.get(m)
        shown = "n/a" if value is None else f"{value:.4f}"
        print(f"  {m:26s} {shown}" + (f"  [{ci['low']:.4f}, {ci['high']:.4f}]" if ci else ""))
    isolation = results["detector"].get("isolation") or {}
    if not isolation.get("isolated"):
        print(f"  note: not isolated ({isolation.get('method', 'unknown')}): the leaderboard lists this result "
              "apart, unranked", file=sys.stderr)
    print(f"results: {output}")


def run_leaderboard(args) -> int:
    from inpaintbench.harness.leaderboard import LeaderboardError, write_leaderboard

    try:
        written = write_leaderboard(args.results, args.out, args.sort, robustness_plot=args.robustness_plot)
    except LeaderboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0
