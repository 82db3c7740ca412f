"""One grammar for every subcommand (inpaintbench.cli_grammar): --data reads a run or release folder, --out
writes, --config is a file, bad input exits 2 naming what is wrong, and old spellings are refused by name."""

from __future__ import annotations

import argparse

import pytest

from inpaintbench.cli import build_parser, main


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


def visible_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions if action.help != argparse.SUPPRESS
            for flag in action.option_strings}


def exit_code(argv: list[str]) -> int:
    """``main(argv)``'s exit code, whether the parser stops it (SystemExit) or the command returns one."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def test_every_command_names_folders_and_configs_the_same_way():
    parsers = subcommand_parsers()
    readers = {"evaluate", "train-detector", "audit", "assess", "regenerate", "publish", "space"}
    for name, parser in parsers.items():
        options = visible_options(parser)
        assert not {"--run", "--from", "--to", "--dir"} & set(options), name
        if name in readers:
            assert "--data" in options, f"{name} reads a run or release folder but has no --data"
        if "--config" in options:  # a file, whatever the command
            assert options["--config"].metavar in ("FILE", "YAML"), (name, options["--config"].metavar)
        positionals = [a.dest for a in parser._actions if not a.option_strings and a.help != argparse.SUPPRESS]
        assert not {"data", "dir", "run", "release"} & set(positionals), (name, positionals)
    assert readers <= set(parsers)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["evaluate", "runs/x", "--detector", "ela"], "give the folder as --data runs/x"),
        (["evaluate", "--data", "runs/x", "--detector", "ela", "--config", "default"],
         "--config is now --dataset-config"),
        (["train-detector", "runs/x", "--out", "m.joblib"], "give the folder as --data runs/x"),
        (["audit", "runs/x"], "give the folder as --data runs/x"),
        (["assess", "--run", "runs/x"], "--run is now --data DIR"),
        (["regenerate", "some-id", "--run", "runs/x", "--out", "o"], "--run is now --data DIR"),
        (["publish", "--version", "1.0.0", "--from", "runs/x", "--out", "o"], "--from is now --data DIR"),
        (["publish", "--version", "1.0.0", "--to", "o"], "--to is now --out DIR"),
        (["space", "--config", "default"], "--config is now --dataset-config"),
    ],
)
def test_an_old_spelling_is_refused_with_its_new_name(argv, says, capsys):
    assert exit_code(argv) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--data", "{missing}", "--detector", "ela", "--no-progress"],
        ["train-detector", "--data", "{missing}", "--out", "{tmp}/m.joblib", "--no-progress"],
        ["audit", "--data", "{missing}"],
        ["assess", "--data", "{missing}", "--no-progress"],
        ["regenerate", "some-id", "--data", "{missing}", "--out", "{tmp}/o"],
        ["publish", "--version", "1.0.0", "--data", "{missing}", "--out", "{tmp}/release"],
        ["generate", "--config", "{missing}.yaml", "--out", "{tmp}/run", "--no-progress"],
        ["leaderboard", "{missing}", "--out", "{tmp}/board"],
    ],
)
def test_a_folder_that_is_not_there_exits_2_naming_it(argv, tmp_path, capsys):
    """Bad input exits 2 in every command (evaluate, train-detector and leaderboard said 1 before), and the
    message names the path, so a script can tell "your input" from "the answer is no"."""
    missing = tmp_path / "no-such-folder"
    argv = [arg.format(missing=missing, tmp=tmp_path) for arg in argv]
    assert exit_code(argv) == 2
    assert "no-such-folder" in capsys.readouterr().err
