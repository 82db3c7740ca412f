"""A CNN localisation baseline trained on InpaintBench's generated data, on CPU, next to the ``trained``
(HistGradientBoosting) baseline and ELA / noise, all measured in this same run.

1. build ``configs/train_mix.yaml`` and release it with the default split config (as ``train_mix.py``):
   photo-disjoint train / validation / test, backend ``opencv_ns`` held out whole in ``test_ood_backend``;
2. train the CNN (EfficientNet-Lite0 + U-Net decoder, ``harness.training.cnn``) on ``train`` only, the epoch
   kept picked on ``validation``; twice: ImageNet-initialised encoder and random init (the ablation);
3. train the ``trained`` baseline on ``train`` with pristine share 0.5 (the share ``train_mix.py`` picked on
   validation; not re-picked here);
4. score all of them on ``test`` + ``test_ood_backend`` in one evaluation each (the harness's domain
   breakdown by the model's training backends: in-domain = the test split, out-of-domain = the held-out
   backend + the test split's pristine photos), 95% bootstrap intervals over images;
5. robustness: the same evaluations with the detector's images through ``jpeg:75`` and ``resize:0.5``;
6. a supplement, because 15 photos leave test one photo and ``test_ood_backend`` one forgery (it holds no edit
   of a train photo): photo-grouped 4-fold cross-validation over the whole build for the CNN (ImageNet init,
   fixed epochs) and the trained baseline, pooled out-of-fold predictions scored by the harness.

Nothing is tuned on test: the CNN's options below were fixed before any test number was seen, and the
epoch is chosen on validation. CNN options are fixed here: crop 256, batch 8, pristine ratio 0.25 (a quarter
of each epoch's crops from pristine photos; validation holds one pristine photo, too few to pick it).

    .venv/bin/python benchmarks/train_cnn.py              # ~20-25 min on 2 shared cores (+ the build on a first run)
    .venv/bin/python benchmarks/train_cnn.py --epochs 6 --no-random-init --perturb --folds 0

Writes benchmarks/results/train_cnn.txt, docs/img/train_cnn.png (training curves) and, under --work, the
release, the checkpoints / models and one results JSON per evaluation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from inpaintbench.folders import read_release_summary

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import train_mix  # noqa: E402  the release build, the trained baseline's fit and the table helpers are shared

TRAINED_SHARE = 0.5  # picked on validation by benchmarks/train_mix.py (benchmarks/results/train_mix.txt)
ROBUST_METRICS = ("pixel_f1_mean", "pixel_auc_pooled", "image_auc")


def train_cnn_model(release: Path, init: str, args, models: Path) -> tuple[Path, dict]:
    from inpaintbench.harness.training.cnn.checkpoint import save_checkpoint
    from inpaintbench.harness.training.cnn.trainer import CNNTrainOptions, train_cnn
    from inpaintbench.harness.training.cnn.validation import open_validation_split
    from inpaintbench.harness.training.data import open_training_data

    training = open_training_data(release, split="train")
    opts = CNNTrainOptions(epochs=args.epochs, crop=args.crop, batch=args.batch, pristine_ratio=args.pristine_ratio,
                           seed=args.seed, init=init, progress=not args.no_progress)
    result = train_cnn(training, opts, open_validation_split(release))
    return save_checkpoint(models / f"cnn_{init}.pt", result.state_dict, result.meta), result.meta


def evaluate(
    data: str, detector: str, params: dict, train_backends, out: Path, args, perturbation: str = "none"
) -> dict:
    from inpaintbench.atomic_io import atomic_write_json
    from inpaintbench.harness import evaluate as evaluate_detector

    started = time.perf_counter()
    results = evaluate_detector(data, detector=detector, params=params, train_backends=train_backends,
                                bootstrap=args.bootstrap, seed=0, progress=not args.no_progress, timeout_s=300,
                                perturb=perturbation)
    if results["failures"]["count"]:
        raise SystemExit(f"{detector} on {data} ({perturbation}): {results['failures']['count']} failed samples")
    atomic_write_json(out, results)
    print(f"evaluated {detector} {params or ''} [{perturbation}] in {time.perf_counter() - started:.0f} s", flush=True)
    return results


def photo_of(sample_id: str) -> str:
    """The photo a sample was made from: ``inpaintbench.ids.make_sample_id`` is ``source-image-<hash>``."""
    return sample_id.rsplit("-", 1)[0]


def cross_validate(run_dir: Path, k: int, held_out: set[str], args, work: Path) -> tuple[dict[str, Path], list[dict]]:
    """Photo-grouped K-fold over the whole build: per fold, the CNN (ImageNet init, ``--cv-epochs``, last epoch:
    there are no spare photos for a validation split) and the trained baseline are fitted on the other photos'
    samples from the seen backends (never ``opencv_ns``) and predict the fold's samples. Returns one folder
    submission (maps/<id>.npy + scores.csv) per model, each sample predicted once by models that never saw its photo.
    """
    import csv
    import hashlib

    import numpy as np
    from tqdm.auto import tqdm

    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.harness.detectors import create_detector
    from inpaintbench.harness.records import rgb_array
    from inpaintbench.harness.training.cnn.checkpoint import save_checkpoint
    from inpaintbench.harness.training.cnn.trainer import CNNTrainOptions, train_cnn
    from inpaintbench.harness.training.data import TrainingData
    from inpaintbench.harness.training.model_file import save_model
    from inpaintbench.harness.training.trainer import TrainOptions, train_detector

    data = open_eval_data(run_dir)
    ids, backends = data.dataset["sample_id"], data.dataset["backend"]
    photos = sorted({photo_of(s) for s in ids}, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    fold_of = {photo: i % k for i, photo in enumerate(photos)}
    names = {"cnn": "cnn (imagenet init)", "trained": f"trained (share {TRAINED_SHARE:g})"}
    submissions = {name: work / f"cv_submission_{key}" for key, name in names.items()}
    for folder in submissions.values():
        (folder / "maps").mkdir(parents=True, exist_ok=True)
    scores = {name: {} for name in names.values()}
    per_fold = []
    view = data.dataset.select_columns(["sample_id", "image"])
    for fold in range(k):
        train_idx = [i for i, s in enumerate(ids) if fold_of[photo_of(s)] != fold and backends[i] not in held_out]
        test_idx = [i for i, s in enumerate(ids) if fold_of[photo_of(s)] == fold]
        assert not {photo_of(ids[i]) for i in train_idx} & {photo_of(ids[i]) for i in test_idx}, "photo leak"
        subset = data.dataset.select(train_idx)
        identity = {**data.identity, "split": f"cv{k}-fold{fold}-train", "num_samples": len(subset)}
        training = TrainingData(subset, identity, tuple(sorted({b for b in subset["backend"] if b != "none"})))
        t0 = time.perf_counter()
        result = train_cnn(
            training,
            CNNTrainOptions(
                epochs=args.cv_epochs,
                crop=args.crop,
                batch=args.batch,
                pristine_ratio=args.pristine_ratio,
                seed=args.seed,
                init="imagenet",
                progress=not args.no_progress,
            ),
        )
        cnn_path = save_checkpoint(work / "models" / f"cv{k}_fold{fold}_cnn.pt", result.state_dict, result.meta)
        cnn_s = time.perf_counter() - t0
        estimator, meta = train_detector(training, TrainOptions(pristine_share=TRAINED_SHARE, seed=args.seed,
                                                                progress=not args.no_progress))
        trained_path = save_model(work / "models" / f"cv{k}_fold{fold}_trained.joblib", estimator, meta)
        detectors = {names["cnn"]: create_detector("cnn", model=str(cnn_path)),
                     names["trained"]: create_detector("trained", model=str(trained_path))}
        for i in tqdm(test_idx, desc=f"cv fold {fold + 1}/{k}: predict", disable=args.no_progress, unit="img"):
            row = view[i]
            image = rgb_array(row["image"])
            for name, detector in detectors.items():
                out = detector.predict(image)
                np.save(submissions[name] / "maps" / f"{row['sample_id']}.npy", out["map"].astype(np.float32))
                scores[name][row["sample_id"]] = out["score"]
        per_fold.append({"fold": fold, "train_samples": len(train_idx), "test_samples": len(test_idx),
                         "test_photos": len({photo_of(ids[i]) for i in test_idx}), "cnn_train_s": round(cnn_s)})
        print(f"cv fold {fold + 1}/{k}: trained on {len(train_idx)} samples (cnn {cnn_s:.0f} s), predicted "
              f"{len(test_idx)}", flush=True)
    for name, folder in submissions.items():
        with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sample_id", "score"])
            for sample_id in ids:
                writer.writerow([sample_id, repr(float(scores[name][sample_id]))])
    return submissions, per_fold


def plot_curves(path: Path, metas: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, f1_ax) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for name, meta in metas.items():
        epochs = [h["epoch"] for h in meta["history"]]
        line, = loss_ax.plot(epochs, [h["train_loss"] for h in meta["history"]], "o-", ms=3, label=name)
        f1 = [h.get("pixel_f1_mean") for h in meta["history"]]
        f1_ax.plot(epochs, [float("nan") if v is None else v for v in f1], "o-", ms=3,
                   color=line.get_color(), label=name)
        f1_ax.axvline(meta["best_epoch"], color=line.get_color(), ls=":", lw=1)
    loss_ax.set(title="train loss (BCE + Dice, mean over the epoch)", xlabel="epoch")
    f1_ax.set(title="validation pixel F1 (mean over forged images)", xlabel="epoch", ylim=(0, 1))
    f1_ax.text(0.02, 0.95, "dotted: epoch kept", transform=f1_ax.transAxes, fontsize=7, va="top")
    loss_ax.legend(fontsize=8)
    f1_ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs/train_mix.yaml"))
    parser.add_argument("--work", default=str(REPO / "runs/train_cnn_experiment"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--pristine-ratio", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-random-init", action="store_true", help="skip the random-init ablation")
    parser.add_argument("--perturb", nargs="*", default=["jpeg:75", "resize:0.5"])
    parser.add_argument("--folds", type=int, default=4, help="photo-grouped CV supplement folds (0: skip)")
    parser.add_argument("--cv-epochs", type=int, default=6, help="CNN epochs per CV fold (last epoch kept)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training (default 2)")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/train_cnn.txt"))
    parser.add_argument("--plot", default=str(REPO / "docs/img/train_cnn.png"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    os.chdir(REPO)  # the config's out_dir is relative to the repository
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    started = time.perf_counter()
    run_dir, release, generate_s = train_mix.build_release(Path(args.config), work, "0.1.0")

    summary = read_release_summary(release)
    by_label = summary["counts"]["label"]
    held_out = sorted({b for item in summary["split_config"]["out_of_domain"] for b in item.get("backends") or ()})
    models, results_dir = work / "models", work / "results"

    cnn: dict[str, tuple[Path, dict]] = {}
    for init in ("imagenet",) if args.no_random_init else ("imagenet", "random"):
        t0 = time.perf_counter()
        cnn[init] = train_cnn_model(release, init, args, models)
        print(
            f"cnn {init}: trained in {time.perf_counter() - t0:.0f} s, epoch {cnn[init][1]['best_epoch']} kept",
            flush=True,
        )
    t0 = time.perf_counter()
    trained_model, trained_meta = train_mix.train_share(release, TRAINED_SHARE, args.seed, models, not args.no_progress)
    trained_s = time.perf_counter() - t0
    backends = cnn["imagenet"][1]["training_backends"]
    assert backends == trained_meta["training_backends"], "both models were trained on the same split"

    test_glob = str(release / "data" / "default" / "test*.parquet")
    entries = [(f"cnn ({init} init)", "cnn", {"model": str(path)}, None) for init, (path, _) in cnn.items()]
    entries += [(f"trained (share {TRAINED_SHARE:g})", "trained", {"model": str(trained_model)}, None)]
    entries += [(name, name, {}, backends) for name in train_mix.BASELINES]
    final: dict[str, dict[str, dict]] = {}
    for spec in ["none", *args.perturb]:
        final[spec] = {}
        for label, detector, params, train_backends in entries:
            if spec != "none" and detector == "cnn" and "random" in label:
                continue  # robustness for the ImageNet model only: the ablation is a clean-track question
            tag = label.split(" ")[0] + ("_" + label.split("(")[1].split(" ")[0] if "cnn" in label else "")
            out = results_dir / f"test__{tag}__{spec.replace(':', '-')}.json"
            final[spec][label] = evaluate(test_glob, detector, params, train_backends, out, args, spec)

    cv_results: dict[str, dict] = {}
    cv_folds: list[dict] = []
    if args.folds:
        submissions, cv_folds = cross_validate(run_dir, args.folds, set(held_out), args, work)
        for name, folder in submissions.items():
            cv_results[name] = train_mix.evaluate_submission(
                str(run_dir), folder, name.split(" ")[0], backends, results_dir / f"cv__{folder.name}.json",
                args.bootstrap, not args.no_progress)
        for name in train_mix.BASELINES:  # training-free: the whole build, the same partition by backend
            cv_results[name] = evaluate(str(run_dir), name, {}, backends, results_dir / f"cv__{name}.json", args)

    lines = [
        "# CNN localisation baseline on generated data (benchmarks/train_cnn.py)",
        "",
        f"build: configs/train_mix.yaml -> {run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir} "
        f"(manifest sha256 {summary['generator']['manifest_sha256'][:16]}...; {summary['num_samples']} samples); "
        f"default split config (photo-disjoint train/validation/test; held-out backend {', '.join(held_out)})",
        "release splits, inpainted/pristine: "
        + ", ".join(
            f"{s} {by_label.get('inpainted', {}).get(s, 0)}/{by_label.get('pristine', {}).get(s, 0)}"
            for s in ("train", "validation", "test", "test_ood_backend")
        ),
        f"cnn: EfficientNet-Lite0 encoder + U-Net decoder ({cnn['imagenet'][1]['model_version']}), "
        f"{args.epochs} epochs "
        f"of one {args.crop} px crop per inpainted train image + pristine crops at ratio {args.pristine_ratio:g}, "
        f"batch {args.batch}, AdamW (decoder lr 1e-3, ImageNet encoder x0.1), cosine schedule, BCE + Dice, seed "
        f"{args.seed}; epoch kept on validation pixel F1; whole-image inference (reflect pad to x32); image score = "
        "mean of the map's top 1%",
        f"trained: HistGradientBoosting on per-pixel features, pristine share {TRAINED_SHARE:g} (picked on validation "
        f"by train_mix.py), fitted in this run in {trained_s:.0f} s; ela / noise: training-free",
        f"training backends (in-domain): {', '.join(backends)}; intervals: 95% percentile bootstrap over images "
        f"({args.bootstrap} resamples, seed 0); images of one photo are correlated, so these are narrower than a "
        "photo-level resample would give",
        "",
        "## 1. Training (validation split: 5 forged / 1 pristine image)",
        "",
        "| model | epochs | epoch kept | train s | train loss (first -> kept) "
        "| val pixel F1 (first -> kept -> last) | val image AUC (kept) |",
        "|---|---|---|---|---|---|---|",
    ]
    for init, (_, meta) in cnn.items():
        h = meta["history"]
        kept = h[meta["best_epoch"] - 1]
        lines.append(
            f"| cnn ({init} init) | {len(h)} | {meta['best_epoch']} | {meta['timing']['train_s']:.0f} | "
            f"{h[0]['train_loss']:.3f} -> {kept['train_loss']:.3f} | {train_mix._cell(h[0].get('pixel_f1_mean'))} -> "
            f"{train_mix._cell(kept.get('pixel_f1_mean'))} -> {train_mix._cell(h[-1].get('pixel_f1_mean'))} | "
            f"{train_mix._cell(kept.get('image_auc'))} |"
        )
    lines += ["", "## 2. Test splits, clean images (models trained on train only)", ""]
    for part, title in (("in_domain", "test (backends seen in training; = the test split)"),
                        ("out_of_domain", f"test_ood_backend ({', '.join(held_out)}, never trained on) + the test "
                                          "split's pristine photos")):
        lines += [f"### {title}", ""] + train_mix._header()
        for label, results in final["none"].items():
            domain, intervals = train_mix._domain(results, part)
            if domain is not None:
                lines.append(train_mix._row(label, domain, intervals, train_mix._counts(domain)))
        lines.append("")
    if args.perturb:
        lines += ["## 3. Robustness: the detector's images laundered (harness --perturb), same models", "",
                  "| detector | perturbation | part | " + " | ".join(ROBUST_METRICS) + " |",
                  "|---|---|---|" + "---|" * len(ROBUST_METRICS)]
        for label in final[args.perturb[0]]:
            for spec in ["none", *args.perturb]:
                for part in ("in_domain", "out_of_domain"):
                    domain, intervals = train_mix._domain(final[spec][label], part)
                    if domain is not None:
                        lines.append(f"| {label} | {spec} | {part} | " + " | ".join(
                            train_mix._cell(domain.get(m), (intervals or {}).get(m)) for m in ROBUST_METRICS) + " |")
        lines.append("")
    if cv_results:
        lines += [
            f"## 4. Supplement: photo-grouped {args.folds}-fold cross-validation over the whole build",
            "",
            f"Each fold's CNN (ImageNet init, {args.cv_epochs} epochs, last epoch) and trained model are fitted on "
            "the other photos' samples from the seen backends and predict the fold's photos; every sample is "
            "scored once, as one folder submission, by the harness. Folds (train samples / scored samples / "
            "scored photos / cnn train s): "
            + ", ".join(
                f"{f['train_samples']}/{f['test_samples']}/{f['test_photos']}/{f['cnn_train_s']}" for f in cv_folds
            ),
            "",
        ]
        for part, title in (("in_domain", "seen backends, photos never trained on + all pristine photos"),
                            ("out_of_domain", f"held-out backend {', '.join(held_out)} + all pristine photos")):
            lines += [f"### {title}", ""] + train_mix._header()
            for label, results in cv_results.items():
                domain, intervals = train_mix._domain(results, part)
                if domain is not None:
                    lines.append(train_mix._row(label, domain, intervals, train_mix._counts(domain)))
            lines.append("")
    lines.append(f"total {time.perf_counter() - started:.0f} s (generate step {generate_s:.0f} s: 0 when already "
                 f"built; torch threads {args.threads}, a 2-core machine shared with other work)")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    plot_curves(Path(args.plot), {f"{init} init": meta for init, (_, meta) in cnn.items()})
    print(text)
    print(f"written: {args.out}, {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
