"""What the operating system gives the sandbox: a bubblewrap jail, a memory cgroup, or a watchdog.

A submitted detector must see only its image. Under bubblewrap it runs in new user, PID, network, IPC, UTS,
mount and (where possible) cgroup namespaces, with an empty environment, its own /proc (so neither the
scorer's command line nor its environment is visible), no network interface but its own loopback, and a
filesystem of read-only binds of only what Python needs: the system's /usr, the interpreter's prefix, the venv,
a copy of the ``inpaintbench`` *Python source* (never the repository: it holds runs, releases and the embedded
set's annotations, i.e. answers), the detector's own code and the files its params name, plus a private
writable scratch folder at /tmp (a size-capped tmpfs, gone with the jail). Killing the jail's PID 1 (bwrap's init)
ends every process in it.

Memory is limited for the whole process tree by a per-run memory cgroup when one can be created (cgroup v2
``memory.max`` or v1 ``memory.limit_in_bytes`` under the scorer's own cgroup), otherwise by the parent summing
the resident memory of every process descended from the sandbox. Each process also keeps ``RLIMIT_AS``.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ISOLATION_ENV = "INPAINTBENCH_SANDBOX_ISOLATION"  # auto (default), bwrap, none
MEMORY_ENV = "INPAINTBENCH_SANDBOX_MEMORY"  # auto (default), watchdog (skip the cgroup)
PACKAGE_MOUNT = "/ib/lib"  # where the copy of the inpaintbench source appears inside the jail
# Only what the dynamic loader and libc look up; nothing else of /etc (no credentials, hosts, configs).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "passwd", "group",
             "nsswitch.conf")
# Thread-count settings are not secrets and change a detector's speed a lot; everything else is dropped.
PASSED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LANG")


# ---- which method works here -----------------------------------------------------------------------------

def requested_method(value: str | None = None) -> str:
    value = (value or os.environ.get(ISOLATION_ENV) or "auto").strip().lower()
    if value not in ("auto", "bwrap", "none"):
        raise ValueError(f"sandbox isolation must be auto, bwrap or none, got {value!r} (from {ISOLATION_ENV})")
    return value


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """(works, why not): runs the jail's namespace flags once on /bin/true."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed (Debian package 'bubblewrap')"
    argv = [exe, *_namespace_flags(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, env=_launcher_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not run: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        return False, f"bwrap cannot create namespaces here (exit {done.returncode}: {err[:300]})"
    return True, ""


def _namespace_flags() -> list[str]:
    return ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]


def _launcher_env() -> dict[str, str]:
    # bwrap's own init is PID 1 inside the jail and its /proc/1/environ is readable there: start it bare.
    return {"PATH": "/usr/bin:/bin"}


# ---- the jail's filesystem -------------------------------------------------------------------------------

def copy_package_source(dest: Path) -> Path:
    """Copy the ``.py`` files of ``inpaintbench`` and its root subpackages into ``dest/inpaintbench``.

    Only Python source goes in: the repository's data (builder/embedded/annotations.json, harness/results,
    runs/, release/) stays out whatever folders appear later."""
    import inpaintbench

    root = dest / "inpaintbench"
    sources = [(Path(next(iter(inpaintbench.__path__))), root)]
    for sub in ("builder", "harness", "space"):
        spec = importlib.util.find_spec(f"inpaintbench.{sub}")  # imports nothing but inpaintbench itself
        if spec is not None and spec.submodule_search_locations:
            sources.append((Path(next(iter(spec.submodule_search_locations))), root / sub))
    for src, dst in sources:
        for path in src.rglob("*.py"):
            rel = path.relative_to(src)
            if "__pycache__" in rel.parts or (src == sources[0][0] and rel.parts[0] in ("builder", "harness", "space")):
                continue
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return dest


def _file_binds(path: str) -> list[str]:
    """A file at the path it is named by and at its real path (a symlinked name must resolve inside too)."""
    out = []
    for p in dict.fromkeys([os.path.abspath(path), os.path.realpath(path)]):
        out += ["--ro-bind", p, p]
    return out


def param_files(params) -> list[str]:
    """Every existing file a params value names, and its model sidecar (``<file>.json``) when there is one."""
    from inpaintbench.harness.training.sidecar import sidecar_path

    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value and os.path.isfile(value):
            found.append(value)
            side = sidecar_path(value)
            if side.is_file():
                found.append(str(side))

    walk(params)
    return found


def code_binds(spec: str) -> tuple[list[str], list[str]]:
    """(bwrap arguments, extra PYTHONPATH entries) exposing the detector's own code read-only."""
    target, sep, _ = spec.rpartition(":")
    if not sep:
        return [], []  # a registered name: its code is in the package copy
    if target.endswith(".py"):
        return (_file_binds(target) if os.path.isfile(target) else []), []
    top = target.split(".")[0]
    if top == "inpaintbench":
        return [], []
    # Where the child's ``python -m`` would find it: its cwd first, then PYTHONPATH, then our own path.
    search = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)), *sys.path]
    found = importlib.machinery.PathFinder.find_spec(top, [p or os.getcwd() for p in search])
    if found is None or found.origin in (None, "built-in", "frozen"):
        return [], []  # not found: the child reports ModuleNotFoundError; or part of Python itself
    location = found.submodule_search_locations[0] if found.submodule_search_locations else found.origin
    if any(os.path.realpath(location).startswith(os.path.realpath(p) + os.sep) for p in _python_roots()):
        return [], []  # installed in the venv or the interpreter: already visible
    binds = []
    for p in dict.fromkeys([os.path.abspath(location), os.path.realpath(location)]):
        binds += ["--ro-bind", p, p]
    return binds, [os.path.dirname(os.path.abspath(location))]


def _python_roots() -> list[str]:
    return list(dict.fromkeys([sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]))


@functools.lru_cache(maxsize=1)
def bwrap_has_size() -> bool:
    """``--size`` (a capped tmpfs) arrived in bubblewrap 0.5; older ones get a host folder as scratch."""
    try:
        done = subprocess.run([shutil.which("bwrap") or "bwrap", "--help"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--size" in done.stdout + done.stderr


def bwrap_argv(child_argv: list[str], package_dir: Path, scratch: Path | int, spec: str, params: dict) -> list[str]:
    """``scratch``: a host folder to bind at /tmp, or the size in bytes of a fresh tmpfs there (its pages count
    in the memory cgroup, and the cap holds where only the watchdog does: no filling the host's disk)."""
    argv = [shutil.which("bwrap") or "bwrap", *_namespace_flags(), "--clearenv"]
    code, pythonpath = code_binds(spec)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join([PACKAGE_MOUNT, *pythonpath])}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    for key, value in env.items():
        argv += ["--setenv", key, value]
    # The scratch first: every later bind lands on top of it, so a venv, interpreter, code or model file that
    # lives under the host's /tmp (a CI checkout in /tmp, pytest's tmp_path) stays visible in the jail.
    argv += (
        ["--size", str(scratch), "--tmpfs", "/tmp"] if isinstance(scratch, int) else ["--bind", str(scratch), "/tmp"]
    )
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    for name in ETC_FILES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for root in _python_roots():
        if not root.startswith("/usr/"):
            argv += ["--ro-bind", root, root]
    argv += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]  # CPU counts for OpenMP
    import inpaintbench

    for installed in inpaintbench.__path__:  # a wheel install in the venv carries data files (package-data): hide it
        if any(os.path.realpath(installed).startswith(os.path.realpath(r) + os.sep) for r in _python_roots()):
            argv += ["--tmpfs", installed]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--ro-bind", str(package_dir), PACKAGE_MOUNT]
    argv += code
    for path in param_files(params):
        argv += _file_binds(path)
    cwd = os.getcwd()  # relative paths in params and specs resolve as they do outside; the folder is empty
    argv += ["--dir", cwd, "--chdir", cwd]
    # The jail's root is a tmpfs bwrap fills with mount points; once filled it is read-only, so the only
    # writable place is the scratch folder (and folders bwrap made inside it for binds under the host's /tmp).
    argv += ["--remount-ro", "/", "--", *child_argv]
    return argv


# ---- memory for the whole tree -----------------------------------------------------------------------------

class MemoryCgroup:
    """A per-run child of the scorer's own memory cgroup with a hard limit; counts OOM kills."""

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version
        self.procs = path / "cgroup.procs"

    @classmethod
    def create(cls, limit_bytes: int) -> MemoryCgroup | None:
        for version, parent in _own_memory_cgroups():
            path = parent / f"inpaintbench-sandbox-{os.getpid()}-{os.urandom(4).hex()}"
            try:
                path.mkdir()
            except OSError:
                continue
            group = cls(path, version)
            try:
                if version == 2:
                    (path / "memory.max").write_text(str(limit_bytes))
                    _try_write(path / "memory.swap.max", "0")
                else:
                    (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
                    _try_write(path / "memory.memsw.limit_in_bytes", str(limit_bytes))  # no escape into swap
                group.oom_kills()
            except OSError:
                group.remove()
                continue
            return group
        return None

    def oom_kills(self) -> int:
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        raise OSError(f"{self.path / name} has no oom_kill counter")

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in self.procs.read_text().split()]
        except OSError:
            return []

    def kill_all(self, wait_s: float = 5.0) -> None:
        deadline = time.monotonic() + wait_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                _kill(pid)
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):  # rmdir fails while the kernel is still tearing the killed processes down
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _try_write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass


def _own_memory_cgroups() -> list[tuple[int, Path]]:
    """Writable places for a child memory cgroup: (version, our own cgroup's directory), v2 first."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    own = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            own[2] = path
        elif "memory" in controllers.split(","):
            own[1] = path
    out = []
    for mount in mounts:
        left, _, right = mount.partition(" - ")
        fields, kinds = left.split(), right.split()
        root, point = fields[3], fields[4]
        if kinds[0] == "cgroup2" and 2 in own:
            version, path = 2, own[2]
        elif kinds[0] == "cgroup" and "memory" in kinds[-1].split(",") and 1 in own:
            version, path = 1, own[1]
        else:
            continue
        if not (path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        directory = Path(point) / path[len(root.rstrip("/")):].lstrip("/")
        if version == 2 and "memory" not in _read(directory / "cgroup.subtree_control").split():
            continue  # children of this cgroup get no memory.max
        out.append((version, directory))
    return sorted(out, key=lambda x: -x[0])


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# ---- the process tree ---------------------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (an orphan in the jail is re-parented to the jail's init, still below)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(pid: int) -> int:
    total = 0
    for p in descendants(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(proc: subprocess.Popen, group: MemoryCgroup | None, session: bool) -> None:
    """Kill the sandbox and everything it started, and wait until they are gone."""
    pids = descendants(proc.pid) if proc.poll() is None else []
    if session:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        _kill(pid)
    proc.wait()
    if group is not None:
        group.kill_all()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and not _zombie(p) for p in pids):
        time.sleep(0.01)


def _zombie(pid: int) -> bool:
    stat = _read(Path(f"/proc/{pid}/stat"))
    return not stat or stat.rpartition(")")[2].split()[0] in ("Z", "X")
