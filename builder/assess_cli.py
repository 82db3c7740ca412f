"""``inpaintbench assess``: score how deceptive each inpainted sample of a generator run is (UGDA).

    inpaintbench assess --data runs/embedded                                # detector judge (CPU, no weights)
    inpaintbench assess --data runs/embedded --trials 16 --seed 1
    inpaintbench assess --data runs/embedded --judge vlm --model Qwen/Qwen2-VL-2B-Instruct --device cuda

Writes ``<run>/assessments/deceptiveness.parquet`` (resumable: a re-run skips samples already assessed with
the same judge, trials and seed) and prints the share of deceiving samples overall and per backend.
See docs/deceptiveness.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from inpaintbench.cli_grammar import add_data_argument, add_renamed


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "assess",
        help="deceptiveness of each inpainted sample (UGDA protocol, K seeded trials, Beta interval)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_argument(parser, "the run (generator output) to assess", refuse_positional=False)
    add_renamed(parser, {"--run": "--data DIR"})
    parser.add_argument("--judge", default="detector", choices=["detector", "vlm"], help="default: detector")
    parser.add_argument("--model", metavar="ID_OR_PATH", help="VLM Hub id (HF cache) or local folder (--judge vlm)")
    parser.add_argument("--device", default="cpu", help="torch device of the VLM judge (default cpu)")
    parser.add_argument("--dtype", help="torch dtype of the VLM judge, e.g. bfloat16 (default: the checkpoint's)")
    parser.add_argument("--detector", default="ela", help="harness detector of the detector judge (default ela)")
    parser.add_argument("--threshold", type=float, default=0.5, help="detector judge: score above it = 'edited'")
    parser.add_argument("--trials", type=int, default=8, metavar="K", help="protocol repetitions per sample (8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the judges' randomness (default 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def make_judge(args: argparse.Namespace):
    from .deceptiveness import create_judge

    if args.judge == "vlm":
        if not args.model:
            raise ValueError("--judge vlm needs --model ID_OR_PATH")
        return create_judge("vlm", model=args.model, device=args.device, dtype=args.dtype)
    if args.model:
        raise ValueError("--model is for --judge vlm; the detector judge takes --detector")
    return create_judge("detector", detector=args.detector, threshold=args.threshold)


def _json_safe(value):
    """NaN (no judged sample in a group) is not JSON: null instead."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    return value


def run(args: argparse.Namespace) -> int:
    from .deceptiveness.runner import AssessError, assess_run, format_summary
    from .models import ModelNotFound

    if args.trials < 1:
        print("assess: --trials must be >= 1", file=sys.stderr)
        return 2
    try:
        judge = make_judge(args)
        result = assess_run(args.data, judge, trials=args.trials, seed=args.seed, progress=not args.no_progress)
    except (AssessError, ModelNotFound, ValueError) as error:
        print(f"assess: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                _json_safe(
                    {
                        "assessments_file": str(result.assessments_file),
                        "judge_key": result.judge_key,
                        "assessed": result.assessed,
                        "reused": result.reused,
                        "summary": result.summary,
                    }
                ),
                indent=2,
            )
        )
    else:
        print(f"{result.assessments_file}: {result.assessed} assessed now, {result.reused} reused (judge {judge.name}, "
              f"key {result.judge_key}, K={args.trials}, seed {args.seed})")
        print(format_summary(result.summary))
    return 0
