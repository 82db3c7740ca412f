"""A real crash: the CLI is SIGKILLed mid-run, started again with the same command, and must end byte-identical to
an uninterrupted run (same shards, same manifest, no duplicate and no missing sample id)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, files_of, write_coco_set

SETTINGS = {**SMALL_PHOTO_CONFIG, "samples_per_shard": 3, "backends": [{"name": "patchmatch"}]}  # 1 image per shard


def cli_command(config_file: Path, images: Path, annotations: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "inpaintbench.cli", "generate", "--config", str(config_file), "--no-embedded",
            "--images", str(images), "--annotations", str(annotations), "--out", str(out), "--no-progress"]


@pytest.mark.slow
def test_sigkill_then_restart_ends_identical_to_an_uninterrupted_run(tmp_path):
    images, annotations = write_coco_set(tmp_path / "coco", num_images=12)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(SETTINGS))
    out = tmp_path / "killed"
    command = cli_command(config_file, images, annotations, out)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    records = out / "work" / "shards"
    deadline = time.monotonic() + 120
    while len(list(records.glob("*.json"))) < 2:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no shard written in 120 s"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    written_before_restart = len(list(records.glob("*.json")))
    assert not (out / "manifest.json").exists() and written_before_restart < 14  # really cut short

    restarted = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert restarted.returncode == 0, restarted.stderr
    assert f"kept {written_before_restart} complete one(s)" in restarted.stdout

    # The uninterrupted reference, in process: the same config as the CLI builds (hence the same hash).
    reference = tmp_path / "reference"
    config = GenerateConfig.from_dict(
        {**SETTINGS, "out_dir": str(reference),
         "sources": [{"type": "coco", "name": "coco", "images": str(images), "annotations": str(annotations)}]}
    )
    run_generation(config, progress=False)
    assert files_of(out) == files_of(reference)
    assert not [p for p in (out / "data").iterdir() if p.name.startswith(".")]  # no temp file left behind

    files = sorted(str(p) for p in (out / "data").glob("*.parquet"))
    ids = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "c"))["sample_id"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(ids) == len(set(ids)) == manifest["counts"]["total"] > 12
