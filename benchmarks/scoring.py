"""Scoring speed and memory: InpaintBench's histogram reducer vs sklearn per image vs torchmetrics (binned).

Every method scores the same maps (map i is generated from seed i, outside the timed region, so no method
holds all maps at once unless it has to) and
each (method, image count) runs in a fresh subprocess, so peak memory is that process's own: peak RSS (VmHWM,
reset via /proc/self/clear_refs right before scoring) minus the RSS at that moment (after imports and a warm-up). Printed: pixels/s, the ratio against the
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


def reset_peak_rss() -> bool:
    """Linux >= 4.0: writing 5 to clear_refs resets this process's peak RSS (VmHWM) to its current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Method:
    """``update`` per image, ``finish`` once -> pooled pixel AUC (or None); only these two are timed."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name.startswith("ours"):
            from inpaintbench.harness.reduce import summarize
            from inpaintbench.harness.scoring import Scorer

            self._summarize, self._scorer = summarize, Scorer
        elif name in ("sklearn_per_image", "sklearn_pooled"):
            from sklearn import metrics

            self._m = metrics
        elif name == "torchmetrics_binned":
            import torch
            from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision, BinaryF1Score

            torch.set_num_threads(1)
            self._torch = torch
            self._tm = (BinaryAUROC(thresholds=1000), BinaryAveragePrecision(thresholds=1000), BinaryF1Score())
        else:
            raise SystemExit(f"unknown method {name}")
        self.reset()

    def reset(self) -> None:
        self.summaries, self.ys, self.ps = [], [], []
        if self.name == "torchmetrics_binned":
            for metric in self._tm:
                metric.reset()

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        if self.name.startswith("ours"):
            if self.name == "ours_uint8":
                pred = np.round(pred * 255).astype(np.uint8)
            self.summaries.append(self._summarize(pred, gt, label=1))
        elif self.name == "sklearn_per_image":
            y, p = gt.ravel(), pred.ravel()
            self._m.roc_auc_score(y, p), self._m.f1_score(y, p >= 0.5), self._m.average_precision_score(y, p)
        elif self.name == "sklearn_pooled":  # exact pooled metrics need every pixel kept
            self.ys.append(gt.ravel()), self.ps.append(pred.ravel())
        else:
            p, y = self._torch.from_numpy(pred.ravel()), self._torch.from_numpy(gt.ravel().astype(np.int64))
            for metric in self._tm:
                metric.update(p, y)

    def finish(self):
        if self.name.startswith("ours"):
            s = self.summaries
            metrics = self._scorer([x.pos_hist for x in s], [x.neg_hist for x in s], [x.score for x in s],
                                   [x.label for x in s]).compute()
            return metrics["pixel_auc_pooled"]
        if self.name == "sklearn_per_image":
            return None  # per-image values only: a pooled AUC would need every pixel
        if self.name == "sklearn_pooled":
            y, p = np.concatenate(self.ys), np.concatenate(self.ps)
            self._m.average_precision_score(y, p)
            return float(self._m.roc_auc_score(y, p))
        auroc, ap, f1 = self._tm
        ap.compute(), f1.compute()
        return float(auroc.compute())


def run_method(name: str, n: int, size: int) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    method = Method(name)
    method.update(*make_pair(10_000, 64))  # warm-up: lazy imports and first-call allocations
    method.finish()
    method.reset()
    import gc

    gc.collect()
    if not reset_peak_rss():
        print("warning: cannot reset the peak RSS; extra peak memory includes imports and warm-up", file=sys.stderr)
    before = rss_mib()
    seconds = 0.0
    for i in range(n):
        pred, gt = make_pair(i, size)  # generated outside the timed region, one map alive at a time
        started = time.perf_counter()
        method.update(pred, gt)
        seconds += time.perf_counter() - started
        del pred, gt
    started = time.perf_counter()
    pooled_auc = method.finish()
    seconds += time.perf_counter() - started
    return {"method": name, "n": n, "size": size, "seconds": seconds, "pixels_per_s": n * size * size / seconds,
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
    print(f"\nScoring {args.size}x{args.size} float32 maps (timed: scoring only; making a map takes "
          f"{generation_seconds(4, args.size) / 4 * 1000:.1f} ms, outside the timing)")
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
