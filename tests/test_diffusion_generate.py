"""Tiny diffusion pipelines through the teammate's real generator into Parquet shards: a weighted mix of two
families (paste-back and full regeneration), each created once per process, recorded per sample."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import read_records, run_generation
from inpaintbench.schema import FEATURES
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, load_shards, write_coco_set
from tests.helpers.tiny_pipelines import FAMILIES, save_tiny

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


@pytest.mark.slow
def test_tiny_diffusion_mix_runs_through_the_generator_into_shards(clean_coco_set, tmp_path):
    images_dir, annotations = clean_coco_set
    sd = save_tiny("sd", tmp_path / "sd")
    flux = save_tiny("flux", tmp_path / "flux")
    tiny = {"steps": 2, "working_long_side": 64}
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images_dir, annotations)],
        "out_dir": str(tmp_path / "out"),
        "backends": [
            {"name": "sd_inpaint", "weight": 1, "params": {**sd, **tiny, "scheduler": "DDIM", "feather": 3}},
            {"name": "flux_fill", "weight": 1, "params": {**flux, **tiny, "strategy": "full_regeneration"}},
        ],
        **SMALL_PHOTO_CONFIG,
    })
    result = run_generation(config, progress=False)
    dataset = load_shards(result.out_dir, tmp_path / "cache")
    assert dataset.features == FEATURES

    inpainted = dataset.filter(lambda row: row["label"] == 1)
    assert set(inpainted["backend"]) == {"sd_inpaint", "flux_fill"}  # the seeded draw used both
    for row in inpainted:
        params = json.loads(row["backend_params"])
        extra = json.loads(row["extra"])["backend"]
        image, original = np.asarray(row["image"]), np.asarray(row["original"])
        outside = np.asarray(row["mask"]) == 0
        assert image.shape == original.shape
        assert extra["working_size"][0] % 8 == 0 and max(extra["working_size"]) == 64
        if row["backend"] == "sd_inpaint":
            assert row["strategy"] == "paste_back"
            assert params["model"] == sd["model"] and params["scheduler"] == "DDIM" and params["feather"] == 3
            assert extra["scheduler"] == "DDIMScheduler"
            assert (image[outside] == original[outside]).all()
        else:
            assert row["strategy"] == "full_regeneration"
            assert params["model"] == flux["model"] and params["guidance"] == 30.0
            assert not (image[outside] == original[outside]).all()
    # Every inpainted sample went through one of our two backends, and the generator counted each call.
    assert result.backend_calls == {name: inpainted["backend"].count(name) for name in set(inpainted["backend"])}

    again = run_generation(config.replace(out_dir=str(tmp_path / "again")), progress=False)
    first = sorted((result.out_dir / "data").glob("*.parquet"))
    second = sorted((again.out_dir / "data").glob("*.parquet"))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]  # deterministic for a seed
    reseeded = run_generation(config.replace(out_dir=str(tmp_path / "reseeded"), seed=1), progress=False)
    other = sorted((reseeded.out_dir / "data").glob("*.parquet"))
    assert [p.read_bytes() for p in other] != [p.read_bytes() for p in first]  # another seed, other samples


BACKEND_OF_FAMILY = {
    "sd": "sd_inpaint", "sdxl": "sdxl_inpaint", "sd3": "sd3_inpaint", "kandinsky": "kandinsky22_inpaint",
    "flux": "flux_fill", "controlnet": "controlnet_inpaint",
}


@pytest.fixture(scope="module")
def one_photo_set(tmp_path_factory):
    return write_coco_set(tmp_path_factory.mktemp("coco1"), num_images=1, bad_inputs=False)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_writes_shards_through_the_generator(family, one_photo_set, tmp_path):
    images_dir, annotations = one_photo_set
    params = {**save_tiny(family, tmp_path / family), "steps": 2, "working_long_side": 64}
    if family == "kandinsky":
        params["prior_steps"] = 2
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images_dir, annotations)],
        "out_dir": str(tmp_path / "out"),
        "backends": [{"name": BACKEND_OF_FAMILY[family], "params": params}],
        **SMALL_PHOTO_CONFIG,
    })
    result = run_generation(config, progress=False)
    inpainted = load_shards(result.out_dir, tmp_path / "cache").filter(lambda row: row["label"] == 1)
    assert len(inpainted) >= 1
    assert [s for record in read_records(result.out_dir) for s in record.skipped if s["stage"] == "inpaint"] == []
    for row in inpainted:
        assert row["backend"] == BACKEND_OF_FAMILY[family] and row["strategy"] == "paste_back"
        assert json.loads(row["extra"])["backend"]["family"] == family
        outside = np.asarray(row["mask"]) == 0
        assert (np.asarray(row["image"])[outside] == np.asarray(row["original"])[outside]).all()
        assert not (np.asarray(row["image"]) == np.asarray(row["original"])).all()



def test_a_nan_backend_output_is_skipped_with_its_reason_not_written(one_photo_set, tmp_path):
    from tests.helpers.tiny_pipelines import poisoned_copy

    images_dir, annotations = one_photo_set
    params = {**poisoned_copy(save_tiny("sd", tmp_path / "sd"), tmp_path / "nan_sd"), "steps": 2,
              "working_long_side": 64}
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images_dir, annotations)],
        "out_dir": str(tmp_path / "out"),
        "backends": [{"name": "sd_inpaint", "params": params}],
        **SMALL_PHOTO_CONFIG,
    })
    result = run_generation(config, progress=False)
    rows = load_shards(result.out_dir, tmp_path / "cache")
    skipped = [s for record in read_records(result.out_dir) for s in record.skipped if s["stage"] == "inpaint"]
    assert set(rows["label"]) == {0}  # only the pristine photo: no NaN-born image was written as a forgery
    assert skipped and all("NaN/inf pixels" in s["reason"] for s in skipped)
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["skipped"]["by_stage"]["inpaint"] == len(skipped)
