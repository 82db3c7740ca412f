"""A rank stops when its launcher is SIGKILLed (``builder.rank_watchdog``), and the folder it leaves resumes.

Two layers, all with real processes and real signals:
- the guard itself, fast: a stand-in launcher (a Python process that starts one "rank" and waits, like the
  elastic agent) is SIGKILLed while the rank is half-way through an atomic write under the writer lock;
- the real thing, slow: ``accelerate launch`` with 2 CPU ranks (gloo) of ``inpaintbench generate``, launcher
  SIGKILLed mid-build, then the same command resumes to output byte-identical to one plain process.
Each defence is run next to its attack: the same scenario with the guard disabled (``INPAINTBENCH_NO_RANK_WATCHDOG``)
leaves ranks running after their launcher is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from inpaintbench.builder import rank_watchdog
from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from inpaintbench.builder.writer_lock import WriterLock
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, files_of, write_coco_set
from tests.helpers.ports import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PDEATHSIG is Linux's")

NO_WATCHDOG = {rank_watchdog.DISABLE_ENV: "1"}


def state_of(pid: int) -> str:
    """The kernel's one-letter state, or "gone". A dead orphan can stay a zombie ("Z") until its new parent reaps it
    (PID 1 here reaps lazily, ~1-3 s), so "Z" counts as stopped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


def running(pid: int) -> bool:
    return state_of(pid) not in ("Z", "X", "gone")


def wait_stopped(pids: list[int], timeout: float) -> float | None:
    """Seconds until every pid stopped, or None if some still run after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not any(running(pid) for pid in pids):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def kill_quietly(pid: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- the guard, with a stand-in launcher ------------------------------------------------------------------------

RANK_SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
from inpaintbench.builder import rank_watchdog
from inpaintbench.atomic_io import atomic_path
from inpaintbench.builder.writer_lock import WriterLock

out, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "poll-only":
    rank_watchdog._set_pdeathsig = lambda signum: False  # the portable fallback alone, as off Linux
if mode == "pdeathsig-only":
    rank_watchdog.POLL_SECONDS = 3600  # the kernel's signal alone


class HangsAtExit:
    # Deleted in the interpreter's module teardown, when the poll thread can no longer run: os.system waits in C
    # and retries through signals, like a process-group destructor waiting for a dead peer would.
    def __del__(self, system=os.system):
        system("sleep 30")


if mode == "hang-at-exit":
    hang = HangsAtExit()
watchdog = rank_watchdog.arm(rank="3")
lock = WriterLock(out / "work").acquire()  # as rank 0 holds it in run_generation, released in its finally
try:
    with atomic_path(out / "data" / "shard.parquet") as tmp:
        tmp.write_bytes(b"half a shard")
        (out / "armed").write_text(json.dumps([os.getpid(), watchdog and watchdog.pdeathsig]))
        if mode == "stuck":
            os.system("sleep 30")  # the main thread blocked in C: the handler cannot run
        while True:
            time.sleep(0.05)
finally:
    lock.release()
"""

LAUNCHER_SCRIPT = "import subprocess, sys; subprocess.Popen([sys.executable] + sys.argv[1:]).wait()"


class StandIn:
    """A launcher process running one rank of RANK_SCRIPT; both in a session of their own (as under the agent)."""

    def __init__(self, tmp_path: Path, mode: str, env: dict[str, str] | None = None) -> None:
        self.out = tmp_path / "out"
        self.out.mkdir()
        script = tmp_path / "rank.py"
        script.write_text(RANK_SCRIPT)
        self.stderr_path = tmp_path / "stderr.txt"
        self.launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER_SCRIPT, str(script), str(self.out), mode],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=open(self.stderr_path, "w"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not (self.out / "armed").is_file():
            assert self.launcher.poll() is None and time.monotonic() < deadline, self.stderr()
            time.sleep(0.02)
        self.rank, self.pdeathsig = json.loads((self.out / "armed").read_text())
        assert children_of(self.launcher.pid) == [self.rank]

    def kill_launcher(self) -> None:
        self.launcher.kill()
        self.launcher.wait()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def close(self) -> None:
        kill_quietly(self.launcher.pid)
        kill_quietly(self.launcher.pid, group=True)  # the rank and whatever it started ("sleep 30")
        self.launcher.wait()


@pytest.fixture
def stand_in(tmp_path):
    made: list[StandIn] = []

    def make(mode: str = "full", env: dict[str, str] | None = None) -> StandIn:
        made.append(StandIn(tmp_path, mode, env))
        return made[-1]

    yield make
    for one in made:
        one.close()


def gone_line(launcher_pid: int, rank: str = "3") -> str:
    return f"inpaintbench generate: the accelerate launcher (pid {launcher_pid}) is gone; rank {rank} stops"


def test_rank_stops_when_its_launcher_is_killed_and_leaves_nothing_half_written(stand_in):
    run = stand_in()
    assert run.pdeathsig is True  # the kernel guard is armed on Linux
    run.kill_launcher()
    seconds = wait_stopped([run.rank], timeout=10)
    assert seconds is not None and seconds < 3, run.stderr()
    assert run.stderr().splitlines() == [gone_line(run.launcher.pid)]
    # The unwind removed the temp file of the write in progress; the final name never held half a file.
    assert sorted(p.name for p in (run.out / "data").iterdir()) == []
    # The lock was released (emptied: a next run does not report a take-over) and is free.
    assert (run.out / "work" / "writer.lock").read_text() == ""
    WriterLock(run.out / "work").acquire().release()


def test_attack_without_the_watchdog_the_rank_outlives_its_launcher(stand_in):
    run = stand_in(env=NO_WATCHDOG)
    assert run.pdeathsig is None  # arm() returned None: disabled
    run.kill_launcher()
    assert wait_stopped([run.rank], timeout=3) is None  # still running, an orphan
    assert run.stderr() == ""


def test_attack_a_plain_sigterm_leaves_the_temp_file_the_watchdog_unwind_removes(stand_in):
    # What a SIGTERM did to a rank before the guard (default action: die at once): the temp file stays until the
    # next run's main process removes it. The guard's SystemExit unwinds instead (see the test above).
    run = stand_in(env=NO_WATCHDOG)
    os.kill(run.rank, signal.SIGTERM)
    assert wait_stopped([run.rank], timeout=5) is not None
    assert [p.name for p in (run.out / "data").iterdir()] == [f".shard.parquet.tmp-{run.rank}"]


def test_poll_thread_alone_stops_the_rank(stand_in):
    run = stand_in("poll-only")
    assert run.pdeathsig is False
    run.kill_launcher()
    seconds = wait_stopped([run.rank], timeout=10)
    assert seconds is not None and seconds < rank_watchdog.POLL_SECONDS + 3, run.stderr()
    assert run.stderr().splitlines() == [gone_line(run.launcher.pid)]
    assert list((run.out / "data").iterdir()) == []


def test_pdeathsig_alone_stops_the_rank(stand_in):
    run = stand_in("pdeathsig-only")  # the poll thread sleeps an hour between looks
    run.kill_launcher()
    seconds = wait_stopped([run.rank], timeout=10)
    assert seconds is not None and seconds < 5, run.stderr()  # (measured 0.2 s; the poll would take an hour)
    assert run.stderr().splitlines() == [gone_line(run.launcher.pid)]


def test_a_rank_stuck_in_c_is_forced_out_after_the_grace(stand_in):
    run = stand_in("stuck")
    run.kill_launcher()
    seconds = wait_stopped([run.rank], timeout=20)
    grace = rank_watchdog.GRACE_SECONDS
    assert seconds is not None and grace <= seconds < grace + rank_watchdog.POLL_SECONDS + 4, run.stderr()
    assert run.stderr().splitlines() == [
        gone_line(run.launcher.pid) + f" (forced: it did not unwind within {grace} s)"
    ]


def test_a_hang_while_the_interpreter_shuts_down_is_ended_by_the_alarm(stand_in):
    run = stand_in("hang-at-exit")
    run.kill_launcher()
    seconds = wait_stopped([run.rank], timeout=20)
    grace = rank_watchdog.GRACE_SECONDS
    assert seconds is not None and grace - 0.5 <= seconds < grace + 3, run.stderr()
    # The handler's line only: the poll thread, frozen by the shutdown, never printed its forced line.
    assert run.stderr().splitlines() == [gone_line(run.launcher.pid)]


def test_arm_refuses_a_thread_other_than_main():
    errors = []

    def arm_here():
        try:
            rank_watchdog.arm(rank="0")
        except RuntimeError as error:
            errors.append(str(error))

    thread = threading.Thread(target=arm_here)
    thread.start()
    thread.join()
    assert errors and "main thread" in errors[0]


# --- accelerate launch, 2 CPU ranks ---------------------------------------------------------------------------

SETTINGS = {**SMALL_PHOTO_CONFIG, "samples_per_shard": 3}  # 1 image per shard
NUM_IMAGES = 48  # ~0.3 s of work per image and rank here: seconds of work left when both ranks have begun


class Launch:
    """``accelerate launch`` of ``inpaintbench generate`` with 2 CPU ranks, as test_accelerate_generate runs it."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.images, self.annotations = write_coco_set(tmp_path / "coco", num_images=NUM_IMAGES)
        self.config_file = tmp_path / "config.json"
        self.config_file.write_text(json.dumps(SETTINGS))
        self.out = tmp_path / "two"
        self.tmp_path = tmp_path
        self.env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", **(env or {})}
        self.launcher: subprocess.Popen | None = None
        self.ranks: list[int] = []

    def command(self) -> list[str]:
        accelerate = Path(sys.executable).with_name("accelerate")
        return [
            str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
            "-m", "inpaintbench.cli", "generate", "--config", str(self.config_file), "--no-embedded",
            "--images", str(self.images), "--annotations", str(self.annotations), "--out", str(self.out),
            "--no-progress",
        ]

    def start_and_wait_for_both_ranks(self) -> None:
        self.stderr_path = self.tmp_path / "launch-stderr.txt"
        self.launcher = subprocess.Popen(
            self.command(), env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.stderr_path, "w"),
            start_new_session=True,  # like a scheduler's job: the test finds the ranks as the launcher's children
        )
        log = self.out / "work" / "run_log.jsonl"
        deadline = time.monotonic() + 300
        while not (log.is_file() and {json.loads(line)["process"] for line in log.read_text().splitlines()} == {0, 1}):
            assert self.launcher.poll() is None, self.stderr_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the two ranks never both wrote a shard"
            time.sleep(0.05)
        self.ranks = children_of(self.launcher.pid)

    def shard_records(self) -> int:
        return len(list((self.out / "work" / "shards").glob("*.json")))

    def close(self) -> None:
        if self.launcher is not None:
            kill_quietly(self.launcher.pid)
            self.launcher.wait()
        for pid in self.ranks:
            kill_quietly(pid)


@pytest.fixture
def launch(tmp_path):
    made: list[Launch] = []

    def make(env: dict[str, str] | None = None) -> Launch:
        made.append(Launch(tmp_path, env))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.mark.slow
def test_killed_launcher_stops_its_ranks_and_the_same_command_resumes(launch, tmp_path):
    run = launch()
    run.start_and_wait_for_both_ranks()
    # The tree rank_watchdog's docstring describes: both ranks are direct children of the launcher, each the
    # leader of a session of its own (the agent's start_new_session), so no group kill of the launcher reaches them.
    assert len(run.ranks) == 2
    assert all(os.getsid(pid) == pid for pid in run.ranks)

    run.launcher.kill()  # SIGKILL: no chance to forward anything to the ranks
    run.launcher.wait()
    seconds = wait_stopped(run.ranks, timeout=10)
    assert seconds is not None, f"ranks still running: {[p for p in run.ranks if running(p)]}"
    stderr = run.stderr_path.read_text()
    for rank in (0, 1):
        assert gone_line(run.launcher.pid, str(rank)) in stderr.splitlines(), stderr[-3000:]
    # Stopped by the guard, not by running out of work: the build is unfinished, with nothing half-written.
    done = run.shard_records()
    assert not (run.out / "manifest.json").exists() and 2 <= done < NUM_IMAGES
    leftovers = [p.name for d in ("data", "work", "work/shards") for p in (run.out / d).glob(".*.tmp-*")]
    assert leftovers == []

    resumed = subprocess.run(run.command(), env=run.env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    kept = int(resumed.stdout.split("and kept ")[1].split()[0])
    assert kept >= done  # what the stopped ranks completed was reused, not redone
    assert "taking over" not in resumed.stderr  # rank 0 released the writer lock while it unwound

    single = tmp_path / "one"
    config = GenerateConfig.from_dict(
        {**SETTINGS, "out_dir": str(single),
         "sources": [{"type": "coco", "name": "coco", "images": str(run.images), "annotations": str(run.annotations)}]}
    )
    run_generation(config, progress=False)
    assert files_of(run.out) == files_of(single)


@pytest.mark.slow
def test_attack_without_the_watchdog_ranks_outlive_a_killed_launcher(launch):
    run = launch(env=NO_WATCHDOG)
    run.start_and_wait_for_both_ranks()
    assert len(run.ranks) == 2
    done_at_kill = run.shard_records()
    assert not (run.out / "manifest.json").exists() and done_at_kill < NUM_IMAGES - 4
    run.launcher.kill()
    run.launcher.wait()
    # Not a fixed sleep and a "still running" check: the pipeline made a build fast enough that orphans can finish
    # it in 3 s. What shows the attack whatever the speed: with nobody to report to, they build on to the end.
    assert wait_stopped(run.ranks, timeout=300) is not None, "the orphans never finished"
    assert (run.out / "manifest.json").exists(), "the orphans stopped by themselves: the attack shows nothing"
    assert run.shard_records() > done_at_kill
