"""The grammar every ``inpaintbench`` subcommand follows, in one place so that commands cannot drift apart.

- ``--data DIR``: the run (generator output) or release folder a command reads; ``evaluate`` also takes Parquet
  files there, ``space`` a Hub dataset id. One name, whichever command and whichever kind of folder: a folder's
  kind is read from what it holds (``inpaintbench.folders.folder_kind``), never from the flag.
- ``--out PATH``: what a command writes (a run, a release, a report, weights, a leaderboard).
- ``--config FILE``: always a YAML/JSON file. A release's dataset config (a named subset of its rows, as in
  ``datasets.load_dataset(repo, NAME)``) is ``--dataset-config NAME``.
- Exit codes: 0 done; 1 the command ran and its answer is no (an audit above its bound, a regenerated sample that
  differs) or a remote service failed (the Hub); 2 bad input (arguments, files, data, a submission or a detector
  that cannot be used), with a message naming the file or flag and what is wrong.

Old spellings (``--run``, ``--from``, ``--to``, a positional folder, ``--config NAME``) are refused with the new
one named, rather than silently meaning something else.
"""

from __future__ import annotations

import argparse

EXIT_BAD_INPUT = 2  # what argparse itself uses for a bad command line

DATA_HELP = "the run (generator output) or release folder to read"


def add_data_argument(parser: argparse.ArgumentParser, help: str = DATA_HELP, default: str | None = None,
                      refuse_positional: bool = True) -> None:
    """``--data DIR`` (required unless it has a default), plus a refusal of a positional folder, the old form of
    ``evaluate``, ``train-detector`` and ``audit`` (``refuse_positional=False`` for commands with positionals)."""
    parser.add_argument("--data", metavar="DIR", required=default is None, default=default, help=help)
    if refuse_positional:
        parser.add_argument("positional_data", nargs="?", help=argparse.SUPPRESS, action=_PositionalFolder)


def add_renamed(parser: argparse.ArgumentParser, renamed: dict[str, str]) -> None:
    """Hidden flags that stop the command with the flag's new name, e.g. ``{"--run": "--data DIR"}``."""
    for old, new in renamed.items():
        parser.add_argument(old, nargs="?", help=argparse.SUPPRESS, action=_Renamed, new=new)


class _Renamed(argparse.Action):
    def __init__(self, option_strings, dest, new: str, **kwargs) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(f"{option_string} is now {self.new} (the grammar of every inpaintbench command: "
                     "--data DIR reads a run or release folder, --out writes, --config is a file)")


class _PositionalFolder(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values is not None:
            parser.error(f"give the folder as --data {values} (a run or release folder is named by --data in "
                         "every inpaintbench command)")
