"""Scoring speed, memory and exactness: InpaintBench's exact reducer vs sklearn per image (the baseline), sklearn
on all pixels (the exact reference), fixed 1000-bin histograms (InpaintBench before conventions v2) and
torchmetrics' binned metrics.

Every method scores the same maps (map i is generated from seed i outside the timed region, one map alive at a
time unless the method keeps them) for several map distributions a real detector produces:
  noisy32      float32, a noisy partly-right map (values spread over [0, 1])
  saturated32  float32 sigmoid of logits beyond +-10: nearly every pixel within 1e-4 of 0 or 1 (a trained net)
  saturated64  the same in float64 (values float32 cannot tell apart)
  saturated16  the same in float16 (a half-precision net)
  uint8        a PNG map, 256 levels
Each (distribution, method, image count) runs in a fresh subprocess, so peak memory is that process's own: peak
RSS (VmHWM, reset via /proc/self/clear_refs right before scoring) minus the RSS at that moment. Printed: pixels/s,
the ratio against the baseline measured in this same run, extra peak memory, whether the pooled values are exact,
and the largest error of the pooled pixel AUC, AP, TPR@5%FPR and best F1 against sklearn on all pixels.

The baseline computes the same per-image metrics as ours: roc_auc_score, average_precision_score, roc_curve
(TPR at 5% FPR), precision_recall_curve (best F1), f1_score and jaccard_score at 0.5.

    # 512 x 512, 8 and 32 images, every distribution:
    .venv/bin/python benchmarks/scoring.py --plot docs/img/scoring.png
    .venv/bin/python benchmarks/scoring.py --counts 8 32 128 --distributions saturated32 --methods ours
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
    "ours_per_image": "InpaintBench v2, the per-image metrics only (the baseline's work): exact histogram per image",
    "ours": "InpaintBench v2 end to end: per-image metrics + exact pooled metrics (histograms past the memory "
            "budget spill to disk)",
    "sklearn_per_image": "sklearn, the same metrics per image (baseline)",
    "sklearn_pooled": "sklearn on all pixels concatenated (exact pooled reference; keeps every pixel)",
    "binned_1000": "fixed 1000-bin histograms per image (InpaintBench v1), pooled",
    "torchmetrics_binned": "torchmetrics BinaryAUROC/AveragePrecision/ROC(thresholds=1000) + F1, update per image",
}
BASELINE = "sklearn_per_image"
REFERENCE = "sklearn_pooled"
DISTRIBUTIONS = ("noisy32", "saturated32", "saturated64", "saturated16", "uint8")
POOLED = ("auc", "ap", "tpr", "f1_best")


def make_pair(i: int, size: int, distribution: str) -> tuple[np.ndarray, np.ndarray]:
    """Map and ground truth of image i: a blob mask and a prediction of the given distribution."""
    rng = np.random.default_rng(i)
    gt = np.zeros((size, size), bool)
    y, x = rng.integers(0, size // 2, 2)
    gt[y : y + size // 3, x : x + size // 4] = True
    if distribution == "noisy32":
        return np.clip(rng.normal(0.3, 0.2, (size, size)) + 0.35 * gt, 0, 1).astype(np.float32), gt
    if distribution == "uint8":
        return np.clip(rng.normal(80, 50, (size, size)) + 90 * gt, 0, 255).astype(np.uint8), gt
    logits = np.where(gt, 14.0, -14.0) + rng.normal(0, 9, (size, size))
    dtype = {"saturated32": np.float32, "saturated64": np.float64, "saturated16": np.float16}[distribution]
    return (1.0 / (1.0 + np.exp(-logits))).astype(dtype), gt


def _as_float(pred: np.ndarray) -> np.ndarray:
    return pred.astype(np.float64) / 255.0 if pred.dtype == np.uint8 else pred.astype(np.float64)


def rss_mib(field: str = "VmRSS:") -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Linux >= 4.0: writing 5 to clear_refs resets this process's peak RSS (VmHWM) to its current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _pooled_from_hist(pos: np.ndarray, neg: np.ndarray) -> dict:
    from inpaintbench.harness.ranking import ranking_metrics

    r = ranking_metrics(pos.astype(np.float64), neg.astype(np.float64), 0.05)
    return {"auc": r["auc"], "ap": r["ap"], "tpr": r["tpr_at_fpr"], "f1_best": r["f1_best"]}


class Method:
    """``update`` per image, ``finish`` once -> pooled metrics (or None); only these two are timed."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name.startswith("ours"):
            from inpaintbench.harness.allocator import keep_freed_buffers
            from inpaintbench.harness.records import EntryBudget
            from inpaintbench.harness.reduce import summarize_prediction
            from inpaintbench.harness.scoring import Scorer

            keep_freed_buffers()  # what every harness entry point does
            self._summarize, self._scorer, self._budget = summarize_prediction, Scorer, EntryBudget
        elif name in ("sklearn_per_image", "sklearn_pooled"):
            from sklearn import metrics

            self._m = metrics
        elif name == "torchmetrics_binned":
            import torch
            from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision, BinaryF1Score, BinaryROC

            torch.set_num_threads(1)
            self._torch = torch
            self._tm = (BinaryAUROC(thresholds=1000), BinaryAveragePrecision(thresholds=1000),
                        BinaryROC(thresholds=1000), BinaryF1Score())
        elif name != "binned_1000":
            raise SystemExit(f"unknown method {name}")
        self.reset()

    def reset(self) -> None:
        self.summaries, self.ys, self.ps = [], [], []
        if self.name.startswith("ours"):
            self.fit = self._budget()  # the harness's memory budget: histograms past it spill to disk
        self.pos, self.neg = np.zeros(1000, np.int64), np.zeros(1000, np.int64)
        if self.name == "torchmetrics_binned":
            for metric in self._tm:
                metric.reset()

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        if self.name == "ours_per_image":
            self._summarize(pred, gt, label=1)  # every per-image metric, exact; nothing kept
        elif self.name == "ours":
            self.summaries.append(self._summarize(pred, gt, label=1))
            self.fit.admit(self.summaries[-1])
        elif self.name == "sklearn_per_image":
            m, y, p = self._m, gt.ravel(), _as_float(pred).ravel()
            m.roc_auc_score(y, p), m.average_precision_score(y, p), m.roc_curve(y, p)
            m.precision_recall_curve(y, p), m.f1_score(y, p >= 0.5), m.jaccard_score(y, p >= 0.5)
        elif self.name == "sklearn_pooled":  # exact pooled metrics need every pixel kept
            self.ys.append(gt.ravel()), self.ps.append(_as_float(pred).ravel())
        elif self.name == "binned_1000":  # v1: bin k holds scores in [k/1000, (k+1)/1000)
            bins = np.minimum((_as_float(pred) * 1000).astype(np.intp), 999).ravel()
            counts = np.bincount(bins + 1000 * gt.ravel(), minlength=2000)
            self.neg += counts[:1000]
            self.pos += counts[1000:]
        else:
            p = self._torch.from_numpy(_as_float(pred).ravel().astype(np.float32))
            y = self._torch.from_numpy(gt.ravel().astype(np.int64))
            for metric in self._tm:
                metric.update(p, y)

    def finish(self) -> dict | None:
        if self.name == "ours_per_image":
            return None  # the per-image metrics only: the same work as the baseline
        if self.name == "ours":
            metrics = self._scorer(self.summaries).compute()
            out = {k: metrics[f"pixel_{m}_pooled"] for k, m in
                   (("auc", "auc"), ("ap", "ap"), ("tpr", "tpr_at_5fpr"), ("f1_best", "f1_best"))}
            out["exact"] = metrics["pixel_pooled_exact"]
            return out
        if self.name == "sklearn_per_image":
            return None  # per-image values only: a pooled value would need every pixel
        if self.name == "sklearn_pooled":  # sklearn alone: an independent reference for every pooled value
            m = self._m
            y, s = np.concatenate(self.ys), np.concatenate(self.ps)
            fpr, tpr, _ = m.roc_curve(y, s, drop_intermediate=False)
            precision, recall, _ = m.precision_recall_curve(y, s)
            with np.errstate(invalid="ignore", divide="ignore"):
                f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
            return {"auc": float(m.roc_auc_score(y, s)), "ap": float(m.average_precision_score(y, s)),
                    "tpr": float(tpr[fpr <= 0.05].max()), "f1_best": float(f1.max()), "exact": True}
        if self.name == "binned_1000":
            return {**_pooled_from_hist(self.pos, self.neg), "exact": False}
        auroc, ap, roc, f1 = self._tm
        fpr, tpr, _ = roc.compute()
        return {"auc": float(auroc.compute()), "ap": float(ap.compute()),
                "tpr": float(tpr[fpr <= 0.05].max()), "f1_best": None, "exact": False}


def run_method(name: str, n: int, size: int, distribution: str) -> dict:
    import gc
    import warnings

    warnings.filterwarnings("ignore")
    method = Method(name)
    method.update(*make_pair(10_000, 64, distribution))  # warm-up: lazy imports, JIT, first-call allocations
    method.finish()
    method.reset()
    gc.collect()
    if not reset_peak_rss():
        print("warning: cannot reset the peak RSS; extra peak memory includes imports and warm-up", file=sys.stderr)
    before = rss_mib()
    seconds = 0.0
    for i in range(n):
        pred, gt = make_pair(i, size, distribution)  # generated outside the timed region
        started = time.perf_counter()
        method.update(pred, gt)
        seconds += time.perf_counter() - started
        del pred, gt
    started = time.perf_counter()
    pooled = method.finish()
    seconds += time.perf_counter() - started
    return {"method": name, "n": n, "size": size, "distribution": distribution, "seconds": seconds,
            "pixels_per_s": n * size * size / seconds, "extra_peak_mib": max(0.0, rss_mib("VmHWM:") - before),
            "pooled": pooled}


def _error(row: dict, exact: dict | None) -> str:
    if row["pooled"] is None or exact is None:
        return "n/a"
    errors = [abs(row["pooled"][k] - exact[k]) for k in POOLED if row["pooled"].get(k) is not None]
    return f"{max(errors):.1e}"


def plot(rows: list[dict], path: str, methods: list[str], distributions: list[str], n: int, size: int) -> None:
    """Two panels over the distributions, at ``n`` images: speed against the baseline (log) and the largest
    pooled-metric error against sklearn on all pixels (log; exact methods drawn at the floor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 1e-16
    figure, (speed, error) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        picked = [next(r for r in rows if r["method"] == method and r["distribution"] == d and r["n"] == n)
                  for d in distributions]
        base = [next(r for r in rows if r["method"] == BASELINE and r["distribution"] == d and r["n"] == n)
                for d in distributions]
        exact = [next(r["pooled"] for r in rows if r["method"] == REFERENCE and r["distribution"] == d
                      and r["n"] == n) for d in distributions]
        x = np.arange(len(distributions)) + k * width - 0.4 + width / 2
        speed.bar(
            x, [r["pixels_per_s"] / b["pixels_per_s"] for r, b in zip(picked, base, strict=False)], width, label=method
        )
        errors = [max([abs(r["pooled"][m] - e[m]) for m in POOLED if r["pooled"].get(m) is not None] or [np.nan])
                  if r["pooled"] else np.nan for r, e in zip(picked, exact, strict=False)]
        error.bar(x, [max(v, floor) if np.isfinite(v) else np.nan for v in errors], width, label=method)
    for axis, title in ((speed, f"speed vs {BASELINE} (x, log)"), (error, "largest pooled AUC/AP/TPR/F1 error (log)")):
        axis.set_yscale("log")
        axis.set_xticks(np.arange(len(distributions)), distributions)
        axis.set_title(title, fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    speed.axhline(50, color="black", lw=0.8, ls="--")
    speed.text(len(distributions) - 0.5, 55, "50x", fontsize=8, ha="right")
    error.axhline(1e-6, color="black", lw=0.8, ls="--")
    error.text(len(distributions) - 0.5, 1.5e-6, "1e-6", fontsize=8, ha="right")
    figure.legend(*speed.get_legend_handles_labels(), loc="lower center", ncols=len(methods), fontsize=8)
    figure.suptitle(f"Scoring {n} maps of {size} x {size} (benchmarks/scoring.py); exact methods' error drawn at "
                    f"{floor:g}", fontsize=10)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--counts", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--distributions", nargs="+", default=list(DISTRIBUTIONS))
    parser.add_argument("--plot", metavar="PNG", help="also draw speed and pooled error per distribution and method")
    parser.add_argument("--child", nargs=4, metavar=("METHOD", "N", "SIZE", "DIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, n, size, distribution = args.child
        print(json.dumps(run_method(method, int(n), int(size), distribution)))
        return

    methods = list(dict.fromkeys(args.methods + [BASELINE, REFERENCE]))  # ratios and errors need these two
    rows = []
    for distribution in args.distributions:
        for n in args.counts:
            for method in methods:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", method, str(n), str(args.size), distribution],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"  measured {method} on {n} {distribution} images", file=sys.stderr)
    print(f"\nScoring {args.size}x{args.size} maps (timed: scoring only, map generation outside the timing)")
    for name, text in METHODS.items():
        if name in methods:
            print(f"  {name}: {text}")
    header = (f"{'distribution':12s} {'method':20s} {'images':>6s} {'Mpix/s':>8s} {'vs ' + BASELINE:>21s} "
              f"{'extra peak MiB':>15s} {'exact':>6s} {'max pooled err':>15s}")
    print("\n" + header + "\n" + "-" * len(header))
    for distribution in args.distributions:
        for n in args.counts:
            group = [r for r in rows if r["n"] == n and r["distribution"] == distribution]
            base = next(r for r in group if r["method"] == BASELINE)
            exact = next(r["pooled"] for r in group if r["method"] == REFERENCE)
            for r in group:
                ratio = f"{r['pixels_per_s'] / base['pixels_per_s']:.1f}x"
                flag = "n/a" if r["pooled"] is None else ("yes" if r["pooled"]["exact"] else "no")
                print(f"{distribution:12s} {r['method']:20s} {n:6d} {r['pixels_per_s'] / 1e6:8.1f} {ratio:>21s} "
                      f"{r['extra_peak_mib']:15.1f} {flag:>6s} {_error(r, exact):>15s}")
    if args.plot:
        plot(rows, args.plot, methods, args.distributions, args.counts[-1], args.size)
        print(f"\nplot: {args.plot}")
    if len(args.counts) > 1:
        lo, hi = args.counts[0], args.counts[-1]
        print(f"\nExtra peak memory from {lo} to {hi} images ({hi / lo:.0f}x the pixels), MiB:")
        for distribution in args.distributions:
            for method in methods:
                a = next(
                    r for r in rows if r["method"] == method and r["n"] == lo and r["distribution"] == distribution
                )
                b = next(
                    r for r in rows if r["method"] == method and r["n"] == hi and r["distribution"] == distribution
                )
                print(f"  {distribution:12s} {method:20s} {a['extra_peak_mib']:8.1f} -> {b['extra_peak_mib']:8.1f}")


if __name__ == "__main__":
    main()
