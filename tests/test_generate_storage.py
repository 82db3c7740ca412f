"""Storage that refuses writes: a full disk and a read-only folder in real mount namespaces (``unshare -m`` with a
tmpfs or a read-only bind mount), and a file-size limit (``RLIMIT_FSIZE``). Each gives ``inpaintbench generate:
error:`` naming the file, exit 2, leaves nothing half-written, and the same command resumes once storage allows."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set

pytestmark = pytest.mark.slow  # each test runs the generator CLI in fresh interpreters: 8-10 s on 2 shared cores


def _can_mount_privately() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


# Only the namespace tests need this; the file-size limit test runs anywhere.
needs_private_mounts = pytest.mark.skipif(not _can_mount_privately(), reason="needs root and unshare -m (mounts)")


def generate_command(coco, out: Path) -> list[str]:
    images, annotations = coco
    config = Path(annotations).parent / "generate.yaml"
    config.write_text(yaml.safe_dump({"sources": [coco_source_spec(images, annotations)], **SMALL_PHOTO_CONFIG}))
    return [sys.executable, "-m", "inpaintbench.cli", "generate", "--config", str(config), "--out", str(out),
            "--no-progress"]


def in_namespace(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300)


@pytest.fixture
def coco(tmp_path):
    return write_coco_set(tmp_path / "coco", num_images=6, bad_inputs=False)


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if ".tmp-" in p.name] if out.exists() else []


@needs_private_mounts
def test_a_full_disk_is_a_clear_error_and_the_run_resumes_once_there_is_room(coco, tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    out = mount / "out"
    command = shlex.join(generate_command(coco, out))
    # 96 KB of tmpfs: the claim and the first small files fit, a shard does not. Then the same command with 20 MB.
    script = (f"mount -t tmpfs -o size=96k tmpfs {shlex.quote(str(mount))} && {{ {command}; echo rc=$?; }} && "
              f"ls -a {shlex.quote(str(out))}/data > {shlex.quote(str(tmp_path / 'after-full.txt'))} 2>&1; "
              f"mount -o remount,size=20m {shlex.quote(str(mount))} && {{ {command}; echo rc=$?; }} && "
              f"cp {shlex.quote(str(out / 'manifest.json'))} {shlex.quote(str(tmp_path / 'manifest.json'))}")
    result = in_namespace(script)
    first, second = result.stdout.count("rc=2"), result.stdout.count("rc=0")
    assert first == 1 and second == 1, result.stdout + result.stderr
    assert "inpaintbench generate: error:" in result.stderr and "No space left on device" in result.stderr
    assert str(out) in result.stderr  # the file is named
    assert "Traceback" not in result.stderr
    assert ".tmp-" not in (tmp_path / "after-full.txt").read_text()  # nothing half-written was kept
    assert (tmp_path / "manifest.json").is_file()  # resumed to completion once there was room


def test_a_file_size_limit_is_a_clear_error(coco, tmp_path):
    out = tmp_path / "out"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # bytes: the claim fits, a shard does not

    result = subprocess.run(generate_command(coco, out), capture_output=True, text=True, timeout=300, preexec_fn=limit)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "inpaintbench generate: error:" in result.stderr and "File too large" in result.stderr
    assert "Traceback" not in result.stderr and _leftovers(out) == []
    again = subprocess.run(generate_command(coco, out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]  # resumes without the limit


@needs_private_mounts
def test_a_finished_build_reruns_on_read_only_storage_and_an_unfinished_one_says_so(coco, tmp_path):
    out = tmp_path / "out"
    assert subprocess.run(generate_command(coco, out), capture_output=True, timeout=300).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    command = shlex.join(generate_command(coco, out))
    quoted = shlex.quote(str(out))
    ro = f"mount --bind {quoted} {quoted} && mount -o remount,bind,ro {quoted}"
    finished = in_namespace(f"{ro} && {command}")
    assert finished.returncode == 0, finished.stderr[-2000:]  # nothing to write: a finished build re-reads fine
    # The attack on the other side: an unfinished build on read-only storage must say so, not crash.
    (out / "manifest.json").unlink()
    shard = sorted((out / "data").glob("*.parquet"))[0]
    shard.unlink()
    unfinished = in_namespace(f"{ro} && {command}")
    assert unfinished.returncode == 2 and "inpaintbench generate: error:" in unfinished.stderr
    assert "Read-only file system" in unfinished.stderr and "Traceback" not in unfinished.stderr
    assert {p for p in out.rglob("*") if p.is_file()} == set(before) - {out / "manifest.json", shard}
