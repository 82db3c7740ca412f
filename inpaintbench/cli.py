"""The one ``inpaintbench`` command line, lm-evaluation-harness style: one entry point, subcommands.

Each subcommand lives in its own module exposing ``register(subparsers)``; that function adds a parser and sets
``func`` (called with the parsed args, returning an exit code). Modules are imported lazily so that ``--help``
stays fast and one subcommand's heavy imports (gradio, diffusers) never slow down another.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order here is the order in --help.
COMMAND_MODULES = [
    "inpaintbench.builder.generate_cli",
    "inpaintbench.builder.regenerate_cli",
    "inpaintbench.builder.saor_cli",
    "inpaintbench.builder.release_cli",
    "inpaintbench.builder.audit_cli",
    "inpaintbench.builder.assess_cli",
    "inpaintbench.builder.train_inpainter_cli",
    "inpaintbench.space.cli",
    "inpaintbench.harness.cli",
    "inpaintbench.harness.train_cli",
    "inpaintbench.list_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inpaintbench", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
