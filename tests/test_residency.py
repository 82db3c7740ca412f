"""At most ``max_resident_models`` models resident, each loaded at most once per shard, output unchanged.

Real tiny diffusers pipelines (three families, so three distinct sets of weights) through the real generator.
"""

from __future__ import annotations

import gc
import json
import weakref

import pytest

from inpaintbench.builder.backends import create_backend
from inpaintbench.builder.config import ConfigError, GenerateConfig
from inpaintbench.builder.generate import run_generation
from inpaintbench.builder.residency import ResidentModels
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, files_of, write_coco_set
from tests.helpers.tiny_pipelines import save_tiny

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py
TINY = {"steps": 2, "working_long_side": 64}
FAMILIES = {"sd": "sd_inpaint", "sdxl": "sdxl_inpaint", "flux": "flux_fill"}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: save_tiny(family, root / family) for family in FAMILIES}


def mix(tiny_models) -> list[dict]:
    entries = [{"name": FAMILIES[f], "weight": 1, "params": {**tiny_models[f], **TINY}} for f in FAMILIES]
    return entries + [{"name": "opencv_telea", "weight": 1}]  # a weight-free entry never counts as resident


def build_models(tiny_models, max_resident: int, offload: str = "auto") -> ResidentModels:
    entries = mix(tiny_models)
    return ResidentModels(
        lambda i: create_backend(entries[i]["name"], **entries[i].get("params", {})),
        lambda i: entries[i]["name"] != "opencv_telea", max_resident, offload,
    )


def test_an_evicted_model_is_freed_and_the_limit_holds(tiny_models):
    models = build_models(tiny_models, max_resident=1)
    first = models.get(0)
    unet = weakref.ref(first.pipeline.unet)
    del first
    models.get(3)  # the classical entry: loads nothing, evicts nothing
    assert models.resident() == [0] and unet() is not None
    models.get(1)
    gc.collect()
    assert models.resident() == [1]
    assert unet() is None  # on the CPU, eviction unloads: the weights are gone, not just moved
    assert models.log.builds == {0: 1, 3: 1, 1: 1} and models.log.evictions == {0: 1}


def test_without_the_limit_every_model_stays_in_memory(tiny_models):
    # The control: all resident, nothing evicted, every model's weights alive at once.
    models = build_models(tiny_models, max_resident=3)
    unets = [weakref.ref(models.get(i).pipeline.unet) for i in (0, 1)]
    models.get(2)
    gc.collect()
    assert all(ref() is not None for ref in unets) and models.resident() == [0, 1, 2]
    assert models.log.evictions == {}


def test_offload_to_cpu_keeps_the_object_and_counts_a_move(tiny_models):
    models = build_models(tiny_models, max_resident=1, offload="cpu")
    first = models.get(0)
    models.get(1)
    assert models.get(0) is first  # brought back by a move, not rebuilt
    assert models.log.builds == {0: 1, 1: 1} and models.log.moves_in == {0: 1}


@pytest.mark.slow  # 15 loads of a tiny pipeline: ~9 s on 2 shared cores
def test_run_order_loads_each_model_once_per_shard_where_photo_order_would_thrash(tiny_models):
    # Edits of one shard: 4 photos, each drawing backends 0, 1 and 2 in turn (what a mix does).
    photo_order = [i for _ in range(4) for i in (0, 1, 2)]
    attack = build_models(tiny_models, max_resident=1)
    for index in photo_order:  # photo by photo, as the generator ran before
        attack.get(index)
    assert sum(attack.log.builds.values()) == 12  # a model load per edit
    planned = build_models(tiny_models, max_resident=1)
    for index in sorted(photo_order):  # backend by backend, as shard_samples runs them
        planned.get(index)
    assert sum(planned.log.builds.values()) == 3


def test_bad_settings_are_refused():
    for bad in ({"max_resident_models": 0}, {"max_resident_models": True}, {"offload": "disk"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            GenerateConfig.from_dict(bad)


@pytest.mark.slow
def test_output_is_byte_identical_for_every_residency_setting(tiny_models, tmp_path):
    images, annotations = write_coco_set(tmp_path / "coco", num_images=6, bad_inputs=False)
    base = {"sources": [coco_source_spec(images, annotations)], "backends": mix(tiny_models),
            "samples_per_shard": 9, **SMALL_PHOTO_CONFIG}
    outputs = {}
    for setting in (
        {"max_resident_models": 1},
        {"max_resident_models": 3},
        {"max_resident_models": 1, "offload": "cpu"},
        {"max_resident_models": 2, "offload": "model"},
    ):
        name = "-".join(f"{k}={v}" for k, v in setting.items())
        config = GenerateConfig.from_dict({**base, **setting, "out_dir": str(tmp_path / name)})
        run_generation(config, progress=False)
        outputs[name] = files_of(tmp_path / name)
        log = [json.loads(line) for line in (tmp_path / name / "work" / "run_log.jsonl").read_text().splitlines()]
        assert len(log) >= 2  # several shards, so "once per shard" is tested across shards
        for entry in log:
            residency = entry["residency"]
            loads = {}
            for key in ("builds", "moves_in"):
                for index, count in residency.get(key, {}).items():
                    loads[index] = loads.get(index, 0) + count
            assert all(count <= 1 for count in loads.values()), (name, entry)
            if setting["max_resident_models"] == 1 and setting.get("offload") != "cpu":
                # Three models, one at a time: after the first shard each shard reloads what it uses.
                assert entry is log[0] or residency.get("builds"), entry
    first = next(iter(outputs.values()))
    assert all(files == first for files in outputs.values())
    # The settings do not enter the build's identity: a resume with another setting reuses every shard.
    resumed = GenerateConfig.from_dict(
        {**base, "max_resident_models": 2, "out_dir": str(tmp_path / "max_resident_models=1")}
    )
    assert run_generation(resumed, progress=False).shards_reused >= 2
