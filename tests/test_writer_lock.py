"""One writer per output folder (builder/writer_lock.py): real processes, a real flock, a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from inpaintbench.builder.generate import run_generation
from inpaintbench.builder.writer_lock import LOCK_NAME, OutputDirBusy, WriterLock
from tests.helpers.generate_fixtures import make_config, write_coco_set

HOLD = """
import sys, time
from inpaintbench.builder.writer_lock import WriterLock
lock = WriterLock(sys.argv[1]).acquire()  # kept: a collected lock closes its file and frees the flock
print("held", flush=True)
time.sleep(120)
"""


def _holder(work_dir) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(work_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def coco(tmp_path):
    return write_coco_set(tmp_path / "coco", num_images=2, bad_inputs=False)


def test_a_second_run_on_a_folder_being_written_stops_at_once(coco, tmp_path, capsys):
    out = tmp_path / "out"
    writer = _holder(out / "work")  # the first run, mid-way (it holds the lock)
    try:
        started = time.monotonic()
        with pytest.raises(OutputDirBusy, match=f"being written by another generate run \\(pid {writer.pid} on "):
            run_generation(make_config(coco, out), progress=False)
        assert time.monotonic() - started < 5  # at once, before any photo is read
        assert not (out / "data").exists()
        from inpaintbench.cli import main

        assert main(["generate", "--images", str(coco[0]), "--annotations", str(coco[1]), "--no-embedded",
                     "--out", str(out), "--no-progress"]) == 2
        assert "inpaintbench generate: error:" in capsys.readouterr().err
    finally:
        writer.kill()
        writer.wait()


def test_a_killed_runs_lock_is_stale_and_the_next_run_takes_it(coco, tmp_path, capsys):
    out = tmp_path / "out"
    writer = _holder(out / "work")
    os.kill(writer.pid, signal.SIGKILL)  # cannot release anything: the kernel drops its flock
    writer.wait()
    assert json.loads((out / "work" / LOCK_NAME).read_text())["pid"] == writer.pid  # its record is still there
    result = run_generation(make_config(coco, out), progress=False)
    assert result.manifest["counts"]["total"] > 0
    assert f"taking over {out / 'work' / LOCK_NAME} from a run that ended without releasing it (pid {writer.pid}" \
        in capsys.readouterr().err
    assert (out / "work" / LOCK_NAME).read_text() == ""  # released at the end: the next run says nothing


def test_the_lock_is_held_for_the_run_and_released_after(coco, tmp_path):
    out = tmp_path / "out"
    run_generation(make_config(coco, out), progress=False)
    with WriterLock(out / "work"):  # free again after the run
        pass
    # The attack the lock exists for: without it, this second writer would have gone ahead.
    lock = WriterLock(out / "work").acquire()
    try:
        with pytest.raises(OutputDirBusy):
            WriterLock(out / "work").acquire()  # even in one process: flock is per open file
    finally:
        lock.release()
