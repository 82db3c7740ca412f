"""Deceptiveness assessment speed: seconds per sample per judge, and how it scales with K trials.

    .venv/bin/python benchmarks/assess.py                       # embedded set, first 3 photos, in a temp dir
    .venv/bin/python benchmarks/assess.py --data runs/embedded   # an existing generator output dir
    .venv/bin/python benchmarks/assess.py --trials 1,4,16 --vlm-trials 1,4

Per judge, the baseline is one bare look measured in this run on the same inpainted images: one
``detector.predict`` call (detector judge), one VLM ``ask`` of the stage-1 question (tiny random-weight LLaVA
built from configs; real VLMs are orders of magnitude slower, so only the ratios carry over). A trial costs
1 question when caught at stage 1 and 3 questions (1 + the pair in both orders) otherwise, so the time per sample
grows with K times the share that reaches stage 2; ``questions`` counts them (a counting wrapper judge) and
``s/question / bare look`` is one protocol question against one bare look: ~1 for a stage-1 question, ~2 for
the detector's pair question (two images scored), ~1 for the VLM's (one generate call with two images), plus
augmentation, prompt building and parsing. The last line
times one whole ``assess_run`` (Parquet reading, PNG decoding, assessments file writing included) against the sum of
its per-sample protocol time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _inpainted_samples(run: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    import pyarrow.parquet as pq

    from inpaintbench.builder.deceptiveness.runner import find_shards
    from inpaintbench.schema import FEATURES

    samples = []
    for shard in find_shards(run):
        for row in pq.read_table(shard, columns=["sample_id", "label", "image", "original"]).to_pylist():
            if row["label"] == 1:
                decode = lambda v: np.asarray(FEATURES["image"].decode_example(v).convert("RGB"))  # noqa: E731
                samples.append((row["sample_id"], decode(row["image"]), decode(row["original"])))
    return samples


def counting(judge):
    """The same judge, counting the questions it is asked (stage 1: one; stage 2: two, one per order)."""
    from inpaintbench.builder.deceptiveness import Judge

    class Counting(Judge):
        name = judge.name

        def __init__(self):
            super().__init__(**judge.params)
            self.questions = 0

        def answer_single(self, image, rng):
            self.questions += 1
            return judge.answer_single(image, rng)

        def answer_pair(self, first, second, rng):
            self.questions += 1
            return judge.answer_pair(first, second, rng)

    return Counting()


def _seconds_per_sample(judge, samples, trials: int, repeats: int) -> tuple[float, float, float]:
    """(median s/sample over ``repeats`` passes, questions per sample, share of trials caught at stage 1)."""
    from inpaintbench.builder.deceptiveness import assess_sample

    passes, caught = [], 0
    for _ in range(repeats):
        counted = counting(judge)
        started = time.perf_counter()
        results = [assess_sample(counted, sid, image, original, trials, seed=0) for sid, image, original in samples]
        passes.append((time.perf_counter() - started) / len(samples))
        caught = sum(r.caught_single for r in results)
    return statistics.median(passes), counted.questions / len(samples), caught / (trials * len(samples))


def _look_seconds(look, samples, repeats: int) -> float:
    passes = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _, image, _ in samples:
            look(image)
        passes.append((time.perf_counter() - started) / len(samples))
    return statistics.median(passes)


def _print_table(name: str, look: float, rows: list[tuple[int, float, float, float]]) -> None:
    print(f"\n{name}: one bare look {look * 1e3:.2f} ms")
    print(f"{'K':>4}{'s/sample':>11}{'x K=1':>8}{'questions':>11}{'x look':>9}{'s/question / bare look':>24}"
          f"{'stage-1 caught':>16}")
    base = rows[0][1]
    for trials, seconds, questions, caught in rows:
        print(f"{trials:>4}{seconds:>11.4f}{seconds / base:>8.2f}{questions:>11.1f}{seconds / look:>9.1f}"
              f"{seconds / questions / look:>24.2f}{caught:>16.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="generator output dir (default: a fresh embedded build)")
    parser.add_argument("--max-images", type=int, default=3, help="photos of the fresh embedded build (3)")
    parser.add_argument("--trials", default="1,2,4,8,16", help="K values for the detector judge")
    parser.add_argument("--vlm-trials", default="1,2,4,8", help="K values for the tiny VLM judge ('' to skip)")
    parser.add_argument("--threshold", type=float, default=0.5, help="detector judge threshold (0.5)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per measurement; the median is printed")
    args = parser.parse_args(argv)

    import torch

    from inpaintbench.builder.deceptiveness import create_judge
    from inpaintbench.builder.deceptiveness.runner import assess_run
    from inpaintbench.builder.deceptiveness.vlm_judge import SINGLE_PROMPT

    torch.set_num_threads(1)  # comparable figures on a shared machine
    with tempfile.TemporaryDirectory(prefix="inpaintbench-assess-bench-") as tmp:
        run = args.data
        if run is None:
            run = Path(tmp) / "run"
            subprocess.run([sys.executable, "-m", "inpaintbench.cli", "generate", "--out", str(run), "--max-images",
                            str(args.max_images), "--no-progress"], check=True, stdout=subprocess.DEVNULL)
        samples = _inpainted_samples(run)
        if not samples:
            print(f"error: {run} holds no inpainted sample", file=sys.stderr)
            return 2
        sizes = sorted({image.shape[:2] for _, image, _ in samples})
        print(f"{len(samples)} inpainted samples from {run} (sizes {sizes[0]}..{sizes[-1]}), 1 torch thread")

        judge = create_judge("detector", threshold=args.threshold)
        look = _look_seconds(judge.detector.predict, samples, args.repeats)
        rows = [(k, *_seconds_per_sample(judge, samples, k, args.repeats)) for k in map(int, args.trials.split(","))]
        _print_table(f"detector judge (ela, threshold {args.threshold})", look, rows)

        if args.vlm_trials:
            # The tiny VLM is a test fixture (tests/helpers/, not in the wheel): importable from the repository root.
            sys.path.append(str(Path(__file__).resolve().parents[1]))
            from tests.helpers.tiny_vlm import build_tiny_vlm

            vlm = create_judge("vlm", model=str(build_tiny_vlm(Path(tmp) / "tiny-vlm")), max_new_tokens=8)
            ask = lambda image: vlm.ask([image], SINGLE_PROMPT, np.random.default_rng(0))  # noqa: E731
            vlm_look = _look_seconds(ask, samples, args.repeats)
            vlm_rows = [(k, *_seconds_per_sample(vlm, samples, k, args.repeats))
                        for k in map(int, args.vlm_trials.split(","))]
            _print_table("tiny VLM judge (random-weight LLaVA, 8 new tokens)", vlm_look, vlm_rows)

        # End to end: a copy of the shards, so an existing run's assessments file is never touched.
        copy = Path(tmp) / "copy"
        shutil.copytree(run / ("data" if (run / "data").is_dir() else "shards"), copy / "data")
        k = rows[-1][0]
        started = time.perf_counter()
        assess_run(copy, judge, trials=k, seed=0, progress=False)
        wall = time.perf_counter() - started
        protocol = rows[-1][1] * len(samples)  # measured with the counting wrapper: a negligible extra
        print(f"\nassess_run end to end, detector judge K={k}: {wall:.2f} s for {len(samples)} inpainted samples "
              f"(+ pristine rows); protocol alone {protocol:.2f} s; ratio {wall / protocol:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
