"""Every entry point reads the ground truth and the maps alike: the ``evaluate`` module (summaries), the CLI on a
detector, the CLI on a folder submission. Masks stored as 0/255, 0/1, 1-bit or 16-bit give the same numbers (a
0/1 mask read with "> 127" would be empty: every forged image would drop out of the pixel metrics); a mask that
cannot be read is refused naming the sample; a map of another aspect ratio is refused the same way everywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inpaintbench.cli import main
from inpaintbench.harness.metrics import METRIC_PATH, summaries_as_inputs
from inpaintbench.harness.reduce import summarize_prediction
from tests.helpers.harness_rows import make_rows, oracle_maps

ENCODINGS = {
    "0/255": lambda gt: Image.fromarray(gt.astype(np.uint8) * 255, "L"),
    "0/1": lambda gt: Image.fromarray(gt.astype(np.uint8), "L"),
    "1-bit": lambda gt: Image.fromarray(gt.astype(np.uint8) * 255, "L").convert("1"),
    "16-bit": lambda gt: Image.fromarray(gt.astype(np.uint16) * 65535),
}

# A detector that returns the same map the folder submission holds (the oracle maps, by image content).
ORACLE_DETECTOR = """
import json, numpy as np

class FromFile:
    def __init__(self, maps):
        # The maps travel inside the params file: the sandbox exposes that file, nothing beside it.
        self.maps = {int(k): np.asarray(v, np.uint8) for k, v in json.loads(open(maps).read()).items()}

    def predict(self, image):
        return {"map": self.maps[int(image[0, 0, 0]) * 256 + int(image[0, 0, 1])]}
"""


def _shard(path, encoding: str) -> str:
    import datasets

    from inpaintbench.schema import FEATURES

    rows = make_rows(8)
    for i, mask in enumerate(rows["mask"]):
        rows["mask"][i] = ENCODINGS[encoding](np.asarray(mask) > 127)
        image = np.asarray(rows["image"][i]).copy()
        image[0, 0, :2] = divmod(i, 256)  # the detector's lookup key
        rows["image"][i] = rows["original"][i] = Image.fromarray(image)
    datasets.Dataset.from_dict(rows, features=FEATURES).to_parquet(path)
    return path


def _folder(root, maps) -> str:
    (root / "maps").mkdir(parents=True)
    for sample_id, arr in maps.items():
        Image.fromarray(arr, "L").save(root / "maps" / f"{sample_id}.png")
    return str(root)


def _metrics(path) -> dict:
    metrics = json.loads(path.read_text())["metrics"]
    metrics.pop("pixel_pooled_levels")
    return metrics


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    maps = oracle_maps(8)
    folder = _folder(root / "sub", maps)
    index = {i: maps[sid].tolist() for i, sid in enumerate(sorted(maps))}
    (root / "maps.json").write_text(json.dumps(index))
    (root / "det.py").write_text(ORACLE_DETECTOR)
    return maps, folder, root


def test_every_mask_encoding_scores_the_same_on_every_entry_point(tmp_path, oracle):
    import evaluate

    maps, folder, root = oracle
    seen = {}
    for encoding in ENCODINGS:
        shard = _shard(str(tmp_path / f"{encoding.replace('/', '_')}.parquet"), encoding)
        out = tmp_path / encoding.replace("/", "_")
        assert main(["evaluate", "--data", shard, "--submission", folder, "--bootstrap", "0", "--no-progress",
                     "--output", str(out / "folder.json")]) == 0
        assert main(["evaluate", "--data", shard, "--detector", f"{root / 'det.py'}:FromFile", "--detector-params",
                     json.dumps({"maps": str(root / "maps.json")}), "--bootstrap", "0", "--no-progress",
                     "--output", str(out / "detector.json")]) == 0
        rows = make_rows(8)
        summaries = [summarize_prediction(maps[sid], ENCODINGS[encoding](np.asarray(mask) > 127), None, label)
                     for sid, mask, label in zip(rows["sample_id"], rows["mask"], rows["label"], strict=False)]
        module = evaluate.load(METRIC_PATH).compute(**summaries_as_inputs(summaries))
        module.pop("pixel_pooled_levels")
        seen[encoding] = (_metrics(out / "folder.json"), _metrics(out / "detector.json"), module)
    forged = np.asarray(make_rows(8)["mask"][1]) > 127
    assert forged.any() and not (np.asarray(ENCODINGS["0/1"](forged)) > 127).any()  # the old rule read it as empty
    reference = seen["0/255"][0]
    assert reference["n_pixel_images"] == 4 and reference["pixel_f1_mean"] > 0.8  # the forged images count
    for encoding, (folder_metrics, detector_metrics, module_metrics) in seen.items():
        assert folder_metrics == reference, encoding
        assert detector_metrics == reference, encoding
        assert module_metrics == reference, encoding


def test_an_unreadable_mask_is_refused_naming_the_sample(tmp_path, oracle, capsys):
    import datasets

    from inpaintbench.schema import FEATURES

    _, folder, _ = oracle
    rows = make_rows(8)
    mask = np.zeros((40, 56), np.uint8)
    mask[:5] = 100  # non-zero, but neither 0/1 nor 0/255: reading it as empty would hide a forgery
    rows["mask"][3] = Image.fromarray(mask, "L")
    shard = str(tmp_path / "bad.parquet")
    datasets.Dataset.from_dict(rows, features=FEATURES).to_parquet(shard)
    assert main(["evaluate", "--data", shard, "--submission", folder, "--bootstrap", "0", "--no-progress",
                 "--output", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "sample s003" in err and "ambiguous" in err
    assert not (tmp_path / "r.json").exists()


def test_another_aspect_ratio_is_refused_alike_on_every_entry_point(tmp_path, oracle):
    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.harness.run import EvalOptions, run_evaluation

    maps = dict(oracle[0])
    maps["s001"] = np.zeros((40, 40), np.uint8)  # the image is 40 x 56
    folder = _folder(tmp_path / "sub", maps)
    shard = _shard(str(tmp_path / "d.parquet"), "0/255")
    results = run_evaluation(EvalOptions(data=shard, submission=folder, bootstrap=0, progress=False,
                                         policy="penalize"), open_eval_data(shard), use_evaluate=False)
    (problem,) = results["failures"]["samples"]
    assert problem["sample_id"] == "s001" and problem["kind"] == "wrong_shape"
    assert "different aspect ratio" in problem["detail"]
    with pytest.raises(ValueError, match="different aspect ratio"):  # the evaluate module's reducer: the same rule
        summarize_prediction(maps["s001"], np.asarray(make_rows(8)["mask"][1]))
    # ...while the same aspect ratio at another size is resized, on both paths.
    half = np.asarray(Image.fromarray(oracle[0]["s001"]).resize((28, 20)))
    assert summarize_prediction(half, np.asarray(make_rows(8)["mask"][1])).n_pixels == 40 * 56
