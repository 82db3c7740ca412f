"""A release folder appears complete or not at all, and a killed build leaves nothing behind for long.

A release is written into ``.<name>.partial-<pid>`` next to its destination and renamed into place at the end.

- SIGTERM and SIGHUP (a scheduler's or a closed terminal's kill) are turned into ``SystemExit`` while a build runs,
  so the build's cleanup removes the partial folder as it does for Ctrl-C.
- SIGKILL cannot be caught: the next build of the same destination removes partial folders whose process is
  gone, and says so; a partial folder of a *running* process is another build in progress, which is refused.
- Replacing an existing release folder (rebuilt with other options) swaps it in two renames, so the destination
  is never absent or half-written; the old copy is deleted after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

PARTIAL_MARK = ".partial-"
OLD_MARK = ".old-"


class StagingError(RuntimeError):
    """Another build of the same release is running."""


def partial_dir(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}{PARTIAL_MARK}{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale(dest: Path) -> list[Path]:
    """Remove what killed builds of ``dest`` left behind; refuse when another build of it is running."""
    removed = []
    if not dest.parent.is_dir():
        return removed
    for mark in (PARTIAL_MARK, OLD_MARK):
        for path in sorted(dest.parent.glob(f".{dest.name}{mark}*")):
            pid_text = path.name.rsplit(mark, 1)[1]
            pid = int(pid_text) if pid_text.isdigit() else -1
            if pid == os.getpid():
                shutil.rmtree(path, ignore_errors=True)  # ours, from an earlier attempt in this process
                continue
            if pid > 0 and _alive(pid):
                raise StagingError(
                    f"{path}: another build of {dest} is running (pid {pid}); wait for it, or stop it and run again"
                )
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            print(f"release: removed {path}, left by a killed build (pid {pid})", file=sys.stderr)
    return removed


@contextlib.contextmanager
def terminations_as_exit():
    """SIGTERM/SIGHUP raise ``SystemExit`` inside the block (main thread only: elsewhere signals can't be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum, _frame):
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, _exit) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def move_into_place(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``; an existing ``dest`` (empty, or a release being replaced) is swapped out."""
    if not dest.exists():
        staging.rename(dest)
        return
    if dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()
        staging.rename(dest)
        return
    old = dest.with_name(f".{dest.name}{OLD_MARK}{os.getpid()}")
    dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
