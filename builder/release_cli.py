"""``inpaintbench publish``: build a versioned release from a generator output and push it to the Hub (or
write it to a local folder with ``--to``)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="build a versioned release (Parquet per config/split + dataset card) and push it to the Hub, tagged vX.Y.Z",
        description=__doc__,
    )
    parser.add_argument("--repo", help="Hub dataset repo, ORG/NAME (required unless --to)")
    parser.add_argument("--version", required=True, help="release version X.Y.Z; tagged vX.Y.Z, never overwritten")
    parser.add_argument("--from", dest="from_dir", default="runs/embedded", help="generator output dir (manifest.json + the data/*.parquet shards it lists); default: the generator's default")
    parser.add_argument("--split-config", default=None, help="split config YAML (default: builder/release/default_splits.yaml)")
    parser.add_argument("--to", default=None, help="write the release to this local folder instead of pushing")
    parser.add_argument("--max-shard-mb", type=float, default=256.0, help="target size of one release Parquet file")
    parser.add_argument("--assessment", metavar="KEY", default=None,
                        help="judge setup (judge_key) of <from>/assessments/deceptiveness.parquet to release; "
                        "needed only when it holds several")
    parser.add_argument("--private", action="store_true", help="create the Hub repo private (if it does not exist)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .release.assessments import AssessmentError
    from .release.build import prepare_release
    from .release.inputs import GeneratorOutputError
    from .release.layout import ReleaseLayoutError
    from .release.publish import PublishError, publish_release, version_tag
    from .release.splits import SplitConfigError, default_split_config_path, load_split_config
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if not args.repo and not args.to:
        print("inpaintbench publish: give --repo ORG/NAME (push to the Hub) or --to DIR (local release)", file=sys.stderr)
        return 2
    if args.repo and args.repo.count("/") != 1:
        print(f"inpaintbench publish: --repo {args.repo!r} must be ORG/NAME", file=sys.stderr)
        return 2
    try:
        version_tag(args.version)
        split_config = load_split_config(args.split_config or default_split_config_path())
        max_bytes = int(args.max_shard_mb * 1024 * 1024)
        dest, summary, reused = prepare_release(
            args.from_dir, split_config, args.version, args.repo, args.to, max_bytes, args.assessment
        )
        state = "reused" if reused else "built"
        print(f"release v{args.version} {state} at {dest}: {summary['num_samples']} samples, "
              + ", ".join(f"{s} {n['total']}" for s, n in summary["counts"]["split"].items())
              + (f"; deceptiveness from judge setup {summary['assessment']['judge_key']}" if "assessment" in summary else ""))
        if args.to:
            return 0
        result = publish_release(dest, args.repo, args.version, private=args.private)
    except (GeneratorOutputError, SplitConfigError, ReleaseLayoutError, AssessmentError, PublishError) as exc:
        print(f"inpaintbench publish: {exc}", file=sys.stderr)
        return 1
    except (HfHubHTTPError, OfflineModeIsEnabled) as exc:  # auth, permissions, HF_HUB_OFFLINE=1, ...
        first_line = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        print(f"inpaintbench publish: the Hub refused or could not be reached ({first_line}); nothing was tagged",
              file=sys.stderr)
        return 1
    print(
        f"published {result.repo_id}@{result.tag} (commit {result.commit[:12]}): {len(result.uploaded)} files uploaded, "
        f"{len(result.unchanged)} unchanged, {len(result.deleted)} stale removed"
    )
    return 0
