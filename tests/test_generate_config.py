"""Generation config (files, CLI overrides, hash), work plan and per-sample draws."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from inpaintbench.builder.config import BackendSpec, ConfigError, GenerateConfig
from inpaintbench.builder.draws import (
    SampleKey,
    draw_backend_index,
    draw_dilation_pct,
    draw_mask_variant,
    pristine_probability,
    sample_seed,
)
from inpaintbench.builder.generate_cli import config_from_args
from inpaintbench.builder.work import chunks_for_process, make_chunks, plan_work
from inpaintbench.cli import build_parser


def test_yaml_and_json_files_give_the_same_config(tmp_path):
    data = {
        "seed": 7,
        "backends": [{"name": "patchmatch", "weight": 2, "params": {"patch_size": 9}}, "opencv_ns"],
        "mask_variants": {"object": 1, "bbox": 1},
        "dilation_pct": [2, 4],
    }
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.yaml").write_text(
        "seed: 7\nbackends:\n  - {name: patchmatch, weight: 2, params: {patch_size: 9}}\n  - opencv_ns\n"
        "mask_variants: {object: 1, bbox: 1}\ndilation_pct: [2, 4]\n"
    )
    from_json = GenerateConfig.from_file(tmp_path / "c.json")
    from_yaml = GenerateConfig.from_file(tmp_path / "c.yaml")
    assert from_json == from_yaml
    assert from_json.backends == [BackendSpec("patchmatch", 2, {"patch_size": 9}), BackendSpec("opencv_ns", 1.0, {})]
    assert from_json.config_hash == from_yaml.config_hash
    assert GenerateConfig.from_dict(from_json.to_dict()) == from_json


def test_hash_ignores_out_dir_and_key_order_but_not_content():
    base = GenerateConfig()
    assert base.replace(out_dir="elsewhere").config_hash == base.config_hash
    reordered = base.replace(mask_variants=dict(reversed(list(base.mask_variants.items()))))
    assert reordered.config_hash == base.config_hash
    assert base.replace(seed=1).config_hash != base.config_hash
    assert base.replace(backends=[{"name": "opencv_ns"}]).config_hash != base.config_hash


@pytest.mark.parametrize(
    "text, message",
    [
        ("seeds: 3\n", "unknown key(s) seeds"),
        ("pristine_ratio: 1.5\n", "pristine_ratio must be in [0, 1)"),
        ("backends: [{name: patchmatch, weight: -1}]\n", "backends.patchmatch.weight must be"),
        ("mask_variants: {blob: 1}\n", "unknown mask variant 'blob'"),
        ("samples_per_shard: 2\n", "samples_per_shard (2) is smaller than one image's samples"),
        ("min_area_fraction: 0.6\nmax_area_fraction: 0.5\n", "min_area_fraction < max_area_fraction"),
        ("seed: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_config_file_names_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        GenerateConfig.from_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: cannot read config file"):
        GenerateConfig.from_file(tmp_path / "nope.yaml")


def _args(*argv):
    return build_parser().parse_args(["generate", *argv])


def test_cli_flags_override_the_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\nsamples_per_shard: 30\nout_dir: runs/x\n")
    config = config_from_args(
        _args("--config", str(path), "--seed", "5", "--backend", "opencv_ns:2", "--backend", "patchmatch")
    )
    assert config.seed == 5 and config.samples_per_shard == 30 and config.out_dir == "runs/x"
    assert config.backends == [BackendSpec("opencv_ns", 2.0), BackendSpec("patchmatch", 1.0)]
    assert config_from_args(_args()).out_dir == "runs/embedded"
    assert config_from_args(_args()).sources == [{"type": "embedded"}]


def test_cli_images_adds_a_coco_source_and_no_embedded_drops_the_default():
    both = config_from_args(_args("--images", "d", "--annotations", "a.json"))
    assert both.sources == [
        {"type": "embedded"},
        {"type": "coco", "name": "coco", "images": "d", "annotations": "a.json"},
    ]
    only = config_from_args(_args("--no-embedded", "--images", "d", "--annotations", "a.json", "--source-name", "mine"))
    assert only.sources == [{"type": "coco", "name": "mine", "images": "d", "annotations": "a.json"}]
    with pytest.raises(ConfigError, match="--images and --annotations go together"):
        config_from_args(_args("--images", "d"))
    with pytest.raises(ConfigError, match="no sources left"):
        config_from_args(_args("--no-embedded"))


class _Listing:
    def __init__(self, name, ids):
        self.name, self._ids = name, ids

    def list_image_ids(self):
        return list(self._ids)


def test_plan_sorts_ids_and_chunks_do_not_depend_on_process_count():
    sources = [_Listing("b", ["3", "1", "2"]), _Listing("a", ["z", "y"])]
    items = plan_work(sources)
    assert [(i.source, i.image_id) for i in items] == [("b", "1"), ("b", "2"), ("b", "3"), ("a", "y"), ("a", "z")]
    assert [i.index for i in items] == list(range(5))
    chunks = make_chunks(items, 2)
    assert [len(c.items) for c in chunks] == [2, 2, 1]
    assert chunks[0].shard_name == "train-00000-of-00003.parquet"
    for processes in (1, 2, 3, 5):
        assigned = [c for rank in range(processes) for c in chunks_for_process(chunks, rank, processes)]
        assert sorted(assigned, key=lambda c: c.index) == chunks  # every chunk exactly once
    assert plan_work(sources, max_images=2) == items[:2]
    with pytest.raises(ValueError, match="share the name"):
        plan_work([_Listing("a", ["1"]), _Listing("a", ["2"])])


def test_draws_are_functions_of_sample_identity_only():
    config = GenerateConfig(seed=11)
    keys = [SampleKey("s", f"img{i}", str(i % 4), "edit0") for i in range(1000)]
    first = [
        (
            draw_mask_variant(config, k),
            draw_dilation_pct(config, k),
            draw_backend_index(config, k),
            sample_seed(config, k),
        )
        for k in keys
    ]
    again = [
        (
            draw_mask_variant(config, k),
            draw_dilation_pct(config, k),
            draw_backend_index(config, k),
            sample_seed(config, k),
        )
        for k in reversed(keys)
    ]
    assert first == list(reversed(again))
    other_seed = GenerateConfig(seed=12)
    assert sum(draw_backend_index(other_seed, k) != f[2] for k, f in zip(keys, first, strict=True)) > 250
    # Weights are honoured: object 0.5, bbox 0.25, convex_hull 0.25 (1000 draws: +-7% is > 4 sigma).
    variants = Counter(f[0] for f in first)
    assert abs(variants["object"] / 1000 - 0.5) < 0.07 and abs(variants["bbox"] / 1000 - 0.25) < 0.07
    assert all(0.0 <= f[1] <= 10.0 for f in first)
    zero_weight = config.replace(backends=[{"name": "opencv_ns", "weight": 0}, {"name": "patchmatch", "weight": 1}])
    assert {draw_backend_index(zero_weight, k) for k in keys[:200]} == {1}


def test_pristine_probability_targets_the_ratio():
    config = GenerateConfig(pristine_ratio=0.25)
    assert pristine_probability(config, 1) == pytest.approx(1 / 3)
    assert pristine_probability(config, 2) == pytest.approx(2 / 3)
    assert pristine_probability(config, 5) == 1.0  # at most one pristine per image
    assert pristine_probability(config, 0) == 0.0
    assert pristine_probability(config.replace(pristine_ratio=0.0), 3) == 0.0

