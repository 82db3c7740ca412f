"""Run a submitted detector in a child process with a memory limit and a per-sample time limit.

The child sets ``RLIMIT_AS`` (address space: what a runaway allocation hits) before importing the submission,
then answers one image at a time over a pipe. The parent waits at most ``timeout_s`` per sample: on timeout it
kills the child and starts a fresh one for the next sample; if the child dies (segfault, OOM kill, os._exit)
the sample is a crash and a fresh child continues. Python exceptions (MemoryError included) are reported per
sample without restarting. Either way the outcome names the sample; the run never hangs or dies with it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import traceback
from multiprocessing.connection import Client, Listener
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Outcome:
    ok: bool
    output: dict | None = None  # the detector's dict (score, map) when ok
    kind: str = ""  # crash, timeout, error
    detail: str = ""
    seconds: float = 0.0


class DetectorStartError(RuntimeError):
    pass


def _child_main(conn, spec: str, params: dict, memory_bytes: int) -> None:
    """Runs in the child (``python -m inpaintbench.harness.sandbox``): limit, load, then answer images."""
    if memory_bytes > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        from inpaintbench.harness.loading import describe_detector, load_detector

        detector = load_detector(spec, params)
        conn.send(("ready", describe_detector(detector, spec)))
    except BaseException as exc:  # noqa: BLE001 (any failure to load is reported, whatever it is)
        conn.send(("load_error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
        return
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            output = detector.predict(message)
            if isinstance(output, dict) and output.get("map") is not None:
                output = {**output, "map": np.asarray(output["map"])}
            conn.send(("ok", output))
        except MemoryError:
            conn.send(("error", f"MemoryError: the detector exceeded the memory limit ({memory_bytes >> 20} MiB)"))
        except BaseException as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class SandboxedDetector:
    def __init__(self, spec: str, params: dict | None = None, timeout_s: float = 60.0,
                 memory_mb: int = 8192, start_timeout_s: float = 300.0) -> None:
        self.spec = spec
        self.params = dict(params or {})
        self.timeout_s = float(timeout_s)
        self.memory_bytes = int(memory_mb) << 20 if memory_mb else 0
        self.start_timeout_s = float(start_timeout_s)
        self.description: dict[str, Any] | None = None
        self._proc: subprocess.Popen | None = None
        self._conn = None

    def __enter__(self) -> "SandboxedDetector":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        # A fresh interpreter started as a module (not multiprocessing's spawn, which re-imports the caller's
        # __main__ and so breaks unguarded scripts); it dials back over a private Unix socket with a random key.
        authkey = secrets.token_bytes(32)
        with tempfile.TemporaryDirectory(prefix="ib-sandbox-") as tmp:
            address = os.path.join(tmp, "sock")
            with Listener(address, family="AF_UNIX", authkey=authkey) as listener:
                env = dict(os.environ, INPAINTBENCH_SANDBOX_KEY=authkey.hex())
                argv = [sys.executable, "-m", "inpaintbench.harness.sandbox", address, self.spec,
                        json.dumps(self.params), str(self.memory_bytes)]
                proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
                conn = self._accept(listener, proc)
        if not conn.poll(self.start_timeout_s):
            proc.kill()
            proc.wait()
            raise DetectorStartError(f"detector {self.spec!r} did not load within {self.start_timeout_s:.0f} s")
        try:
            status, payload = conn.recv()
        except EOFError:
            proc.wait()
            raise DetectorStartError(f"detector {self.spec!r} died while loading (exit code {proc.returncode})") from None
        if status != "ready":
            proc.wait()
            raise DetectorStartError(f"detector {self.spec!r} failed to load: {payload}")
        self.description = payload
        self._proc, self._conn = proc, conn

    def _accept(self, listener: Listener, proc: subprocess.Popen):
        """Wait for the child to dial back, but not for a child that already died (bad interpreter, killed)."""
        import socket
        import time

        # Listener has no accept timeout; its socket does. Short waits let us notice a dead child quickly.
        listener._listener._socket.settimeout(1.0)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                return listener.accept()
            except socket.timeout:
                pass
            except (OSError, EOFError) as exc:
                proc.kill()
                proc.wait()
                raise DetectorStartError(f"detector {self.spec!r}: child process did not connect ({exc})") from None
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise DetectorStartError(f"detector {self.spec!r}: child process did not connect "
                                         f"(exit code {proc.returncode})")

    def predict(self, image: np.ndarray) -> Outcome:
        import time

        if self._proc is None:
            self.start()
        started = time.perf_counter()
        try:
            self._conn.send(image)
            if not self._conn.poll(self.timeout_s):
                self._restart()
                return Outcome(False, kind="timeout", detail=f"no answer within {self.timeout_s:g} s",
                               seconds=time.perf_counter() - started)
            status, payload = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            try:
                code = self._proc.wait(5)
            except subprocess.TimeoutExpired:
                code = None
            self._restart()
            return Outcome(False, kind="crash", detail=f"detector process died (exit code {code})",
                           seconds=time.perf_counter() - started)
        seconds = time.perf_counter() - started
        if status == "ok":
            return Outcome(True, output=payload, seconds=seconds)
        return Outcome(False, kind="error", detail=str(payload), seconds=seconds)

    def _restart(self) -> None:
        self._kill()
        self.start()

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._conn.send(None)
                self._proc.wait(5)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                pass
        self._kill()


def _main(argv: list[str]) -> None:
    address, spec, params, memory_bytes = argv
    conn = Client(address, family="AF_UNIX", authkey=bytes.fromhex(os.environ.pop("INPAINTBENCH_SANDBOX_KEY")))
    _child_main(conn, spec, json.loads(params), int(memory_bytes))


if __name__ == "__main__":
    _main(sys.argv[1:])
