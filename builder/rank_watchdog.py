"""A rank of ``accelerate launch`` stops when its launcher dies, instead of running on as an orphan.

Why it is needed (checked on this repository's torch 2.13 / accelerate 1.15, CPU ranks; the process tree of a
running ``accelerate launch --multi_gpu --num_processes 2 -m inpaintbench.cli generate``, from ``ps --forest``)::

    PID   PPID  PGID  SID   NLWP CMD
    7031  7027  7031  7031  2    python .venv/bin/accelerate launch --multi_gpu --num_processes 2 ... generate ...
    7044  7031  7044  7044  6     \\_ python -u -m inpaintbench.cli generate ...
    7045  7031  7045  7045  6     \\_ python -u -m inpaintbench.cli generate ...

``accelerate launch --multi_gpu`` runs ``torch.distributed.run`` *inside* the launcher process: its elastic agent
(``LocalElasticAgent`` -> ``SubprocessContext`` -> ``SubprocessHandler``) starts each rank with
``subprocess.Popen(..., start_new_session=True)`` from the launcher's main thread. So a rank's direct parent is
the launcher itself (no intermediate agent process; ``torchrun`` is the same agent), and every rank sits in a
session of its own. When the launcher is killed with SIGKILL (a scheduler, the OOM killer), it cannot forward a
signal to its ranks, and a kill of its process group does not reach them either: they are reparented and run on,
holding GPUs and, for rank 0, the folder's writer lock (``writer_lock``). ``tests/test_orphaned_ranks.py`` shows
both: the tree above (parent = launcher, own sessions) and orphans that keep running with this guard disabled.

What ``arm()`` does, in a launched rank only (``generate.make_state``):

- Linux: ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends SIGTERM the moment the parent dies. Two caveats.
  The race: a parent that died before ``prctl`` ran never triggers it, so ``os.getppid()`` is compared with the
  parent recorded *before* arming, and a difference stops the rank at once. The thread: "parent" means the
  parent *thread* that forked this process; PDEATHSIG also fires when that thread exits while the process lives.
  That cannot stop a rank of a live launcher because the elastic agent forks the ranks from the launcher's main
  thread (its run loop, no thread pool), and a Python process's main thread lives until the process ends. It
  does show when the launcher is SIGKILLed: its main thread dies first, the signal comes, and for a few ms the
  rank is the child of the launcher's other, still dying thread, so ``getppid()`` still names the launcher
  (seen here with the 2-thread launcher above); the handler waits up to ``REPARENT_WAIT`` for the reparenting
  before it words its message.
- Everywhere (and as a second line on Linux): a daemon thread polls ``os.getppid()`` every second and sends
  SIGTERM to this process when the parent changed (reparenting is the one portable sign of a parent's death).

SIGTERM in a guarded rank raises ``SystemExit(143)`` (128 + SIGTERM) after one line on stderr, like
``release.staging.terminations_as_exit`` does for release builds: the run unwinds, so ``atomic_io`` removes the
temp file of a shard being written (the final names only ever hold complete files) and rank 0 releases the writer
lock in ``run_generation``'s ``finally``; the kernel drops the ``flock`` anyway when the process ends. The folder is
resumable by running the same command again. Backstops for an unwind that cannot run: if the main thread sits in
a blocking C call (a collective waiting for a dead peer), the poll thread ends the process with ``os._exit`` after
``GRACE_SECONDS``; if the interpreter hangs while shutting down (the poll thread is gone then), the SIGALRM set by
the handler ends it (its default action terminates). Either way only temp files can be left, and the next run's
main process removes them (``remove_stale_temp_files``).

Limits: a launcher that dies before the rank's Python reaches ``arm()`` (here about 1.2 s after the rank's exec:
interpreter start and the CLI's imports) is not noticed, since the rank then records its reaper as the parent.
Such a rank blocks in ``PartialState``'s rendezvous, retrying the store the dead launcher hosted until torch's
process-group timeout (measured: "TCP client failed to connect ... retrying (timeout=1800000ms)", 30 min), then
fails. Telling a reaper from a launcher by name or executable would stop legitimate runs with unusual launchers,
so it is not guessed. A rank started through an intermediate process (``accelerate launch --no_python`` running a
shell wrapper) watches that wrapper, not the launcher.

``INPAINTBENCH_NO_RANK_WATCHDOG=1`` disables the guard. It exists so that the test can run the attack (show that
ranks outlive a killed launcher without it); there is no reason to set it in a real run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

DISABLE_ENV = "INPAINTBENCH_NO_RANK_WATCHDOG"
POLL_SECONDS = 1.0
GRACE_SECONDS = 5  # an unwind (temp file removal, lock release) takes milliseconds; this is for a stuck one
REPARENT_WAIT = 1.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class RankWatchdog:
    """The guard of one rank: the launcher's pid and whether it is gone."""

    def __init__(self, launcher_pid: int, rank: str) -> None:
        self.launcher_pid = launcher_pid
        self.rank = rank
        self.pdeathsig = False  # whether the kernel guard is armed (Linux); the poll thread runs regardless
        self._stopping = threading.Event()

    def launcher_gone(self) -> bool:
        return os.getppid() != self.launcher_pid

    def message(self) -> str:
        if self.launcher_gone():
            return (
                f"inpaintbench generate: the accelerate launcher (pid {self.launcher_pid}) is gone; "
                f"rank {self.rank} stops"
            )
        return f"inpaintbench generate: rank {self.rank} got SIGTERM; it stops (the run resumes when started again)"

    def _on_sigterm(self, signum, _frame) -> None:
        if self._stopping.is_set():
            return  # already unwinding: a second SIGTERM (poll thread after PDEATHSIG) must not interrupt it
        self._stopping.set()
        # PDEATHSIG comes when the launcher's main thread dies; until its other threads are dead too, this rank is
        # the child of one of them and getppid() still names the launcher (seen: a few ms after a SIGKILL). Wait
        # for the reparenting so that the message says why the rank stops; a SIGTERM from a live launcher (the
        # agent stopping its ranks) waits the whole REPARENT_WAIT, well inside the agent's 30 s before SIGKILL.
        deadline = time.monotonic() + REPARENT_WAIT
        while not self.launcher_gone() and time.monotonic() < deadline:
            time.sleep(0.01)
        _say(self.message())
        signal.alarm(GRACE_SECONDS)  # a hang after this point (interpreter shutdown) still ends the process
        raise SystemExit(128 + signum)

    def _poll(self) -> None:
        while not self.launcher_gone():
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)  # the main thread's handler unwinds the run
        time.sleep(GRACE_SECONDS)
        # Still here: the main thread never got to run the handler (blocked in C, e.g. a collective with a dead
        # peer). Nothing but temp files can be half-written, and the next run removes those.
        _say(self.message() + f" (forced: it did not unwind within {GRACE_SECONDS} s)")
        os._exit(128 + signal.SIGTERM)


def arm(rank: str | None = None) -> RankWatchdog | None:
    """Guard this launched rank against outliving its launcher; None when disabled by ``INPAINTBENCH_NO_RANK_WATCHDOG``.

    Call from the main thread (signal handlers can only be installed there), early: the earlier it runs, the smaller
    the window in which a dead launcher goes unnoticed (module docstring)."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("rank_watchdog.arm() must run on the main thread (it installs a SIGTERM handler)")
    rank = rank if rank is not None else os.environ.get("RANK", os.environ.get("LOCAL_RANK", "?"))
    watchdog = RankWatchdog(os.getppid(), rank)
    signal.signal(signal.SIGTERM, watchdog._on_sigterm)
    watchdog.pdeathsig = _set_pdeathsig(signal.SIGTERM)
    if watchdog.launcher_gone():
        # The launcher died between getppid() and prctl(): PDEATHSIG will never fire for it.
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watchdog._poll, name="rank-watchdog", daemon=True).start()
    return watchdog


def _set_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    if libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False  # the poll thread still guards the rank
    return True


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr may be a pipe whose reader died with the launcher: stopping matters more than the message
