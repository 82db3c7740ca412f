"""``accelerate launch`` with 2 real CPU processes (gloo) writes the same bytes as one plain process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, files_of, write_coco_set
from tests.helpers.ports import free_port

SETTINGS = {**SMALL_PHOTO_CONFIG, "samples_per_shard": 3}  # 1 image per shard: 10 shards for 2 processes


@pytest.mark.slow
def test_two_cpu_processes_write_byte_identical_output_to_one(tmp_path):
    images, annotations = write_coco_set(tmp_path / "coco", num_images=8)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(SETTINGS))
    out = tmp_path / "two"
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        "-m", "inpaintbench.cli", "generate", "--config", str(config_file), "--no-embedded",
        "--images", str(images), "--annotations", str(annotations), "--out", str(out), "--no-progress",
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    launched = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    assert launched.returncode == 0, launched.stderr[-3000:]
    # Only the main process prints the summary, and it counts both processes' shards.
    assert launched.stdout.count("Manifest:") == 1 and "wrote 10 shard(s)" in launched.stdout

    log = [json.loads(line) for line in (out / "work" / "run_log.jsonl").read_text().splitlines()]
    assert {entry["process"] for entry in log} == {0, 1}  # two processes really shared the work
    assert sorted(entry["shard"] for entry in log) == sorted(f"data/{p.name}" for p in (out / "data").glob("*.parquet"))

    single = tmp_path / "one"
    config = GenerateConfig.from_dict(
        {**SETTINGS, "out_dir": str(single),
         "sources": [{"type": "coco", "name": "coco", "images": str(images), "annotations": str(annotations)}]}
    )
    run_generation(config, progress=False)
    assert files_of(out) == files_of(single)
