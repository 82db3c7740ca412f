"""``inpaintbench space``: run the Space locally (by default on the embedded build ``inpaintbench generate`` writes)."""

from __future__ import annotations

import argparse
import sys

from inpaintbench.cli_grammar import add_renamed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "space",
        help="run the Gradio Space locally",
        description="Run the InpaintBench Gradio Space locally. Flags override the INPAINTBENCH_* environment.",
    )
    parser.add_argument(
        "--data",
        help="generator output or release folder, or a Hub dataset repo id "
        "(default: $INPAINTBENCH_DATA, else runs/embedded)",
    )
    parser.add_argument("--revision", help="Hub revision: tag, branch or commit (default: $INPAINTBENCH_REVISION)")
    parser.add_argument("--dataset-config", dest="config_name", metavar="NAME",
                        help="the release's dataset config (default: 'default' or the first)")
    add_renamed(parser, {"--config": "--dataset-config NAME (--config names a file in every command)"})
    parser.add_argument("--db", dest="db_path", help="SQLite file for the human test's answers")
    parser.add_argument("--leaderboard", dest="leaderboard_path",
                        help="results for the Leaderboard tab: a leaderboard.json, CSV or folder of results "
                        "(default: $INPAINTBENCH_LEADERBOARD, else the results committed in harness/results)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    parser.add_argument("--seed", type=int, help="seed of the human test's image sequence")
    parser.add_argument("--detector-params", metavar="JSON",
                        help='parameters per detector, e.g. \'{"trained": {"model": "models/trained.joblib"}}\' '
                        "(default: $INPAINTBENCH_DETECTOR_PARAMS)")
    parser.add_argument(
        "--export",
        metavar="DIR",
        help="instead of running: write a deployable Space folder to DIR "
        "(app.py, README.md, requirements.txt and the inpaintbench wheel built from this checkout)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.export:
        from inpaintbench.space.export import ExportError, export_space

        try:
            written = export_space(args.export)
        except ExportError as exc:
            print(f"inpaintbench space --export: {exc}", file=sys.stderr)
            return 2
        print("Space folder ready: " + ", ".join(str(p) for p in written))
        return 0
    from inpaintbench.space.config import SpaceConfig
    from inpaintbench.space.data import DataError, load_store

    try:
        config = SpaceConfig.from_env(
            data=args.data,
            revision=args.revision,
            config_name=args.config_name,
            db_path=args.db_path,
            leaderboard_path=args.leaderboard_path,
            seed=args.seed,
            detector_params=args.detector_params,
        )
        config.detector_kwargs()  # a malformed value is reported now, not on the first detection
        store = load_store(config)  # before importing gradio (slow), so bad data is reported at once
        # Imported here: gradio is heavy and other subcommands must not pay for it.
        from inpaintbench.space.app import build_app, launch

        demo = build_app(config, store=store)
    except (DataError, ValueError) as exc:
        print(f"inpaintbench space: {exc}", file=sys.stderr)
        return 2
    launch(demo, config, server_name=args.host, server_port=args.port)
    return 0
