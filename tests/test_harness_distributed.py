"""A detector run spread over two CPU processes with ``accelerate launch`` equals the one-process run."""

from __future__ import annotations

import pytest

from inpaintbench.cli import main
from inpaintbench.harness.results import read_results
from tests.helpers.harness_rows import write_shard


@pytest.mark.slow
def test_two_accelerate_processes_give_the_one_process_results(tmp_path):
    shard = write_shard(tmp_path / "part.parquet", n=10)
    common = ["--data", shard, "--detector", "noise", "--bootstrap", "30", "--train-backends", "telea", "--no-progress"]
    assert main(["evaluate", *common, "--output", str(tmp_path / "one.json")]) == 0
    assert main(["evaluate", *common, "--output", str(tmp_path / "two.json"), "--num-processes", "2"]) == 0
    one, two = read_results(tmp_path / "one.json"), read_results(tmp_path / "two.json")
    assert one["timing"]["samples_per_process"] == {"0": 10}
    assert two["timing"]["samples_per_process"] == {"0": 5, "1": 5}  # index-based split, then gathered
    for key in ("metrics", "intervals", "breakdowns", "domain", "failures", "dataset"):
        assert two[key] == one[key], key


@pytest.mark.slow
def test_refused_submission_exits_2_through_the_launcher(tmp_path, capsys):
    import datasets
    import numpy as np
    from PIL import Image

    from inpaintbench.schema import FEATURES
    from tests.helpers.harness_rows import make_rows

    rows = make_rows(4)
    for i in range(4):
        arr = np.asarray(rows["image"][i]).copy()
        arr[0, 0, 0] = 3 if i == 1 else 200  # the misbehaving detector raises on s001 only
        rows["image"][i] = Image.fromarray(arr)
    path = str(tmp_path / "codes.parquet")
    datasets.Dataset.from_dict(rows, features=FEATURES).to_parquet(path)
    from tests.helpers.harness_rows import MISBEHAVING_DETECTOR

    (tmp_path / "det.py").write_text(MISBEHAVING_DETECTOR)
    out = tmp_path / "r.json"
    code = main(["evaluate", "--data", path, "--detector", f"{tmp_path / 'det.py'}:Misbehaving", "--bootstrap", "0",
                 "--output", str(out), "--no-progress", "--num-processes", "2"])
    assert code == 2 and not out.exists()
    assert "s001" in (tmp_path / "r.problems.json").read_text()
