"""builder/parquet_shard.py writes the very bytes ``Dataset.from_dict(...).to_parquet`` writes, faster: compared
byte for byte here on shard-like rows, with one row group, several, and past the 1000 rows ``datasets`` samples
to size them. If a ``datasets`` upgrade changes how it writes, these fail before any build's hashes change."""

from __future__ import annotations

import time

import datasets
import numpy as np
import pyarrow.parquet as pq

from inpaintbench.builder.parquet_shard import write_parquet
from inpaintbench.builder.shards import rows_to_columns
from inpaintbench.schema import COLUMNS, FEATURES
from tests.helpers.shard_rows import make_row


def columns_of(rows) -> dict:
    return rows_to_columns(rows)  # images encoded and checked, as write_shard hands them over


def written_by_datasets(columns, path) -> bytes:
    datasets.disable_progress_bars()
    try:
        datasets.Dataset.from_dict(columns, features=FEATURES).to_parquet(str(path))
    finally:
        datasets.enable_progress_bars()
    return path.read_bytes()


def written_here(columns, path) -> bytes:
    write_parquet(columns, FEATURES, path)
    return path.read_bytes()


def test_the_bytes_are_those_datasets_writes(tmp_path):
    columns = columns_of([make_row(i) for i in range(12)])
    ours = written_here(columns, tmp_path / "ours.parquet")
    assert ours == written_by_datasets(columns, tmp_path / "theirs.parquet")
    loaded = datasets.load_dataset("parquet", data_files=str(tmp_path / "ours.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert loaded.features == FEATURES and list(loaded.column_names) == COLUMNS
    assert np.array_equal(np.asarray(loaded[3]["image"]), np.asarray(make_row(3)["image"]))


def test_several_row_groups_split_where_datasets_splits_them(tmp_path, monkeypatch):
    # datasets sizes row groups from the data (at most MAX_ROW_GROUP_SIZE each); a small limit makes several.
    monkeypatch.setattr(datasets.config, "MAX_ROW_GROUP_SIZE", "20KB")
    columns = columns_of([make_row(i) for i in range(12)])
    ours = written_here(columns, tmp_path / "ours.parquet")
    assert ours == written_by_datasets(columns, tmp_path / "theirs.parquet")
    assert pq.ParquetFile(tmp_path / "ours.parquet").num_row_groups > 2


def test_past_a_thousand_rows_the_size_estimate_is_datasets_own(tmp_path, monkeypatch):
    # Above 1000 rows datasets estimates the size from the first 1000 and scales: the row groups follow it.
    monkeypatch.setattr(datasets.config, "MAX_ROW_GROUP_SIZE", "200KB")
    row = rows_to_columns([make_row(0, size=4)])
    columns = {name: values * 1203 for name, values in row.items()}
    ours = written_here(columns, tmp_path / "ours.parquet")
    assert ours == written_by_datasets(columns, tmp_path / "theirs.parquet")
    assert pq.ParquetFile(tmp_path / "ours.parquet").num_row_groups > 1


def test_an_empty_table_too(tmp_path):
    columns = {name: [] for name in COLUMNS}
    assert written_here(columns, tmp_path / "ours.parquet") == written_by_datasets(columns, tmp_path / "theirs.parquet")


def test_it_takes_a_fraction_of_datasets_time(tmp_path):
    """What it is for: Dataset.from_dict fingerprints the table (pickles and hashes every PNG). This thread's CPU
    time, best of 5: wall time on a shared machine measures the neighbours."""
    columns = columns_of([make_row(i, size=200) for i in range(16)])
    best = {}
    for name, write in (("ours", written_here), ("datasets", written_by_datasets)):
        for k in range(5):
            started = time.thread_time()
            write(columns, tmp_path / f"{name}{k}.parquet")
            best[name] = min(best.get(name, float("inf")), time.thread_time() - started)
    assert best["ours"] < 0.6 * best["datasets"], best
