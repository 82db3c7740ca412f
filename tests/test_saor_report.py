"""``inpaintbench saor-report`` end to end on a small COCO-format source written in the test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.backends import BACKENDS, InpaintBackend, InpaintResult
from inpaintbench.cli import main
from tests.helpers.registries import registered

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


class PromptTintBackend(InpaintBackend):
    """Fills the hole with a colour drawn from the prompt: a backend the prompt steers (follows_prompt), so the
    generator keeps the planner's *replace* plan (prompt-blind classical backends only get removals)."""

    def inpaint(self, request):
        rgb = np.asarray(request.image.convert("RGB")).copy()
        hole = np.asarray(request.mask.convert("L")) > 127
        rgb[hole] = np.frombuffer(request.prompt.encode()[:3].ljust(3, b"x"), np.uint8)
        return InpaintResult(Image.fromarray(rgb), strategy="paste_back")


def box(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


@pytest.fixture()
def coco_config(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("kitchen.png", "street.png"):
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(images / name)
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(["cup", "dining table", "bowl", "car", "truck"])]
    annotations = [
        (1, 1, 2, box(0, 60, 160, 60)), (2, 1, 1, box(20, 30, 30, 30)), (3, 1, 3, box(90, 30, 40, 25)),
        (4, 2, 4, box(10, 40, 60, 50)), (5, 2, 5, box(80, 30, 70, 60)),
        (6, 2, 1, box(0, 0, 2, 2)),  # too small to edit: not a row
    ]
    coco = {
        "images": [{"id": 1, "file_name": "kitchen.png", "width": 160, "height": 120},
                   {"id": 2, "file_name": "street.png", "width": 160, "height": 120},
                   {"id": 3, "file_name": "missing.png", "width": 160, "height": 120}],
        "categories": categories,
        "annotations": [
            {"id": i, "image_id": img, "category_id": cat, "segmentation": seg, "iscrowd": 0,
             "area": float(seg[0][2] - seg[0][0]) * (seg[0][5] - seg[0][1]),
             "bbox": [seg[0][0], seg[0][1], seg[0][2] - seg[0][0], seg[0][5] - seg[0][1]]}
            for i, img, cat, seg in annotations
        ],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    config = {"sources": [{"type": "coco", "name": "mini", "images": str(images),
                           "annotations": str(tmp_path / "coco.json")}], "min_object_pixels": 64}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path / "config.json"


def table_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| mini/")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def planned(config_file, seed: int) -> list[tuple[str, str]]:
    """(replacement, prompt) of each report row, through the report's API with the saor-report defaults."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.planning import create_planner
    from inpaintbench.builder.saor.report import report_rows
    from inpaintbench.builder.sources import build_sources

    config = GenerateConfig.from_file(config_file)
    config = config.replace(seed=seed, planner="saor", planner_params={"removal_share": 0.0})
    sources = build_sources(config.sources, max_side=config.max_image_side)
    rows, _ = report_rows(config, sources, create_planner("saor", removal_share=0.0), progress=False)
    return [(row.replacement, row.prompt) for row in rows]


def test_report_lists_every_editable_object_and_is_reproducible(tmp_path, coco_config):
    out = tmp_path / "report" / "saor.md"
    assert main(["saor-report", "--config", str(coco_config), "--out", str(out), "--no-progress"]) == 0
    text = out.read_text()
    rows = table_rows(text)
    assert [(r[0], r[1]) for r in rows] == [
        ("mini/1", "dining table (1)"), ("mini/1", "cup (2)"), ("mini/1", "bowl (3)"),
        ("mini/2", "car (4)"), ("mini/2", "truck (5)"),
    ]
    for _image, obj, action, replacement, score, _setting, prompt in rows:
        category = obj.split(" (")[0]
        assert action == "replace" and replacement and replacement != category
        assert float(score) > 0 and replacement in prompt
    street = {r[1].split(" (")[0]: r[3] for r in rows if r[0] == "mini/2"}
    assert street["car"] not in ("cup", "bowl", "mug")  # size classes hold in the table too
    assert "mini/3" in text and "missing.png" in text  # the unusable photo is reported, with its file
    out2 = tmp_path / "again.md"
    assert main(["saor-report", "--config", str(coco_config), "--out", str(out2), "--no-progress"]) == 0
    assert out2.read_text() == text
    # The plans come from the seed (the generator's per-sample plan stream): the same rows through the API at the
    # config's seed, other replacements or prompts at another.
    assert planned(coco_config, seed=0) == [(r[3], r[6]) for r in rows]
    assert planned(coco_config, seed=1) != planned(coco_config, seed=0)
    assert main(["saor-report", "--config", str(coco_config), "--seed", "7", "--removal-share", "1",
                 "--out", str(out2), "--no-progress"]) == 0
    assert {r[2] for r in table_rows(out2.read_text())} == {"remove"}


def test_bad_config_fails_clearly_and_keeps_an_existing_report(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sources": [{"type": "coco", "images": str(tmp_path / "nope"), "annotations": "x"}]}))
    out = tmp_path / "report.md"
    out.write_text("previous report\n")
    assert main(["saor-report", "--config", str(bad), "--out", str(out), "--no-progress"]) == 2
    assert "nope" in capsys.readouterr().err
    assert out.read_text() == "previous report\n"


@pytest.fixture
def prompt_tint_backend():
    with registered(BACKENDS, "test_prompt_tint", PromptTintBackend):
        yield PromptTintBackend


def test_generate_with_the_saor_planner_records_the_plan_in_each_sample(tmp_path, coco_config, prompt_tint_backend):
    import glob

    import pyarrow.parquet as pq

    config = json.loads(coco_config.read_text())
    config.update(planner="saor", planner_params={"removal_share": 0.0}, backends=[{"name": "test_prompt_tint"}],
                  objects_per_image=3, pristine_ratio=0.0)
    coco_config.write_text(json.dumps(config))
    out = tmp_path / "run"
    assert main(["generate", "--config", str(coco_config), "--out", str(out), "--no-progress"]) == 0
    files = sorted(glob.glob(str(out / "**" / "*.parquet"), recursive=True))
    columns = ["object_id", "category", "action", "replacement", "replacement_score", "prompt", "extra"]
    samples = [r for f in files for r in pq.read_table(f, columns=columns).to_pylist()]
    assert len(samples) == 5
    report = tmp_path / "report.md"
    assert main(["saor-report", "--config", str(coco_config), "--out", str(report), "--no-progress"]) == 0
    reported = {(r[1].split(" (")[1].rstrip(")"), r[3], r[6]) for r in table_rows(report.read_text())}
    for sample in samples:
        plan = json.loads(sample["extra"])["plan"]
        assert sample["action"] == "replace" and sample["replacement"] != sample["category"]
        assert sample["replacement"] in sample["prompt"] and sample["replacement_score"] > 0
        assert plan["saor_target"] == sample["category"] and plan["saor_candidates"]
        # The report shows exactly what generate recorded (same plan stream, slot edit0).
        assert (sample["object_id"], sample["replacement"], sample["prompt"]) in reported


def test_a_prompt_blind_backend_gets_a_removal_plan_not_a_claimed_replacement(tmp_path, coco_config):
    import glob

    import pyarrow.parquet as pq

    config = json.loads(coco_config.read_text())
    config.update(planner="saor", planner_params={"removal_share": 0.0}, backends=[{"name": "opencv_telea"}],
                  objects_per_image=3, pristine_ratio=0.0)
    coco_config.write_text(json.dumps(config))
    out = tmp_path / "run"
    assert main(["generate", "--config", str(coco_config), "--out", str(out), "--no-progress"]) == 0
    files = sorted(glob.glob(str(out / "**" / "*.parquet"), recursive=True))
    samples = [r for f in files for r in pq.read_table(f, columns=["action", "replacement", "extra"]).to_pylist()]
    assert samples
    for sample in samples:
        assert sample["action"] == "remove" and sample["replacement"] == ""
        assert json.loads(sample["extra"])["planner"] == "simple"
