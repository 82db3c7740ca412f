"""One writer per output folder: ``<out>/work/writer.lock``, held with ``flock`` for the whole run.

Two ``generate`` runs on one folder would each trust shards the other is half-way through writing. The main
process of a run takes an exclusive, non-blocking ``flock`` on the lock file and keeps it until it exits; a second
run's main process finds it taken and stops at once, naming the holder (pid, host, start time, written into the
file). The kernel drops a ``flock`` when its process dies, however it dies, so a killed run's lock is stale by
construction: the next run takes it and says whose it was. Other ranks of the same ``accelerate`` launch do not
lock: they write their own shards under the main process's lock.

Read-only storage cannot hold a lock file, and cannot be written by anyone either: the run goes on without one
(re-reading a finished build there must work). ``flock`` is reliable on local file systems and on NFSv4; on
storage without it, run one writer per folder by hand.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_NAME = "writer.lock"


class OutputDirBusy(RuntimeError):
    """Another run is writing this folder."""


class WriterLock:
    def __init__(self, work_dir: str | Path) -> None:
        self.path = Path(work_dir) / LOCK_NAME
        self._file = None

    def acquire(self) -> WriterLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return self  # read-only: nobody can write here, so there is nothing to guard
            raise
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(handle)
            handle.close()
            raise OutputDirBusy(
                f"{self.path.parent.parent} is being written by another generate run ({_describe(holder)}); "
                "wait for it to finish or stop it, then run again (it resumes), or write elsewhere with --out"
            ) from None
        previous = _read(handle)
        if previous:
            print(f"generate: taking over {self.path} from a run that ended without releasing it "
                  f"({_describe(previous)})", file=sys.stderr)
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                  handle)
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()  # empty: the next run knows this one finished
            self._file.flush()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(handle) -> dict:
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except ValueError:
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')}"
