"""Parquet shards: schema round trip, lossless deterministic images, atomic writes, record validation."""

from __future__ import annotations

import math

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.manifest import build_manifest
from inpaintbench.builder.shards import ShardRecord, complete_record, sample_summary, write_record, write_shard
from inpaintbench.schema import COLUMNS, FEATURES
from tests.helpers.shard_rows import make_row


def test_shard_round_trips_through_load_dataset_with_exact_features_and_pixels(tmp_path):
    rows = [make_row(i) for i in range(3)]
    path = tmp_path / "data" / "train-00000-of-00001.parquet"
    sha256, size = write_shard(rows, path)
    assert size == path.stat().st_size and len(sha256) == 64
    loaded = datasets.load_dataset("parquet", data_files=[str(path)], split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.features == FEATURES and list(loaded.column_names) == COLUMNS
    for row, back in zip(rows, loaded, strict=True):
        for column in ("image", "mask", "original"):
            assert back[column].mode == row[column].mode
            np.testing.assert_array_equal(np.asarray(back[column]), np.asarray(row[column]))  # lossless
        assert back["seed"] == row["seed"] and math.isnan(back["replacement_score"])
        assert back["label"] == row["label"] and back["sample_id"] == row["sample_id"]
    # No temp file left next to the shard.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_shard_bytes_are_a_function_of_the_rows(tmp_path):
    rows = [make_row(i) for i in range(2)]
    first = write_shard(rows, tmp_path / "a.parquet")
    second = write_shard(rows, tmp_path / "b.parquet")
    assert first == second and (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    changed = [make_row(0), make_row(1) | {"prompt": "other"}]
    assert write_shard(changed, tmp_path / "c.parquet")[0] != first[0]


def test_an_empty_chunk_still_gives_a_valid_shard(tmp_path):
    # A chunk whose every photo was skipped: its shard must not break loading the others.
    write_shard([], tmp_path / "a-empty.parquet")
    write_shard([make_row(0)], tmp_path / "b.parquet")
    files = [str(tmp_path / "a-empty.parquet"), str(tmp_path / "b.parquet")]
    loaded = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "c"))
    assert len(loaded) == 1 and loaded.features == FEATURES
    assert datasets.Features.from_arrow_schema(pq.read_schema(files[0])) == FEATURES


def test_a_failed_write_leaves_neither_shard_nor_temp_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "shard.parquet"
    write_shard([make_row(0)], path)
    before = path.read_bytes()
    bad = make_row(1) | {"image": "not an image"}
    with pytest.raises(TypeError, match="sample s-1: column 'image' must be a PIL image"):
        write_shard([make_row(0), bad], path)
    with pytest.raises(ValueError, match="missing columns \\['extra'\\]"):
        write_shard([{k: v for k, v in make_row(2).items() if k != "extra"}], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard.parquet"]


def test_complete_record_accepts_only_an_intact_shard_of_this_config(tmp_path):
    rows = [make_row(i) for i in range(2)]
    sha256, size = write_shard(rows, tmp_path / "data" / "s.parquet")
    items = [["synth", "0"], ["synth", "1"]]
    record = ShardRecord("hash-a", 0, 1, "data/s.parquet", items, sha256, size, [sample_summary(r) for r in rows], [])
    record_path = tmp_path / "work" / "s.json"
    assert complete_record(tmp_path, record_path, "hash-a", items) is None  # no record yet
    write_record(record, record_path)
    assert complete_record(tmp_path, record_path, "hash-a", items) == record
    assert complete_record(tmp_path, record_path, "hash-b", items) is None  # another config
    assert complete_record(tmp_path, record_path, "hash-a", items[:1]) is None  # other work items
    data = (tmp_path / "data" / "s.parquet").read_bytes()
    (tmp_path / "data" / "s.parquet").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit off
    assert complete_record(tmp_path, record_path, "hash-a", items) is None
    record_path.write_text("{not json")
    assert complete_record(tmp_path, record_path, "hash-a", items) is None


def test_manifest_counts_come_from_records_in_shard_order():
    rows = [make_row(i) for i in range(3)]
    records = [
        ShardRecord("h", 1, 2, "data/b", [], "x", 1, [sample_summary(rows[2])], [
            {"stage": "load", "source": "synth", "image_id": "9", "object_id": "", "path": "/p/a.png",
             "reason": "/p/a.png: file not found"}]),
        ShardRecord("h", 0, 2, "data/a", [], "y", 2, [sample_summary(r) for r in rows[:2]], []),
    ]
    manifest = build_manifest(GenerateConfig(), records, num_images=5)
    assert [s["path"] for s in manifest["shards"]] == ["data/a", "data/b"]
    assert manifest["counts"]["total"] == 3
    assert manifest["counts"]["by_label"] == {"inpainted": 1, "pristine": 2}
    assert manifest["skipped"]["by_reason"] == {"file not found": 1}
    assert "out_dir" not in manifest["config"] and manifest["work"] == {"images": 5, "shards": 2}
