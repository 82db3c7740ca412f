"""A detector run spread over two CPU processes with ``accelerate launch`` equals the one-process run."""

from __future__ import annotations

import pytest

from inpaintbench.cli import main
from inpaintbench.harness.results import read_results
from test_harness_fixtures import write_shard


@pytest.mark.slow
def test_two_accelerate_processes_give_the_one_process_results(tmp_path):
    shard = write_shard(tmp_path / "part.parquet", n=10)
    common = [shard, "--detector", "noise", "--bootstrap", "30", "--train-backends", "telea", "--no-progress"]
    assert main(["evaluate", *common, "--output", str(tmp_path / "one.json")]) == 0
    assert main(["evaluate", *common, "--output", str(tmp_path / "two.json"), "--num-processes", "2"]) == 0
    one, two = read_results(tmp_path / "one.json"), read_results(tmp_path / "two.json")
    assert one["timing"]["samples_per_process"] == {"0": 10}
    assert two["timing"]["samples_per_process"] == {"0": 5, "1": 5}  # index-based split, then gathered
    for key in ("metrics", "intervals", "breakdowns", "domain", "failures", "dataset"):
        assert two[key] == one[key], key
