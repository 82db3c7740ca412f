"""Every sample carries a recipe; ``inpaintbench regenerate`` rebuilds it and compares pixels; one call can give both
strategies, and every sample records where its pixels really changed.

Real backends (the classical ones and tiny random-weight diffusers pipelines) through the real generator.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from inpaintbench.builder.backends import create_backend
from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from inpaintbench.builder.regenerate import RegenerateError, regenerate
from inpaintbench.schema import CHANGED_PIXEL_THRESHOLD
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, decoded, rows_of, write_coco_set
from tests.helpers.tiny_pipelines import save_tiny

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py
TINY = {"steps": 2, "working_long_side": 64}


def build(tmp_path: Path, backends: list[dict], name: str = "out", **settings) -> Path:
    images, annotations = write_coco_set(tmp_path / "coco", num_images=4, bad_inputs=False)
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images, annotations)], "out_dir": str(tmp_path / name), "backends": backends,
        "objects_per_image": 2, **SMALL_PHOTO_CONFIG, **settings,
    })
    run_generation(config, progress=False)
    return tmp_path / name


def test_classical_samples_regenerate_bit_identically_and_a_forged_image_is_caught(tmp_path):
    out = build(tmp_path, [{"name": "opencv_telea"}, {"name": "opencv_ns"}, {"name": "patchmatch"}])
    rows = rows_of(out)
    assert {r["backend"] for r in rows} == {"opencv_telea", "opencv_ns", "patchmatch", "none"}
    for row in rows:
        recipe = json.loads(row["recipe"])
        assert recipe["format"] == 1 and recipe["run_seed"] == 0 and recipe["strategy"] == row["strategy"]
        if row["label"] == 1:
            assert recipe["seed"] == row["seed"] and recipe["libraries"]["opencv"]
            assert recipe["call"]["members"][recipe["call"]["position"]] == row["sample_id"]
        report = regenerate(row["sample_id"], out, tmp_path / "regen")
        assert report.identical and report.max_abs_difference == 0, (row["sample_id"], report)
        assert (tmp_path / "regen" / f"{row['sample_id']}.png").is_file()

    # The attack: a row whose stored image was altered after the fact (one pixel of one inpainted sample).
    victim = next(r for r in rows if r["backend"] == "patchmatch")
    shard = next(p for p in sorted((out / "data").glob("*.parquet"))
                 if victim["sample_id"] in pq.read_table(p, columns=["sample_id"]).column(0).to_pylist())
    table = pq.read_table(shard)
    images = table.column("image").to_pylist()
    index = table.column("sample_id").to_pylist().index(victim["sample_id"])
    forged = decoded(images[index]).copy()
    forged[0, 0] ^= 32  # every channel moves by exactly 32
    buffer = io.BytesIO()
    Image.fromarray(forged).save(buffer, format="PNG")
    images[index] = {"bytes": buffer.getvalue(), "path": None}
    column = pa.array(images, type=table.schema.field("image").type)
    pq.write_table(table.set_column(table.schema.get_field_index("image"), "image", column), shard)
    report = regenerate(victim["sample_id"], out, tmp_path / "regen")
    assert not report.identical and report.max_abs_difference == 32 and report.psnr_db is not None


def test_the_cli_reports_and_refuses_clearly(tmp_path):
    out = build(tmp_path, [{"name": "opencv_telea"}])
    sample = next(r["sample_id"] for r in rows_of(out) if r["label"] == 1)
    command = [sys.executable, "-m", "inpaintbench.cli", "regenerate", sample, "--data", str(out), "--out",
               str(tmp_path / "r")]
    ok = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and f"{sample}: identical" in ok.stdout, ok.stderr
    assert json.loads((tmp_path / "r" / f"{sample}.json").read_text())["identical"] is True
    unknown = subprocess.run(command[:4] + ["nope-0"] + command[5:], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no sample 'nope-0'" in unknown.stderr
    with pytest.raises(RegenerateError, match="no Parquet shards"):
        regenerate(sample, tmp_path / "coco", tmp_path / "r")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: save_tiny(family, root / family) for family in ("sd", "flux")}


def test_both_strategies_come_from_one_call_and_changed_pixels_are_recorded(tmp_path, tiny):
    backends = [{"name": "sd_inpaint", "params": {**tiny["sd"], **TINY, "strategy": "both"}}]
    out = build(tmp_path, backends, pristine_ratio=0.3)
    rows = rows_of(out)
    edits: dict[str, list[dict]] = {}
    for row in rows:
        if row["label"] == 1:
            edits.setdefault(row["edit_id"], []).append(row)
    assert edits and all(sorted(r["strategy"] for r in pair) == ["full_regeneration", "paste_back"]
                         for pair in edits.values())
    for pair in edits.values():
        paste, full = sorted(pair, key=lambda r: r["strategy"] != "paste_back")
        mask = decoded(paste["mask"]) > 0
        # One model output finished twice: without feathering, the pasted pixels are the regeneration's.
        assert (decoded(paste["image"])[mask] == decoded(full["image"])[mask]).all()
        assert paste["seed"] == full["seed"] and paste["sample_id"] != full["sample_id"]
    # The exact reference for the changed-pixels mask, from the stored image and original of every row.
    outside_full = []
    for row in rows:
        difference = np.abs(decoded(row["image"]).astype(int) - decoded(row["original"]).astype(int)).max(axis=2)
        expected = difference > CHANGED_PIXEL_THRESHOLD
        assert ((decoded(row["changed_mask"]) > 0) == expected).all(), row["sample_id"]
        mask = decoded(row["mask"]) > 0
        if row["strategy"] == "paste_back":
            assert not (expected & ~mask).any()  # paste-back changes nothing outside the mask
        if row["strategy"] == "full_regeneration":
            outside_full.append(json.loads(row["extra"])["changed_mask"]["outside_mask_fraction"])
        if row["label"] == 0:
            assert not expected.any() and row["edit_id"] == ""
    assert outside_full and min(outside_full) > 0.5  # a regeneration changes pixels far outside the mask


def test_diffusion_samples_regenerate_bit_identically_from_their_batched_call(tmp_path, tiny):
    backends = [{"name": "sd_inpaint", "params": {**tiny["sd"], **TINY}},
                {"name": "flux_fill", "params": {**tiny["flux"], **TINY, "strategy": "both"}}]
    out = build(tmp_path, backends)
    rows = [r for r in rows_of(out) if r["label"] == 1]
    batched = [r for r in rows if len(json.loads(r["recipe"])["call"]["members"]) > 1]
    assert batched  # two objects of one photo drew the same backend: one call of two
    for row in rows:
        recipe = json.loads(row["recipe"])
        assert recipe["pipeline_class"] in ("StableDiffusionInpaintPipeline", "FluxFillPipeline")
        assert recipe["models"]["model"]["sha256"] and recipe["scheduler"]["config"] and recipe["dtype"] == "float32"
        assert {"diffusers", "transformers", "torch"} <= {k for k, v in recipe["libraries"].items() if v}
        report = regenerate(row["sample_id"], out, tmp_path / "regen")
        assert report.identical, (row["sample_id"], report)
        assert report.environment_differences == []


def test_a_hub_checkpoint_is_recorded_with_the_commit_of_its_snapshot(tmp_path, tiny, monkeypatch):
    # An HF cache as huggingface_hub lays it out: refs/main names the snapshot folder of a commit.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny-org--tiny-sd-inpaint"
    shutil.copytree(tiny["sd"]["model"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    backend = create_backend("sd_inpaint", model="tiny-org/tiny-sd-inpaint", **TINY)
    assert backend.recipe()["models"]["model"] == {"id": "tiny-org/tiny-sd-inpaint", "revision": commit}


BACKEND_OF_FAMILY = {"sdxl": "sdxl_inpaint", "sd3": "sd3_inpaint", "kandinsky": "kandinsky22_inpaint",
                     "controlnet": "controlnet_inpaint", "auto": "auto_inpaint"}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(BACKEND_OF_FAMILY))
def test_every_other_diffusion_family_regenerates_bit_identically(tmp_path, tiny, family):
    # auto_inpaint opens the tiny SD 1.5 checkpoint through AutoPipelineForInpainting.
    params = {"model": tiny["sd"]["model"]} if family == "auto" else save_tiny(family, tmp_path / family)
    out = build(tmp_path, [{"name": BACKEND_OF_FAMILY[family], "params": {**params, **TINY}}])
    rows = [r for r in rows_of(out) if r["label"] == 1]
    assert rows
    for row in rows:
        report = regenerate(row["sample_id"], out, tmp_path / "regen")
        assert report.identical and report.environment_differences == [], (row["sample_id"], report)


@pytest.mark.slow  # two fresh interpreters importing diffusers (~17 s)
def test_a_scheduler_config_is_recorded_with_the_same_bytes_in_every_process():
    """diffusers builds a loaded scheduler's ``_use_default_values`` from a set, so its order follows the process's
    hash seed; the recipe sorts it. Two processes under other PYTHONHASHSEEDs write the same recipe bytes; the attack
    beside it: diffusers' raw config differs between them (what benchmarks/residency.py caught: the same samples,
    other recipe bytes)."""
    script = (
        "import json; from diffusers import UniPCMultistepScheduler as S; "
        "from inpaintbench.builder.backends.diffusion_common import scheduler_config; "
        "s = S.from_config(S().config); "
        "print(json.dumps(dict(s.config))); print(json.dumps(scheduler_config(s)))"
    )
    outputs = []
    for hash_seed in ("1", "2", "3", "4"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout.splitlines()[-2:])
    assert len({raw for raw, _ in outputs}) > 1, "diffusers' order did not vary: the attack shows nothing"
    assert len({recorded for _, recorded in outputs}) == 1
