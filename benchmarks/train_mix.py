"""Generated data as training data: the trained pixel baseline fitted on mixes of inpainted and pristine photos.

Following arXiv 2310.01830 (generated images help most mixed with real ones, the mix chosen on the final
model's measured performance) and SAGI (arXiv 2502.06593: training on generated forgeries raises localisation
in-domain and out-of-domain):

1. build ``configs/train_mix.yaml`` (``inpaintbench generate``; resumable) and release it locally with the
   default split config (``inpaintbench publish --to``): train / validation / test by photo, backend
   ``opencv_ns`` held out whole in ``test_ood_backend``;
2. train one model per pristine share (share of training pixels from pristine photos) on ``train`` only;
3. pick the share on ``validation`` (pixel F1 mean; ties: image AUC, then the smaller share);
4. score the picked model and the ELA / noise baselines, in this same run, on ``test`` + ``test_ood_backend``
   together: the harness's domain breakdown (training backends of the model) gives in-domain (= the test
   split) and out-of-domain (held-out backend's forgeries + the test split's pristine photos, so image AUC is
   defined), each with 95% bootstrap intervals over images. Nothing is tuned on test.
5. a supplement, because 15 photos leave test 1-3 photos whatever the split: photo-grouped K-fold
   cross-validation over the whole build, for every share (its table chooses nothing; the detailed tables are
   for the share picked in step 3). Each fold's model is trained on the
   other photos' samples from the in-domain backends (never on ``opencv_ns``, never on a held-out photo) and
   predicts its held-out photos' samples; the pooled predictions are scored as one folder submission by the
   harness, so every sample is scored exactly once by a model that never saw its photo.

    .venv/bin/python benchmarks/train_mix.py                      # 351-504 s measured, + the build on a first run
    .venv/bin/python benchmarks/train_mix.py --shares 0 0.25 0.5 --bootstrap 1000

Writes benchmarks/results/train_mix.txt, docs/img/train_mix.png and, under --work, the release, the models
and one results JSON per evaluation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from inpaintbench.folders import read_release_summary

REPO = Path(__file__).resolve().parents[1]
PANEL_METRICS = ("pixel_f1_mean", "pixel_iou_mean", "image_auc")
TABLE_METRICS = ("pixel_f1_mean", "pixel_iou_mean", "pixel_auc_pooled", "image_auc", "balanced_accuracy")
BASELINES = ("ela", "noise")


def _cli(argv: list[str]) -> None:
    from inpaintbench.cli import main

    code = main(argv)
    if code != 0:
        raise SystemExit(f"inpaintbench {' '.join(argv)} exited {code}")


def build_release(config: Path, work: Path, version: str) -> tuple[Path, Path, float]:
    from inpaintbench.builder.config import GenerateConfig

    run_dir = REPO / GenerateConfig.from_file(config).out_dir
    started = time.perf_counter()
    _cli(["generate", "--config", str(config)])  # resumes / returns at once when the build is complete
    generate_s = time.perf_counter() - started
    release = work / "release"
    _cli(["publish", "--data", str(run_dir), "--out", str(release), "--version", version])
    return run_dir, release, generate_s


def train_share(release: Path, share: float, seed: int, models: Path, progress: bool) -> tuple[Path, dict]:
    from inpaintbench.harness.training.data import open_training_data
    from inpaintbench.harness.training.model_file import save_model
    from inpaintbench.harness.training.trainer import TrainOptions, train_detector

    training = open_training_data(release, split="train")
    estimator, meta = train_detector(training, TrainOptions(pristine_share=share, seed=seed, progress=progress))
    return save_model(models / f"share_{share:g}.joblib", estimator, meta), meta


def evaluate(data: str, split: str | None, detector: str, params: dict, train_backends, out: Path, bootstrap: int,
             progress: bool) -> dict:
    from inpaintbench.atomic_io import atomic_write_json
    from inpaintbench.harness import evaluate as evaluate_detector

    results = evaluate_detector(data, split=split, detector=detector, params=params, train_backends=train_backends,
                                bootstrap=bootstrap, seed=0, progress=progress, timeout_s=300)
    if results["failures"]["count"]:
        raise SystemExit(f"{detector} on {data} {split}: {results['failures']['count']} failed samples")
    atomic_write_json(out, results)
    return results


def _cell(value, ci=None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else "")


def _row(name: str, metrics: dict, intervals: dict | None, n: str) -> str:
    cells = [_cell(metrics.get(m), (intervals or {}).get(m)) for m in TABLE_METRICS]
    return f"| {name} | {n} | " + " | ".join(cells) + " |"


def _header() -> list[str]:
    return ["| detector | images (forged/pristine) | " + " | ".join(TABLE_METRICS) + " |",
            "|---|---|" + "---|" * len(TABLE_METRICS)]


def _counts(metrics: dict) -> str:
    return f"{metrics['n_images']} ({metrics['n_inpainted']}/{metrics['n_pristine']})"


def pick_share(validation: dict[float, dict]) -> float:
    def key(share):
        m = validation[share]["metrics"]
        return (m.get("pixel_f1_mean") or 0.0, m.get("image_auc") or 0.0, -share)

    return max(validation, key=key)


def photo_folds(run_dir: Path, k: int) -> dict[str, int]:
    """sample_id -> fold: photos (source, source_image_id) ordered by a hash of their id, dealt round robin."""
    import hashlib

    import pyarrow.parquet as pq

    from inpaintbench.folders import manifest_shards

    # Every sample of the build, read from its shards (a release plan would leave out the held-out backend's
    # edits of train photos, which the cross-validation scores too).
    columns = ["sample_id", "source", "source_image_id"]
    rows = [row for shard in manifest_shards(run_dir, verify="size")
            for row in pq.read_table(shard, columns=columns).to_pylist()]
    photos = sorted({(r["source"], r["source_image_id"]) for r in rows},
                    key=lambda p: hashlib.sha256("\x1f".join(p).encode()).hexdigest())
    fold_of_photo = {photo: i % k for i, photo in enumerate(photos)}
    return {r["sample_id"]: fold_of_photo[(r["source"], r["source_image_id"])] for r in rows}


def cross_validate(run_dir: Path, share: float, seed: int, k: int, held_out_backends: set[str], work: Path,
                   progress: bool) -> tuple[Path, list[dict]]:
    """Write a folder submission (maps/<id>.npy + scores.csv) of out-of-fold predictions; per-fold counts."""
    import csv

    import numpy as np
    from tqdm.auto import tqdm

    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.harness.detectors import create_detector
    from inpaintbench.harness.records import rgb_array
    from inpaintbench.harness.training.data import TrainingData
    from inpaintbench.harness.training.model_file import save_model
    from inpaintbench.harness.training.trainer import TrainOptions, train_detector

    data = open_eval_data(run_dir)
    folds = photo_folds(run_dir, k)
    ids, backends = data.dataset["sample_id"], data.dataset["backend"]
    submission = work / f"cv_submission_share_{share:g}"
    (submission / "maps").mkdir(parents=True, exist_ok=True)
    scores, per_fold = {}, []
    for fold in range(k):
        train_idx = [i for i, sid in enumerate(ids) if folds[sid] != fold and backends[i] not in held_out_backends]
        test_idx = [i for i, sid in enumerate(ids) if folds[sid] == fold]
        assert not {folds[ids[i]] for i in train_idx} & {fold}, "a held-out photo leaked into training"
        subset = data.dataset.select(train_idx)
        identity = {**data.identity, "split": f"cv{k}-fold{fold}-train", "num_samples": len(subset)}
        training = TrainingData(subset, identity, tuple(sorted({b for b in subset["backend"] if b != "none"})))
        estimator, meta = train_detector(training, TrainOptions(pristine_share=share, seed=seed, progress=progress))
        model = save_model(work / "models" / f"cv{k}_share_{share:g}_fold{fold}.joblib", estimator, meta)
        detector = create_detector("trained", model=str(model))
        view = data.dataset.select_columns(["sample_id", "image"])
        for i in tqdm(test_idx, desc=f"cv fold {fold + 1}/{k}: predict", disable=not progress, unit="img"):
            row = view[i]
            out = detector.predict(rgb_array(row["image"]))
            np.save(submission / "maps" / f"{row['sample_id']}.npy", out["map"].astype(np.float32))
            scores[row["sample_id"]] = out["score"]
        per_fold.append({"fold": fold, "train_samples": len(train_idx), "test_samples": len(test_idx),
                         "test_photos": len({ids[i].rsplit("-", 1)[0] for i in test_idx})})
        print(f"cv share {share:g} fold {fold + 1}/{k}: trained on {len(train_idx)} samples, predicted {len(test_idx)}",
              flush=True)
    with open(submission / "scores.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sample_id", "score"])
        for sample_id in ids:
            writer.writerow([sample_id, repr(float(scores[sample_id]))])
    return submission, per_fold


def evaluate_submission(data: str, submission: Path, name: str, train_backends, out: Path, bootstrap: int,
                        progress: bool) -> dict:
    from inpaintbench.atomic_io import atomic_write_json
    from inpaintbench.harness import evaluate as evaluate_detector

    results = evaluate_detector(data, submission=str(submission), name=name, train_backends=train_backends,
                                bootstrap=bootstrap, seed=0, progress=progress)
    if results["failures"]["count"]:
        raise SystemExit(f"{name} on {data}: {results['failures']['count']} failed samples")
    atomic_write_json(out, results)
    return results


def _domain(results: dict, part: str) -> tuple[dict | None, dict | None]:
    return (results.get("domain") or {}).get(part), (results.get("intervals") or {}).get(part)


SETTINGS = (("release", "in_domain", "test split"), ("release", "out_of_domain", "test_ood_backend"),
            ("cv", "in_domain", "CV, seen backends"), ("cv", "out_of_domain", "CV, held-out backend"))


def plot(path: Path, validation: dict[float, dict], final: dict[str, dict[str, dict]], picked: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(PANEL_METRICS), figsize=(4.4 * (1 + len(PANEL_METRICS)), 3.8))
    shares = sorted(validation)
    ax = axes[0]
    for metric in PANEL_METRICS:
        ax.plot(shares, [validation[s]["metrics"].get(metric) or float("nan") for s in shares], "o-", label=metric)
    ax.axvline(picked, color="grey", ls=":", label=f"picked {picked:g}")
    ax.set(title="validation: trained, by pristine share", xlabel="pristine share of training pixels", ylim=(0, 1))
    ax.legend(fontsize=7)
    names = list(final["release"])
    width = 0.8 / len(SETTINGS)
    for ax, metric in zip(axes[1:], PANEL_METRICS, strict=False):
        for j, (setting, part, label) in enumerate(SETTINGS):
            xs, ys, lo, hi = [], [], [], []
            for i, name in enumerate(names):
                domain, intervals = _domain(final[setting][name], part)
                value = (domain or {}).get(metric)
                ci = (intervals or {}).get(metric)
                xs.append(i + (j - (len(SETTINGS) - 1) / 2) * width)
                ys.append(float("nan") if value is None else value)
                lo.append(0 if not ci or value is None else value - ci["low"])
                hi.append(0 if not ci or value is None else ci["high"] - value)
            ax.bar(xs, ys, width=width, yerr=[lo, hi], capsize=2, label=label)
        ax.set_xticks(range(len(names)), names)
        ax.set(title=f"{metric} (95% bootstrap over images)", ylim=(0, 1))
        if metric == "image_auc":
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _domain_tables(final: dict[str, dict], picked: float, titles: dict[str, str]) -> list[str]:
    lines = []
    for part, title in titles.items():
        lines += [f"### {title}", ""] + _header()
        for name, results in final.items():
            domain, intervals = _domain(results, part)
            if domain is not None:
                label = f"trained (share {picked:g})" if name == "trained" else name
                lines.append(_row(label, domain, intervals, _counts(domain)))
        lines.append("")
    return lines


def _backend_table(final: dict[str, dict], picked: float, trained_on: list[str]) -> list[str]:
    """One row per generator and detector from the harness's backend breakdown (every row also holds all pristine
    photos, so image AUC is defined): which held-out generator is hard is what the pooled out-of-domain part hides.
    No intervals: the breakdown has none."""
    lines = ["| backend | trained on it | detector | images (forged/pristine) | " + " | ".join(TABLE_METRICS) + " |",
             "|---|---|---|---|" + "---|" * len(TABLE_METRICS)]
    backends = sorted({b for results in final.values() for b in (results.get("breakdowns") or {}).get("backend", {})})
    for backend in backends:
        for name, results in final.items():
            metrics = (results.get("breakdowns") or {}).get("backend", {}).get(backend)
            if metrics:
                label = f"trained (share {picked:g})" if name == "trained" else name
                lines.append(
                    f"| {backend} | {'yes' if backend in trained_on else 'no'} | {label} | {_counts(metrics)} | "
                    + " | ".join(_cell(metrics.get(m)) for m in TABLE_METRICS)
                    + " |"
                )
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs/train_mix.yaml"))
    parser.add_argument("--work", default=str(REPO / "runs/train_mix_experiment"))
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.25, 0.5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=4, help="photo-grouped CV folds of the supplement (0: skip)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/train_mix.txt"))
    parser.add_argument("--plot", default=str(REPO / "docs/img/train_mix.png"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    os.chdir(REPO)  # the config's out_dir is relative to the repository, as for `inpaintbench generate`
    progress = not args.no_progress
    work = Path(args.work)
    started = time.perf_counter()

    run_dir, release, generate_s = build_release(Path(args.config), work, "0.1.0")
    summary = read_release_summary(release)
    by_label = summary["counts"]["label"]
    held_out = {b for item in summary["split_config"]["out_of_domain"] for b in item.get("backends") or ()}

    models, results_dir = work / "models", work / "results"
    trained: dict[float, tuple[Path, dict]] = {}
    validation: dict[float, dict] = {}
    for share in args.shares:
        t0 = time.perf_counter()
        trained[share] = train_share(release, share, args.seed, models, progress)
        print(f"share {share:g}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
        validation[share] = evaluate(
            str(release),
            "validation",
            "trained",
            {"model": str(trained[share][0])},
            None,
            results_dir / f"validation__trained_share_{share:g}.json",
            args.bootstrap,
            progress,
        )
    picked = pick_share(validation)
    model_path, meta = trained[picked]
    backends = meta["training_backends"]

    # test + test_ood_backend in one run: the domain breakdown splits them by the model's training backends and
    # gives the held-out backend the test split's pristine photos, so its image-level metrics are defined.
    test_glob = str(release / "data" / "default" / "test*.parquet")
    final: dict[str, dict[str, dict]] = {"release": {}, "cv": {}}
    final["release"]["trained"] = evaluate(test_glob, None, "trained", {"model": str(model_path)}, None,
                                           results_dir / "test__trained.json", args.bootstrap, progress)
    for name in BASELINES:
        final["release"][name] = evaluate(test_glob, None, name, {}, backends, results_dir / f"test__{name}.json",
                                          args.bootstrap, progress)
    cv_folds, cv_by_share = [], {}
    if args.folds:
        # Every share, so the table can show whether the mix matters on 130 images; the pick stays the one made on
        # validation above (these numbers choose nothing).
        for share in args.shares:
            submission, folds = cross_validate(run_dir, share, args.seed, args.folds, held_out, work, progress)
            cv_by_share[share] = evaluate_submission(str(run_dir), submission, "trained", backends,
                                                     results_dir / f"cv__trained_share_{share:g}.json", args.bootstrap,
                                                     progress)
            cv_folds = folds
        final["cv"]["trained"] = cv_by_share[picked]
        for name in BASELINES:  # training-free: scored on the whole build, same partition by backend
            final["cv"][name] = evaluate(str(run_dir), None, name, {}, backends, results_dir / f"cv__{name}.json",
                                         args.bootstrap, progress)

    splits = [s for s in ("train", "validation", "test", "test_ood_backend")]
    lines = [
        "# Trained pixel baseline: pristine/inpainted training mixes (benchmarks/train_mix.py)",
        "",
        f"build: {Path(args.config).relative_to(REPO) if Path(args.config).is_relative_to(REPO) else args.config} -> "
        f"{run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir} "
        f"(manifest sha256 {summary['generator']['manifest_sha256'][:16]}...; {summary['num_samples']} samples); "
        "released with the default split config (photo-disjoint train/validation/test, held-out backends "
        f"{', '.join(sorted(held_out))})",
        "release splits, inpainted/pristine: "
        + ", ".join(
            f"{s} {by_label.get('inpainted', {}).get(s, 0)}/{by_label.get('pristine', {}).get(s, 0)}" for s in splits
        ),
        f"model: HistGradientBoosting on {len(meta['feature_names'])} per-pixel features ({meta['features_version']}), "
        f"{meta['options']['pixels_per_image']} pixels per inpainted image, seed {args.seed}; trained on backends "
        f"{', '.join(backends)}; map at stride 2; image score = mean of the map's top 1%",
        f"intervals: 95% percentile bootstrap over images ({args.bootstrap} resamples, seed 0); images of one photo "
        "are correlated, so these intervals are narrower than a photo-level resample would give",
        "",
        "## 1. Validation split: picks the mix (pixel_f1_mean; ties: image_auc, then the smaller share)",
        "",
        "| pristine share | training pixels (inpainted imgs / pristine imgs) | fit s | "
        + " | ".join(TABLE_METRICS)
        + " |",
        "|---|---|---|" + "---|" * len(TABLE_METRICS),
    ]
    for share in args.shares:
        m, counts = validation[share]["metrics"], trained[share][1]["counts"]
        lines.append(
            f"| {share:g}{' (picked)' if share == picked else ''} | {counts['pixels']} "
            f"({counts['inpainted_images']} / {counts['pristine_images']}) | {trained[share][1]['timing']['fit_s']} | "
            + " | ".join(_cell(m.get(k)) for k in TABLE_METRICS)
            + " |"
        )
    lines += ["", f"validation: {_counts(validation[picked]['metrics'])} images (forged/pristine)", "",
              "## 2. Release test splits (model trained on train only)", ""]
    lines += _domain_tables(
        final["release"],
        picked,
        {
            "in_domain": "test (backends seen in training; = the test split)",
            "out_of_domain": f"test_ood_backend ({', '.join(sorted(held_out))}, never trained on) "
            "+ the test split's pristine photos",
        },
    )
    if cv_folds:
        lines += [f"## 3. Supplement: photo-grouped {args.folds}-fold cross-validation over the whole build "
                  f"(share {picked:g}, picked in 1)", "",
                  "folds (train samples / scored samples / scored photos): " + ", ".join(
                      f"{f['train_samples']}/{f['test_samples']}/{f['test_photos']}" for f in cv_folds), ""]
        lines += _domain_tables(final["cv"], picked, {
            "in_domain": "seen backends, photos never trained on + all pristine photos",
            "out_of_domain": f"held-out backend {', '.join(sorted(held_out))} + all pristine photos",
        })
        lines += ["### by generator (CV pooled predictions; each row with all pristine photos)", ""]
        lines += _backend_table(final["cv"], picked, backends)
        lines += [
            "### every pristine share under the same CV (analysis only: the pick above was made on validation)",
            "",
            "| pristine share | part | " + " | ".join(PANEL_METRICS) + " |",
            "|---|---|" + "---|" * len(PANEL_METRICS),
        ]
        for share, results in cv_by_share.items():
            for part in ("in_domain", "out_of_domain"):
                domain, intervals = _domain(results, part)
                lines.append(f"| {share:g}{' (picked)' if share == picked else ''} | {part} | "
                             + " | ".join(_cell(domain.get(m), (intervals or {}).get(m)) for m in PANEL_METRICS) + " |")
        lines.append("")
    lines.append(
        f"total {time.perf_counter() - started:.0f} s (generate step {generate_s:.0f} s: 0 when already built)"
    )
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    if cv_folds:
        plot(Path(args.plot), validation, final, picked)
    print(text)
    print(f"written: {args.out}" + (f", {args.plot}" if cv_folds else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
