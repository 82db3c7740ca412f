"""Spread a detector run over processes launched by ``accelerate launch`` (as ``inpaintbench generate`` does).

Each process takes samples ``rank::world`` (a split by index only, so results do not depend on timing), runs
its own sandboxed detector, and the records are gathered to the main process, which scores them in index
order: the results equal a one-process run's. Only used when WORLD_SIZE > 1, so a plain run never imports torch.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def make_state():
    """This process's accelerate state; CPU processes when ACCELERATE_USE_CPU is set or there is no CUDA
    (otherwise ``PartialState`` ignores the launch and every process would score everything)."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    cpu = parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    if state.num_processes != world_size():
        raise RuntimeError(
            f"launched as {world_size()} processes (WORLD_SIZE) but accelerate set up {state.num_processes}; "
            "for CPU processes set ACCELERATE_USE_CPU=1 and pass --multi_gpu (docs/generation.md, section Launching)"
        )
    return state


def gather_collected(state, collected, entry_budget=None):
    """All processes' records on every process, merged in index order (and fitted to the entry budget)."""
    from accelerate.utils import gather_object

    from inpaintbench.harness.run import merge_collected

    parts = gather_object([collected])
    return merge_collected(parts) if entry_budget is None else merge_collected(parts, entry_budget)


def launch_command(num_processes: int, cli_args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch`` command (and env) that reruns ``inpaintbench <cli_args>`` over N processes."""
    import sys

    env = dict(os.environ)
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if not has_cuda:
        env["ACCELERATE_USE_CPU"] = (
            "1"  # gloo CPU processes; --cpu alone would start one (docs/generation.md, section Launching)
        )
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "inpaintbench.cli",
        *cli_args,
    ]
    return cmd, env
