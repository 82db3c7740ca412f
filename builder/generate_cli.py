"""``inpaintbench generate``: build (or resume) a dataset of shards; one process or ``accelerate launch`` N.

Precedence: built-in defaults < ``--config FILE`` (YAML or JSON, keys of ``GenerateConfig``) < command-line flags.

    inpaintbench generate                                   # the embedded set -> runs/embedded
    inpaintbench generate --images DIR --annotations FILE   # embedded + a COCO-format source
    inpaintbench generate --no-embedded --images DIR --annotations FILE --out runs/coco
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 \\
        --mixed_precision no --dynamo_backend no -m inpaintbench.cli generate --out runs/embedded
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from typing import Any

from .config import ConfigError, GenerateConfig, parse_backend_option

# flag dest -> config key, for flags that map one-to-one
_SIMPLE_OVERRIDES = {
    "seed": "seed",
    "max_images": "max_images",
    "samples_per_shard": "samples_per_shard",
    "pristine_ratio": "pristine_ratio",
    "objects_per_image": "objects_per_image",
    "edits_per_object": "edits_per_object",
    "max_image_side": "max_image_side",
    "planner": "planner",
    "out": "out_dir",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate inpainted/pristine samples into Parquet shards + manifest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="YAML/JSON config (keys of GenerateConfig)")
    parser.add_argument("--out", metavar="DIR", help="output directory (default: runs/embedded)")
    parser.add_argument("--seed", type=int, help="global seed (default 0)")
    parser.add_argument("--images", metavar="DIR", help="folder of photos of a COCO-format source (with --annotations)")
    parser.add_argument("--annotations", metavar="FILE", help="COCO JSON of that source (with --images)")
    parser.add_argument("--source-name", default="coco", help="name of the --images source (prefixes its sample ids)")
    parser.add_argument("--no-embedded", action="store_true", help="drop the embedded sample set from the sources")
    parser.add_argument("--max-images", type=int, metavar="N", help="only the first N images of the plan")
    parser.add_argument("--samples-per-shard", type=int, metavar="N")
    parser.add_argument("--pristine-ratio", type=float, metavar="R", help="target fraction of pristine samples")
    parser.add_argument("--objects-per-image", type=int, metavar="N")
    parser.add_argument("--edits-per-object", type=int, metavar="N")
    parser.add_argument("--max-image-side", type=int, metavar="PX")
    parser.add_argument("--planner", help="edit planner name (simple, saor, ...)")
    parser.add_argument(
        "--backend",
        action="append",
        metavar="NAME[:WEIGHT]",
        help="inpainting backend of the mix (repeat for several; replaces the config's mix; params via --config)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> GenerateConfig:
    config = GenerateConfig.from_file(args.config) if args.config else GenerateConfig()
    changes: dict[str, Any] = {}
    for dest, key in _SIMPLE_OVERRIDES.items():
        value = getattr(args, dest, None)
        if value is not None:
            changes[key] = value
    sources = list(config.sources)
    if args.no_embedded:
        sources = [spec for spec in sources if spec.get("type") != "embedded"]
    if (args.images is None) != (args.annotations is None):
        raise ConfigError("--images and --annotations go together (a folder of photos and its COCO JSON)")
    if args.images is not None:
        sources.append(
            {"type": "coco", "name": args.source_name, "images": args.images, "annotations": args.annotations}
        )
    if not sources:
        raise ConfigError(
            "no sources left: --no-embedded needs --images DIR --annotations FILE (or sources in --config)"
        )
    changes["sources"] = sources
    if args.backend:
        changes["backends"] = [vars(parse_backend_option(text)) for text in args.backend]
    return config.replace(**changes)


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items()) or "none"


def print_summary(result, stream=None) -> None:
    stream = stream or sys.stdout  # looked up per call: the default must follow a redirected stdout
    manifest = result.manifest
    counts, skipped = manifest["counts"], manifest["skipped"]
    print(f"\nShards: {result.out_dir / 'data'} ({len(manifest['shards'])} Parquet files)", file=stream)
    print(f"Manifest: {result.manifest_path}", file=stream)
    print(f"Samples: {counts['total']} from {manifest['work']['images']} images", file=stream)
    print(f"  by label:   {_counts_line(counts['by_label'])}", file=stream)
    print(f"  by backend: {_counts_line(counts['by_backend'])}", file=stream)
    print(f"Skipped: {skipped['total']} ({_counts_line(skipped['by_stage'])})", file=stream)
    print(
        f"This run wrote {result.shards_written} shard(s) and kept {result.shards_reused} complete one(s)", file=stream
    )


# Storage refusing a write: no space or quota, read-only, a file-size limit, no permission.
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


def run(args: argparse.Namespace) -> int:
    # Imported here so `inpaintbench --help` stays fast.
    from .generate import OutputDirConflict, make_state, run_generation
    from .image_samples import BackendLoadError
    from .sources import SourceConfigError
    from .writer_lock import OutputDirBusy

    # A file-size limit (ulimit -f) otherwise kills the process with SIGXFSZ before any message: ignored, the write
    # fails with EFBIG instead and is reported below like any other storage error.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        config = config_from_args(args)
        state = make_state()
        result = run_generation(config, state=state, progress=not args.no_progress)
        if state.num_processes > 1:
            # Past the run's last collective: stop gloo's threads before any rank exits, or a rank that exits
            # first can abort with "terminate called without an active exception".
            state.destroy_process_group()
    except (ConfigError, SourceConfigError, OutputDirConflict, OutputDirBusy, BackendLoadError) as error:
        print(f"inpaintbench generate: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            raise
        # Every file is written to a temp name and renamed (atomic_io), so nothing half-written stays: re-running
        # the same command once there is room (or rights) resumes from the shards already complete.
        where = error.filename or "the output folder"
        print(
            f"inpaintbench generate: error: {where}: {error.strerror or error} "
            f"({errno.errorcode.get(error.errno, '?')}); "
            "nothing half-written was kept: free space or fix the storage, then run the same command to resume",
            file=sys.stderr,
        )
        return 2
    if state.is_main_process:
        print_summary(result)
    return 0
