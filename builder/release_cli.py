"""``inpaintbench publish``: build a versioned release from a generator output and push it to the Hub (or
write it to a local folder with ``--out``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inpaintbench.cli_grammar import add_data_argument, add_renamed
from inpaintbench.folders import RELEASE_SUMMARY_NAME


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="build a versioned release (Parquet per config/split + dataset card) and push it to the Hub, tagged "
             "vX.Y.Z",
        description=__doc__,
    )
    parser.add_argument("--repo", help="Hub dataset repo, ORG/NAME (required unless --out)")
    parser.add_argument("--version", required=True, help="release version X.Y.Z; tagged vX.Y.Z, never overwritten")
    add_data_argument(parser, "the run (generator output: manifest.json + the data/*.parquet shards it lists) to "
                      "release; default: the generator's default", default="runs/embedded", refuse_positional=False)
    parser.add_argument(
        "--split-config", default=None, help="split config YAML (default: builder/release/default_splits.yaml)"
    )
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="write the release to this local folder instead of pushing")
    add_renamed(parser, {"--from": "--data DIR", "--to": "--out DIR"})
    parser.add_argument("--max-shard-mb", type=float, default=256.0, help="largest size of one release Parquet file")
    parser.add_argument("--min-files-per-split", type=int, default=None,
                        help="write each split as at least this many Parquet files (fewer only for fewer rows), so "
                        "DataLoader workers each get files to stream; default 8")
    parser.add_argument("--assessment", metavar="KEY", default=None,
                        help="judge setup (judge_key) of <data>/assessments/deceptiveness.parquet to release; "
                        "needed only when it holds several")
    parser.add_argument("--allow-shortcut", metavar="REASON", default=None,
                        help="release even if the file-level shortcut audit is above its bound; the reason is "
                        "written into release.json and the card (see inpaintbench audit)")
    parser.add_argument("--private", action="store_true", help="create the Hub repo private (if it does not exist)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    from .release.assessments import AssessmentError
    from .release.build import default_staging_dir, prepare_release
    from .release.hub_checks import HubCheckError, preflight
    from .release.index import SampleIdError
    from .release.inputs import GeneratorOutputError
    from .release.layout import MIN_FILES_PER_SPLIT, ReleaseLayoutError
    from .release.publish import PublishError, PublishRefused, publish_release, version_tag
    from .release.splits import SplitConfigError, default_split_config_path, load_split_config
    from .release.versioning import VersionError

    if not args.repo and not args.out:
        print(
            "inpaintbench publish: give --repo ORG/NAME (push to the Hub) or --out DIR (local release)", file=sys.stderr
        )
        return 2
    if args.repo and args.repo.count("/") != 1:
        print(f"inpaintbench publish: --repo {args.repo!r} must be ORG/NAME", file=sys.stderr)
        return 2
    min_files = MIN_FILES_PER_SPLIT if args.min_files_per_split is None else args.min_files_per_split
    if min_files < 1 or args.max_shard_mb <= 0:
        print("inpaintbench publish: --min-files-per-split must be >= 1 and --max-shard-mb > 0", file=sys.stderr)
        return 2
    try:
        version_tag(args.version)
    except PublishError as exc:
        print(f"inpaintbench publish: --version: {exc}", file=sys.stderr)
        return 2
    try:
        split_config = load_split_config(args.split_config or default_split_config_path())
        max_bytes = int(args.max_shard_mb * 1024 * 1024)
        api = published = None
        if not args.out:
            # Before the build, which can take hours: a wrong token, an existing tag or an old version fail now.
            api = HfApi()
            published = preflight(api, args.repo, args.version)
            previous = published.latest_tag or "none"
            print(
                f"publish: {args.repo} checked on the Hub (token accepted; latest release {previous}; "
                f"v{args.version} is free)"
            )
        staged = Path(args.out) if args.out else default_staging_dir(args.data, args.version, args.repo)
        had_release = (staged / RELEASE_SUMMARY_NAME).is_file()
        dest, summary, reused = prepare_release(
            args.data, split_config, args.version, args.repo, args.out, max_bytes, args.assessment, min_files,
            args.allow_shortcut,
        )
        state = (
            "reused"
            if reused
            else "rebuilt (the folder held one built from other inputs or options)"
            if had_release
            else "built"
        )
        print(
            f"release v{args.version} {state} at {dest}: {summary['num_samples']} samples, "
            + ", ".join(f"{s} {n['total']}" for s, n in summary["counts"]["split"].items())
            + (
                f"; deceptiveness from judge setup {summary['assessment']['judge_key']}"
                if "assessment" in summary
                else ""
            )
        )
        if args.out:
            return 0
        result = publish_release(dest, args.repo, args.version, api=api, private=args.private, published=published)
    except (GeneratorOutputError, SplitConfigError, ReleaseLayoutError, AssessmentError, SampleIdError) as exc:
        print(f"inpaintbench publish: {exc}", file=sys.stderr)
        return 2  # bad input: the message names the file
    except (HubCheckError, VersionError, PublishRefused) as exc:  # no or rejected token, a tag that exists, a
        print(f"inpaintbench publish: {exc}", file=sys.stderr)  # version that does not follow, a foreign folder
        return 2
    except PublishError as exc:  # the Hub failed during the upload or the tagging
        print(f"inpaintbench publish: {exc}", file=sys.stderr)
        return 1
    except (HfHubHTTPError, OfflineModeIsEnabled) as exc:  # auth, permissions, HF_HUB_OFFLINE=1, ...
        first_line = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        print(f"inpaintbench publish: the Hub refused or could not be reached ({first_line}); nothing was tagged",
              file=sys.stderr)
        return 1
    print(
        f"published {result.repo_id}@{result.tag} (commit {result.commit[:12]}): {len(result.uploaded)} files "
        f"uploaded, {len(result.unchanged)} unchanged, {len(result.deleted)} stale removed"
    )
    return 0
