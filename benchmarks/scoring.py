"""Scoring speed and memory: InpaintBench's histogram reducer vs sklearn per image vs torchmetrics (binned).

Every method scores the same maps (map i is generated from seed i, so no method holds all maps at once) and
each (method, image count) runs in a fresh subprocess, so peak memory is that process's own: peak RSS minus
the RSS right before scoring started (after imports and a warm-up). Printed: pixels/s, the ratio against the
baseline measured in this same run (sklearn per image), extra peak memory, and how far each method's pooled
pixel AUC is from the exact value (sklearn on all pixels concatenated, the "grows with N" reference).

    .venv/bin/python benchmarks/scoring.py                 # 512 x 512 maps, 8 and 32 images
    .venv/bin/python benchmarks/scoring.py --size 1024 --counts 8 32 128
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

METHODS = {
    "ours": "InpaintBench reducer (1000-bin histograms) + Scorer: all metrics, per image and pooled",
    "ours_uint8": "InpaintBench reducer on uint8 maps (256 exact bins) + Scorer",
    "sklearn_per_image": "sklearn roc_auc_score + f1_score + average_precision_score per image (baseline)",
    "sklearn_pooled": "sklearn roc_auc_score + AP on all pixels concatenated (exact pooled reference)",
    "torchmetrics_binned": "torchmetrics BinaryAUROC/BinaryAveragePrecision(thresholds=1000) + BinaryF1Score, update per image",
}
BASELINE = "sklearn_per_image"


def make_pair(i: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Map and ground truth of image i: a blob mask and a noisy, partly right prediction."""
    rng = np.random.default_rng(i)
    gt = np.zeros((size, size), bool)
    y, x = rng.integers(0, size // 2, 2)
    gt[y : y + size // 3, x : x + size // 4] = True
    pred = np.clip(rng.normal(0.3, 0.2, (size, size)) + 0.35 * gt, 0, 1).astype(np.float32)
    return pred, gt


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_method(method: str, n: int, size: int) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    if method.startswith("ours"):
        from inpaintbench.harness.reduce import summarize
        from inpaintbench.harness.scoring import Scorer

        def score(pairs):
            pos, neg, scores, labels = [], [], [], []
            for pred, gt in pairs:
                if method == "ours_uint8":
                    pred = np.round(pred * 255).astype(np.uint8)
                s = summarize(pred, gt, label=1)
                pos.append(s.pos_hist), neg.append(s.neg_hist), scores.append(s.score), labels.append(1)
            return Scorer(pos, neg, scores, labels).compute()["pixel_auc_pooled"]
    elif method == "sklearn_per_image":
        from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

        def score(pairs):
            aucs = []
            for pred, gt in pairs:
                y, p = gt.ravel(), pred.ravel()
                aucs.append(roc_auc_score(y, p))
                f1_score(y, p >= 0.5)
                average_precision_score(y, p)
            return None  # per-image values only: no pooled AUC without keeping every pixel
    elif method == "sklearn_pooled":
        from sklearn.metrics import average_precision_score, roc_auc_score

        def score(pairs):
            ys, ps = [], []
            for pred, gt in pairs:
                ys.append(gt.ravel()), ps.append(pred.ravel())
            y, p = np.concatenate(ys), np.concatenate(ps)
            average_precision_score(y, p)
            return roc_auc_score(y, p)
    elif method == "torchmetrics_binned":
        import torch
        from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision, BinaryF1Score

        torch.set_num_threads(1)
        auroc, ap, f1 = BinaryAUROC(thresholds=1000), BinaryAveragePrecision(thresholds=1000), BinaryF1Score()

        def score(pairs):
            for pred, gt in pairs:
                p, y = torch.from_numpy(pred.ravel()), torch.from_numpy(gt.ravel().astype(np.int64))
                auroc.update(p, y), ap.update(p, y), f1.update(p, y)
            ap.compute(), f1.compute()
            return float(auroc.compute())
    else:
        raise SystemExit(f"unknown method {method}")

    score([make_pair(10_000, 64)])  # warm-up: lazy imports and first-call allocations out of the measurement
    if method == "torchmetrics_binned":
        auroc.reset(), ap.reset(), f1.reset()
    before = rss_mib()
    started = time.perf_counter()
    pooled_auc = score(make_pair(i, size) for i in range(n))
    seconds = time.perf_counter() - started
    return {"method": method, "n": n, "size": size, "seconds": seconds, "pixels_per_s": n * size * size / seconds,
            "extra_peak_mib": max(0.0, peak_rss_mib() - before), "pooled_auc": pooled_auc}


def generation_seconds(n: int, size: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        make_pair(i, size)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--counts", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "N", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, n, size = args.child
        print(json.dumps(run_method(method, int(n), int(size))))
        return

    rows = []
    for n in args.counts:
        for method in args.methods:
            out = subprocess.run([sys.executable, __file__, "--child", method, str(n), str(args.size)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  measured {method} on {n} images", file=sys.stderr)
    print(f"\nScoring {args.size}x{args.size} float32 maps; map generation alone: "
          f"{generation_seconds(args.counts[-1], args.size) / args.counts[-1] * 1000:.1f} ms/map (included in every row)")
    for name, text in METHODS.items():
        if name in args.methods:
            print(f"  {name}: {text}")
    header = f"{'method':22s} {'images':>6s} {'Mpix/s':>8s} {'vs ' + BASELINE:>24s} {'extra peak MiB':>15s} {'|AUC - exact|':>14s}"
    print("\n" + header + "\n" + "-" * len(header))
    for n in args.counts:
        group = [r for r in rows if r["n"] == n]
        base = next((r for r in group if r["method"] == BASELINE), None)
        exact = next((r["pooled_auc"] for r in group if r["method"] == "sklearn_pooled"), None)
        for r in group:
            ratio = f"{r['pixels_per_s'] / base['pixels_per_s']:.2f}x" if base else "n/a"
            err = "n/a" if r["pooled_auc"] is None or exact is None else f"{abs(r['pooled_auc'] - exact):.1e}"
            print(f"{r['method']:22s} {n:6d} {r['pixels_per_s'] / 1e6:8.1f} {ratio:>24s} {r['extra_peak_mib']:15.1f} {err:>14s}")
    if len(args.counts) > 1:
        lo, hi = args.counts[0], args.counts[-1]
        print(f"\nExtra peak memory from {lo} to {hi} images ({hi / lo:.0f}x the pixels):")
        for method in args.methods:
            a = next(r for r in rows if r["method"] == method and r["n"] == lo)
            b = next(r for r in rows if r["method"] == method and r["n"] == hi)
            print(f"  {method:22s} {a['extra_peak_mib']:8.1f} -> {b['extra_peak_mib']:8.1f} MiB")


if __name__ == "__main__":
    main()
