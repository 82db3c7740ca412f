"""Run a submitted detector in an isolated child process with memory and per-sample time limits.

The child (``python -m inpaintbench.harness.sandbox``) runs inside a bubblewrap jail where one is available
(``isolation.py``: no data, no scorer command line or environment, no network, only its own code and a scratch
folder) and otherwise as a plain subprocess, with a warning and ``isolation.isolated = false`` in the
description that goes into the results. It sets ``RLIMIT_AS`` before importing the submission, then answers one
image at a time over a socket pair in the framing of ``wire.py`` (JSON headers and raw array bytes, never
pickle, so nothing the submission returns can run code in the scorer).

The parent waits at most ``timeout_s`` per sample, sending the image and reading the whole reply included: on
timeout it kills the child's whole process tree and starts a fresh sandbox for the next sample; if the child
dies (segfault, os._exit) the sample is a crash, and if its processes together pass the memory limit (a
cgroup's OOM kill, or the parent's RSS watchdog) the sample is an error naming the limit; either way a fresh
sandbox continues. Python exceptions (MemoryError included) are reported per sample without restarting. The
outcome names the sample; the run never hangs or dies with it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inpaintbench.harness import isolation, wire


@dataclass
class Outcome:
    ok: bool
    output: dict | None = None  # the detector's dict (score, map) when ok
    kind: str = ""  # crash, timeout, error (or wrong_dtype / wrong_shape for a return value the child refused)
    detail: str = ""
    seconds: float = 0.0


SCRATCH_DEFAULT_BYTES = 4 << 30  # the jail's /tmp when no memory limit caps it
OUTPUT_LIMIT_BYTES = 1 << 20  # of the detector's stdout/stderr copied to the scorer's stderr, per sandbox


class DetectorStartError(RuntimeError):
    pass


class MemoryExceeded(RuntimeError):
    pass


# ---- the child ---------------------------------------------------------------------------------------------

def _describe_error(exc: BaseException) -> str:
    try:  # str() of a submission's exception is submission code too: it may raise in turn
        return f"{type(exc).__name__}: {exc}"
    except BaseException:  # noqa: BLE001
        return f"{type(exc).__name__} (its message could not be printed)"


def _child_main(sock: socket.socket, spec: str, params: dict, memory_bytes: int) -> None:
    """Runs in the child: limit, load, then answer images until the parent closes."""
    if memory_bytes > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        from inpaintbench.harness.loading import describe_detector, load_detector

        detector = load_detector(spec, params)
        description = describe_detector(detector, spec)
        try:
            json.dumps(description, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"describe() must return a JSON-serialisable dict: {exc}") from None
        wire.send_frame(sock, {"status": "ready", "description": description})
    except BaseException as exc:  # noqa: BLE001 (any failure to load is reported, whatever it is)
        wire.send_frame(
            sock, wire.error_frame("load_error", f"{_describe_error(exc)}\n{traceback.format_exc(limit=5)}")
        )
        return
    while True:
        try:
            header, payload = wire.recv_frame(sock, 4096, wire.check_image_header)
        except wire.WireClosed:
            return
        if header.get("op") == "close":
            return
        image = wire.decode_image(header, payload)
        try:
            # Converting the return value happens here too: its __float__ / __array__ run in the child.
            reply, data = wire.encode_prediction(detector.predict(image), image.shape[0] * image.shape[1])
        except MemoryError:
            reply, data = wire.error_frame("error", f"MemoryError: the detector exceeded the memory limit "
                                                    f"({memory_bytes >> 20} MiB)"), b""
        except BaseException as exc:  # noqa: BLE001
            reply, data = wire.error_frame("error", _describe_error(exc)), b""
        wire.send_frame(sock, reply, data)


# ---- the parent --------------------------------------------------------------------------------------------

def _ready_check(header: dict, payload_len: int) -> None:
    if payload_len:
        raise wire.WireError("the ready message carries no payload")
    if header.get("status") == "ready":
        if not isinstance(header.get("description"), dict):
            raise wire.WireError("the ready message must carry a description dict")
    elif header.get("status") != "load_error" or not isinstance(header.get("error"), str):
        raise wire.WireError(f"unexpected first message {str(header)[:120]}")


class SandboxedDetector:
    def __init__(self, spec: str, params: dict | None = None, timeout_s: float = 60.0,
                 memory_mb: int = 8192, start_timeout_s: float = 300.0, isolation_mode: str | None = None) -> None:
        self.spec = spec
        self.params = dict(params or {})
        self.timeout_s = float(timeout_s)
        self.memory_bytes = int(memory_mb) << 20 if memory_mb else 0
        self.start_timeout_s = float(start_timeout_s)
        self.isolation_mode = isolation.requested_method(isolation_mode)  # env INPAINTBENCH_SANDBOX_ISOLATION
        self.description: dict[str, Any] | None = None
        self.isolation: dict[str, Any] | None = None
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._cgroup: isolation.MemoryCgroup | None = None
        self._oom_base = 0
        self._scratch: Path | None = None
        self._package: Path | None = None

    def __enter__(self) -> SandboxedDetector:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ will not run: remove the source copy and scratch folder here
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- starting

    def _choose_isolation(self) -> tuple[bool, str]:
        if self.isolation_mode == "none":
            return False, f"isolation turned off ({isolation.ISOLATION_ENV}=none or isolation_mode='none')"
        works, why = isolation.bwrap_status()
        if works:
            return True, ""
        if self.isolation_mode == "bwrap":
            raise DetectorStartError(f"detector {self.spec!r}: isolation 'bwrap' was required but {why}")
        return False, why

    def start(self) -> None:
        isolated, why_not = self._choose_isolation()
        parent_sock, child_sock = socket.socketpair()
        # The child finds its end by number: pass_fds keeps the number, and so do sh and bwrap.
        child_argv = [sys.executable, "-m", "inpaintbench.harness.sandbox", str(child_sock.fileno()), self.spec,
                      json.dumps(self.params), str(self.memory_bytes)]
        try:
            argv, env = self._command(isolated, child_argv)
        except BaseException:
            parent_sock.close()
            child_sock.close()
            self._kill()
            raise
        memory = "cgroup" if self._cgroup else ("watchdog" if self.memory_bytes else "none")
        self.isolation = {
            "isolated": isolated, "method": "bwrap" if isolated else "none", "network": not isolated,
            "filesystem": "code read-only, private scratch" if isolated else "host",
            "memory_limit": memory, "memory_mb": self.memory_bytes >> 20, "rlimit_as": bool(self.memory_bytes),
            "timeout_s": self.timeout_s,
        }
        if not isolated:
            self.isolation["reason"] = why_not
            if self.isolation_mode != "none":
                warnings.warn(f"detector {self.spec!r} runs WITHOUT isolation (it can read files, the environment "
                              f"and the network): {why_not}", RuntimeWarning, stacklevel=2)

        try:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, pass_fds=(child_sock.fileno(),),
                                    start_new_session=not isolated)
        except OSError as exc:
            parent_sock.close()
            self._kill()
            raise DetectorStartError(f"detector {self.spec!r}: could not start its process ({exc})") from None
        finally:
            child_sock.close()
        self._proc, self._sock = proc, parent_sock
        threading.Thread(target=_forward_output, args=(proc.stdout,), daemon=True).start()
        try:
            header, _ = wire.recv_frame(parent_sock, wire.READY_HEADER_LIMIT, _ready_check,
                                        deadline=time.monotonic() + self.start_timeout_s, on_wait=self._watch)
        except wire.WireTimeout:
            self._kill()
            raise DetectorStartError(
                f"detector {self.spec!r} did not load within {self.start_timeout_s:.0f} s"
            ) from None
        except (wire.WireClosed, MemoryExceeded) as exc:
            code = self._exit_code()
            self._kill()
            extra = f": {exc}" if isinstance(exc, MemoryExceeded) else ""
            raise DetectorStartError(f"detector {self.spec!r} died while loading (exit code {code}){extra}") from None
        except wire.WireError as exc:
            self._kill()
            raise DetectorStartError(
                f"detector {self.spec!r} broke the sandbox protocol while loading: {exc}"
            ) from None
        if header["status"] != "ready":
            self._kill()
            raise DetectorStartError(f"detector {self.spec!r} failed to load: {header['error']}")
        # The child describes itself; what was run and how it was isolated are the parent's facts, never its word.
        self.description = {**header["description"], "spec": self.spec, "isolation": dict(self.isolation)}

    def _command(self, isolated: bool, child_argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that start the child; makes the scratch folder and the cgroup."""
        if isolated:
            if self._package is None:  # the source copy serves every restart of this run
                self._package = Path(tempfile.mkdtemp(prefix="ib-source-"))
                isolation.copy_package_source(self._package)
            if isolation.bwrap_has_size():
                scratch: Path | int = self.memory_bytes or SCRATCH_DEFAULT_BYTES
            else:
                scratch = self._scratch = Path(tempfile.mkdtemp(prefix="ib-scratch-"))
            argv = isolation.bwrap_argv(child_argv, self._package, scratch, self.spec, self.params)
            env = isolation._launcher_env()
        else:
            self._scratch = Path(tempfile.mkdtemp(prefix="ib-scratch-"))
            argv, env = child_argv, dict(os.environ, TMPDIR=str(self._scratch))
        self._cgroup = None
        if self.memory_bytes and os.environ.get(isolation.MEMORY_ENV, "auto") != "watchdog":
            self._cgroup = isolation.MemoryCgroup.create(self.memory_bytes)
        if self._cgroup is not None:
            # Join the cgroup before exec, so every process the sandbox ever starts is born inside it.
            argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self._cgroup.procs), *argv]
            self._oom_base = self._cgroup.oom_kills()
        return argv, env

    def _exit_code(self) -> int | None:
        try:
            return self._proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def _check_oom(self) -> None:
        if self._cgroup is not None:
            try:
                kills = self._cgroup.oom_kills()
            except OSError:
                kills = self._oom_base
            if kills > self._oom_base:
                raise MemoryExceeded(f"the detector's processes together exceeded the memory limit "
                                     f"({self.memory_bytes >> 20} MiB) and were killed (memory cgroup)")

    def _watch(self) -> None:
        """Runs every 0.1 s while waiting on the child: the whole tree's memory, and a child that exited."""
        self._check_oom()
        if self._cgroup is None and self.memory_bytes:
            rss = isolation.tree_rss(self._proc.pid)
            if rss > self.memory_bytes:
                raise MemoryExceeded(f"the detector's processes together used {rss >> 20} MiB, over the memory "
                                     f"limit ({self.memory_bytes >> 20} MiB), and were killed (watchdog)")
        if self._proc.poll() is not None:
            raise wire.WireClosed(f"exit code {self._proc.returncode}")

    # -- predicting

    def predict(self, image: np.ndarray) -> Outcome:
        if self._proc is None:
            self.start()
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout_s
        pixels = int(image.shape[0] * image.shape[1])

        def failed(kind: str, detail: str) -> Outcome:
            self._restart()
            return Outcome(False, kind=kind, detail=detail, seconds=time.perf_counter() - started)

        try:
            header, data = wire.image_frame(image)
            wire.send_frame(self._sock, header, data, deadline)
            header, payload = wire.recv_frame(self._sock, wire.REPLY_HEADER_LIMIT, wire.reply_checker(pixels),
                                              deadline, on_wait=self._watch)
            self._check_oom()  # a grandchild OOM-killed during a sample that still answered fails the sample
        except wire.WireTimeout:
            return failed("timeout", f"no answer within {self.timeout_s:g} s")
        except MemoryExceeded as exc:
            return failed("error", f"MemoryError: {exc}")
        except wire.WireClosed:
            code = self._exit_code()
            try:
                self._check_oom()
            except MemoryExceeded as exc:  # the kernel's OOM killer took the detector itself
                return failed("error", f"MemoryError: {exc}")
            return failed("crash", f"detector process died (exit code {code})")
        except wire.WireError as exc:
            return failed("error", f"the detector process broke the reply protocol: {exc}")
        seconds = time.perf_counter() - started
        if header["status"] == "ok":
            return Outcome(True, output=wire.decode_reply(header, payload), seconds=seconds)
        return Outcome(False, kind=header.get("kind", "error"), detail=header["error"], seconds=seconds)

    # -- stopping

    def _restart(self) -> None:
        self._kill()
        self.start()

    def _kill(self) -> None:
        if self._proc is not None:
            isolation.kill_tree(self._proc, self._cgroup, session=not self.isolation.get("isolated"))
            self._sock.close()
        if self._cgroup is not None:
            self._cgroup.remove()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        self._proc = self._sock = self._cgroup = self._scratch = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                wire.send_frame(self._sock, {"op": "close"}, deadline=time.monotonic() + 5)
                self._proc.wait(5)
            except (wire.WireClosed, wire.WireTimeout, OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        if self._package is not None:
            shutil.rmtree(self._package, ignore_errors=True)
            self._package = None


def _forward_output(stream, limit: int = OUTPUT_LIMIT_BYTES) -> None:
    """The child's stdout and stderr, copied to ours: the child never holds our file descriptors (a reopened
    /proc/self/fd/1 would be the scorer's log file). Past ``limit`` bytes the rest is drained and dropped, so a
    detector cannot flood the scorer's log (nor block on a full pipe)."""
    copied = 0
    with stream:
        for chunk in iter(lambda: stream.read1(65536), b""):
            text = chunk[: max(limit - copied, 0)].decode(errors="replace")
            if copied < limit <= copied + len(chunk):
                text += f"\n[detector output past {limit >> 20} MiB dropped]\n"
            copied += len(chunk)
            if text:
                try:
                    sys.stderr.write(text)
                except (ValueError, OSError):  # stderr closed or replaced at shutdown
                    pass


def _main(argv: list[str]) -> None:
    fd, spec, params, memory_bytes = argv
    sock = socket.socket(fileno=int(fd))
    os.set_inheritable(sock.fileno(), False)  # the detector's own subprocesses must not get the channel
    _child_main(sock, spec, json.loads(params), int(memory_bytes))


if __name__ == "__main__":
    _main(sys.argv[1:])
