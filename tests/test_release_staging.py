"""A killed release build leaves no partial folder behind (SIGTERM at once, SIGKILL by the next run), and a
release folder appears complete or not at all. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.release_rows import make_rows, write_generator_output, write_split_config

pytestmark = pytest.mark.slow  # each case runs the CLI in a fresh interpreter


@pytest.fixture(scope="module")
def generator_output(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("staging")
    config = write_split_config(root / "splits.yaml")
    # Big enough that the build takes a while after the partial folder appears (several seconds on 2 cores).
    return write_generator_output(root / "gen", make_rows(range(150), size=96), rows_per_shard=50), config


def _start(out: Path, config: Path, dest: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "inpaintbench.cli", "publish", "--version", "1.0.0", "--data", str(out),
           "--split-config", str(config), "--out", str(dest), "--min-files-per-split", "64"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _partials(dest: Path) -> list[Path]:
    return sorted(dest.parent.glob(f".{dest.name}.partial-*"))


def _kill_while_writing(proc: subprocess.Popen, dest: Path, sig: int) -> None:
    deadline = time.monotonic() + 120
    while not _partials(dest):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.01)
    time.sleep(0.3)  # well into writing the data files
    assert proc.poll() is None, "the build finished before it could be killed: make the fixture bigger"
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)


def test_sigterm_mid_build_removes_the_partial_folder(generator_output, tmp_path):
    out, config = generator_output
    dest = tmp_path / "release"
    proc = _start(out, config, dest)
    _kill_while_writing(proc, dest, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    assert _partials(dest) == [] and not dest.exists()


def test_sigkill_leaves_a_partial_folder_that_the_next_run_removes(generator_output, tmp_path):
    out, config = generator_output
    dest = tmp_path / "release"
    proc = _start(out, config, dest)
    _kill_while_writing(proc, dest, signal.SIGKILL)  # cannot be caught: the attack the next run must clean up
    left = _partials(dest)
    assert len(left) == 1 and not dest.exists()
    again = _start(out, config, dest)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-3000:]
    assert f"removed {left[0]}, left by a killed build (pid {proc.pid})" in stderr
    assert _partials(dest) == [] and (dest / "release.json").is_file()


def test_a_partial_folder_of_a_running_build_is_not_taken_over(generator_output, tmp_path):
    out, config = generator_output
    dest = tmp_path / "release"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = dest.with_name(f".{dest.name}.partial-{sleeper.pid}")
        busy.mkdir(parents=True)
        proc = _start(out, config, dest)
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2 and f"another build of {dest} is running (pid {sleeper.pid})" in stderr
        assert busy.is_dir() and not dest.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
