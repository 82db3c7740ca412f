"""End to end on the real generator's output: generate (COCO-format set, classical backends) -> ``inpaintbench
publish --to`` -> ``load_dataset`` on the release folder, checked against the generator's manifest."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set

pytestmark = pytest.mark.slow  # a real generation run (~3-8 s on a shared 2-core machine)


def test_generator_output_releases_and_loads_every_released_sample(tmp_path):
    import datasets

    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation
    from inpaintbench.cli import main as cli_main
    from inpaintbench.schema import FEATURES

    images_dir, annotations = write_coco_set(tmp_path / "coco", num_images=8)
    out = tmp_path / "gen"
    config = GenerateConfig.from_dict(
        {
            "sources": [coco_source_spec(images_dir, annotations)],
            "out_dir": str(out),
            "samples_per_shard": 9,
            **SMALL_PHOTO_CONFIG,
        }
    )
    run_generation(config, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    split_config = tmp_path / "splits.yaml"
    split_config.write_text(yaml.safe_dump({
        "salt": "e2e", "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
        "out_of_domain": [{"split": "test_ood_backend", "backends": ["opencv_ns"]}],
        "licenses": {"synth": {"id": "cc0-1.0", "note": "synthetic test photos"}},
    }))

    release = tmp_path / "release"
    argv = [
        "publish",
        "--version",
        "1.0.0",
        "--data",
        str(out),
        "--split-config",
        str(split_config),
        "--out",
        str(release),
    ]
    assert cli_main(argv) == 0

    ds = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "cache"))
    assert all(ds[s].features == FEATURES for s in ds)
    # Every sample but the held-out backend's edits of train photos (no test split shares a photo with train).
    left_out = json.loads((release / "release.json").read_text())["excluded_ood_samples_on_train_photos"]
    assert sum(ds[s].num_rows for s in ds) == manifest["counts"]["total"] - sum(left_out.values())
    backends = Counter(b for s in ds for b in ds[s]["backend"])
    backends["opencv_ns"] += left_out.get("test_ood_backend", 0)
    assert dict(backends) == manifest["counts"]["by_backend"]
    assert not set(ds["train"]["source_image_id"]) & set(ds["test_ood_backend"]["source_image_id"])
    assert set(ds["test_ood_backend"]["backend"]) == {"opencv_ns"}
    card = (release / "README.md").read_text()
    assert f"**{sum(ds[s].num_rows for s in ds)} samples**" in card and manifest["config_hash"] in card
    assert f"Inputs skipped by the generator: {manifest['skipped']['total']} (" in card
