"""Write a file so that it either exists complete or not at all, even if the process is SIGKILLed mid-write.

Temp file in the same directory (so the rename stays on one filesystem), fsync, ``os.replace``, then fsync the
directory so the rename itself survives a crash. The temp name carries the pid: two processes never share one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temp path to write to; on success it is fsynced and renamed to ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        named = storage_error(error, path)
        if named is error:
            raise
        raise named from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def storage_error(error: OSError, path: Path) -> OSError:
    """``error`` as a plain OSError naming ``path`` and carrying its errno: pyarrow's write errors carry neither
    (only "[errno 28] ..." in their text), and the CLI's message must say which file could not be written."""
    code = error.errno
    if code is None:
        match = re.search(r"\[errno (\d+)\]", str(error), re.IGNORECASE)
        code = int(match.group(1)) if match else None
    if code is None:
        return error
    return OSError(code, os.strerror(code), str(path))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def dump_json(data: Any) -> bytes:
    """Canonical JSON: sorted keys, fixed indentation, so equal content gives equal bytes."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """``data`` as canonical JSON (``dump_json``) at ``path``, atomically; returns ``path``."""
    atomic_write_bytes(path, dump_json(data))
    return Path(path)


def remove_stale_temp_files(directory: str | Path) -> int:
    """Temp files left by a killed run (never renamed, so never valid output); returns how many were removed."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    removed = 0
    for stale in directory.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed
