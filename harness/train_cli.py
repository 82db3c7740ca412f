"""``inpaintbench train-detector``: fit the trained pixel-level baseline on a training split and save it.

    inpaintbench train-detector --data runs/train_mix_release --out models/trained.joblib --pristine-ratio 0.25
    inpaintbench train-detector --data runs/embedded --out models/embedded.joblib   # release split rule applied
    inpaintbench evaluate --data runs/train_mix_release --split test --detector trained \\
        --detector-params '{"model": "models/trained.joblib"}'

Data: a release folder (its train split) or a generator output dir (the rows the release's split rule puts in
train, with the default split config or --split-config). Only the train split: any other --split is refused.
Writes MODEL (joblib) and MODEL.json (features version, training data identity, seed, backends, mix).
Exit codes: 0 trained and saved; 2 unusable input (data, split, options) or an output that cannot be written.
"""

from __future__ import annotations

import argparse
import sys

from inpaintbench.cli_grammar import EXIT_BAD_INPUT, add_data_argument, add_renamed


def register(subparsers) -> None:
    parser = subparsers.add_parser("train-detector", help="train the pixel-level baseline detector on a train split",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "release folder (its train split) or generator output dir")
    parser.add_argument(
        "--out", required=True, metavar="MODEL", help="model file to write (.joblib; sidecar MODEL.json)"
    )
    parser.add_argument("--dataset-config", dest="config", metavar="NAME",
                        help="the release's dataset config (release folders only; default: default)")
    add_renamed(parser, {"--config": "--dataset-config NAME (--config names a file in every command)"})
    parser.add_argument("--split", default="train", help="must be train (anything else is refused)")
    parser.add_argument("--split-config", metavar="YAML",
                        help="split config applied to a generator output dir (default: the release's default)")
    parser.add_argument("--pristine-ratio", type=float, default=0.0, metavar="R",
                        help="share of training pixels drawn from pristine photos, in [0, 1) (default 0)")
    parser.add_argument("--pixels-per-image", type=int, default=4000, metavar="N",
                        help="pixels sampled per inpainted image, half inside the mask (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="pixel sampling and model seed (default 0)")
    parser.add_argument("--max-iter", type=int, default=200, metavar="N", help="boosting iterations (default 200)")
    parser.add_argument("--no-progress", action="store_true")
    # --kind cnn: the convolutional baseline (harness.training.cnn); its options below, ignored by --kind trained
    parser.add_argument("--kind", choices=("trained", "cnn"), default="trained",
                        help="trained: per-pixel features + gradient boosting (default); cnn: EfficientNet-Lite0 U-Net "
                             "(--out MODEL.pt; --pristine-ratio is then the share of crops from pristine photos)")
    from inpaintbench.harness.training.cnn.command import add_cnn_arguments

    add_cnn_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.kind == "cnn":
        from inpaintbench.harness.training.cnn.command import run_cnn

        return run_cnn(args)
    from inpaintbench.harness.data import DataError
    from inpaintbench.harness.training.data import TrainingDataError, check_training_split, open_training_data
    from inpaintbench.harness.training.model_file import save_model, sidecar_path
    from inpaintbench.harness.training.trainer import TrainOptions, train_detector

    try:
        check_training_split(args.split)  # before any data is read
        opts = TrainOptions(pristine_share=args.pristine_ratio, pixels_per_image=args.pixels_per_image,
                            seed=args.seed, max_iter=args.max_iter, progress=not args.no_progress)
        training = open_training_data(args.data, args.config, args.split, args.split_config)
        print(f"training on {training.identity.get('path')} split {training.identity['split']}: "
              f"{len(training.dataset)} samples, backends {', '.join(training.backends) or '-'}")
        estimator, meta = train_detector(training, opts)
    except (TrainingDataError, DataError, ValueError) as exc:
        print(f"inpaintbench train-detector: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        path = save_model(args.out, estimator, meta)
    except OSError as exc:
        print(f"inpaintbench train-detector: cannot write {args.out} ({exc})", file=sys.stderr)
        return EXIT_BAD_INPUT
    counts = meta["counts"]
    print(
        f"saved {path} (+ {sidecar_path(path).name}): {counts['pixels']} pixels from {counts['inpainted_images']} "
        f"inpainted and {counts['pristine_images']} pristine images (pristine share "
        f"{counts['achieved_pristine_share']}), "
        f"features {meta['timing']['features_s']} s, fit {meta['timing']['fit_s']} s"
    )
    return 0
