"""The robustness track: perturbations (deterministic, real codecs, ranges checked), ``evaluate --perturb``
through the real CLI, Parquet and sandboxed detector processes, and the leaderboard's clean/perturbed rows."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inpaintbench.cli import main
from inpaintbench.harness.leaderboard import LeaderboardError, load_leaderboard
from inpaintbench.harness.perturbations import (
    PERTURBATIONS,
    PerturbationSpecError,
    parse_perturbation,
    parse_perturbation_list,
)
from inpaintbench.harness.results import read_results
from tests.helpers.harness_rows import H, W, make_rows

REPO = Path(__file__).resolve().parent.parent
COMMITTED_RESULTS = REPO / "harness" / "results"


def _photo(h: int = 96, w: int = 128) -> np.ndarray:
    """A real photo crop (scikit-image ships it): JPEG behaves on photos as it does in the wild, not as on noise."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100 : 100 + h, 150 : 150 + w])


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- the perturbations themselves -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["none", "jpeg:75", "webp:80", "resize:0.5", "resize:1.7", "blur:1.5", "noise:5",
                                  "resize:0.5+jpeg:75", "blur:1+noise:3+webp:50"])
def test_each_perturbation_gives_the_same_bytes_twice(spec):
    image = _photo()
    first = parse_perturbation(spec).apply(image.copy(), "s001")
    second = parse_perturbation(spec).apply(image.copy(), "s001")  # a fresh parse: nothing cached between runs
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3 and first.flags.c_contiguous
    assert first.tobytes() == second.tobytes()
    if spec != "none":
        assert first.shape != image.shape or not np.array_equal(first, image)  # it did something


def test_every_registered_kind_is_covered_here():
    assert PERTURBATIONS.known() == ["blur", "jpeg", "noise", "none", "resize", "webp"]


def test_noise_is_seeded_by_sample_id_not_by_run():
    image = np.full((64, 64, 3), 128, np.uint8)
    noise = parse_perturbation("noise:5")
    a, a_again = noise.apply(image, "s001"), parse_perturbation("noise:5").apply(image, "s001")
    b = noise.apply(image, "s002")
    assert np.array_equal(a, a_again)
    assert not np.array_equal(a, b)
    assert abs(float((a.astype(float) - 128).std()) - 5.0) < 0.3  # the std asked for, in 0-255 units


def test_jpeg_recompresses_and_honours_quality():
    image = _photo()
    errors = {q: _error(parse_perturbation(f"jpeg:{q}").apply(image, "x"), image) for q in (30, 75, 95)}
    assert errors[30] > errors[75] > errors[95] > 0
    # A JPEG-decoded image is (nearly) a fixed point of the same encoder at the same quality; the original
    # photo is not. A stand-in that only blurred or added noise would fail this.
    once = parse_perturbation("jpeg:75").apply(image, "x")
    buffer = io.BytesIO()
    Image.fromarray(once).save(buffer, "JPEG", quality=75, subsampling="4:2:0")
    twice = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    assert _error(twice, once) < errors[75] / 2


def test_webp_honours_quality():
    image = _photo()
    errors = [_error(parse_perturbation(f"webp:{q}").apply(image, "x"), image) for q in (20, 60, 95)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_resize_changes_the_size_and_blur_keeps_it():
    image = _photo(40, 56)
    assert parse_perturbation("resize:0.5").apply(image, "x").shape == (20, 28, 3)
    assert parse_perturbation("resize:0.3").apply(image, "x").shape == (12, 17, 3)  # rounded, not truncated
    assert parse_perturbation("resize:2").apply(image, "x").shape == (80, 112, 3)
    assert parse_perturbation("resize:0.5+jpeg:75").apply(image, "x").shape == (20, 28, 3)
    blurred = parse_perturbation("blur:2").apply(image, "x")
    assert blurred.shape == image.shape
    def edges(a):
        return np.abs(np.diff(a.astype(float), axis=1)).mean()

    assert edges(blurred) < 0.75 * edges(image)


def test_specs_are_canonical_and_lists_split():
    assert parse_perturbation(" Resize:.50 + JPEG:075 ").spec == "resize:0.5+jpeg:75"
    assert parse_perturbation("none").is_identity
    assert parse_perturbation_list(None) == ["none"]
    assert parse_perturbation_list(["jpeg:75,resize:0.5", "resize:0.50", "none"]) == ["jpeg:75", "resize:0.5", "none"]


@pytest.mark.parametrize("spec, message", [
    ("jpg:75", "unknown kind 'jpg'; known: blur, jpeg, noise, none, resize, webp"),
    ("jpeg", "'jpeg' needs a parameter (JPEG quality, an integer 1-100), e.g. jpeg:75"),
    ("jpeg:0", "jpeg parameter 0 is out of range [1, 100]"),
    ("jpeg:101", "jpeg parameter 101 is out of range [1, 100]"),
    ("jpeg:7.5", "jpeg parameter '7.5' is not an integer"),
    ("webp:high", "webp parameter 'high' is not an integer"),
    ("resize:0", "resize parameter 0 is out of range (0, 4]"),
    ("resize:-0.5", "resize parameter -0.5 is out of range (0, 4]"),
    ("resize:inf", "resize parameter 'inf' is not finite"),
    ("blur:0", "blur parameter 0 is out of range (0, 20]"),
    ("noise:300", "noise parameter 300 is out of range (0, 100]"),
    ("none:1", "'none' takes no parameter"),
    ("none+jpeg:75", "'none' cannot be part of a chain"),
    ("jpeg:75++blur:1", "empty step in the chain"),
    ("", "empty spec"),
])
def test_bad_specs_name_the_spec_and_the_problem(spec, message):
    with pytest.raises(PerturbationSpecError) as info:
        parse_perturbation(spec)
    assert f"perturbation {spec.strip()!r}" in str(info.value) and message in str(info.value)


# --- evaluate --perturb ---------------------------------------------------------------------------------------

# Inpainted pixels carry a pattern (every channel a multiple of 4) that no pristine pixel has; the detector
# flags exactly that. Lossy recompression moves most values off multiples of 4, so the detector must collapse
# under jpeg: if the images were not perturbed, its score would stay perfect.
PATTERN_DETECTOR = '''
import numpy as np

class MultipleOfFour:
    def predict(self, image):
        hit = np.all(image % 4 == 0, axis=2).astype(np.float32)
        return {"score": float(min(1.0, hit.mean() * 5)), "map": hit}

class SeenSize:
    """Reports the height it was given as its score, and a map at the size it saw."""
    def predict(self, image):
        h, w = image.shape[:2]
        hit = np.zeros((h, w), np.float32)
        hit[: h // 2] = 1.0
        return {"score": h / 100.0, "map": hit}
'''


@pytest.fixture(scope="module")
def pattern_shard(tmp_path_factory):
    import datasets

    from inpaintbench.schema import FEATURES

    rows = make_rows(8)
    for i, (image, mask) in enumerate(zip(rows["image"], rows["mask"], strict=False)):
        arr = np.asarray(image).copy()
        inside = np.asarray(mask) > 127
        arr[inside] = (arr[inside] % 64) * 4
        outside_hits = np.all(arr % 4 == 0, axis=2) & ~inside
        arr[outside_hits, 0] += 1  # no pristine pixel carries the pattern
        rows["image"][i] = Image.fromarray(arr)
    root = tmp_path_factory.mktemp("pattern")
    path = root / "part.parquet"
    datasets.Dataset.from_dict(rows, features=FEATURES).to_parquet(str(path))
    (root / "detector.py").write_text(PATTERN_DETECTOR)
    return root


@pytest.mark.slow  # two sandboxed evaluations, ~6 s
def test_a_pattern_detector_scores_high_clean_and_collapses_under_jpeg(pattern_shard, tmp_path, capsys):
    shard, detector = str(pattern_shard / "part.parquet"), f"{pattern_shard / 'detector.py'}:MultipleOfFour"
    out = tmp_path / "results"
    code = main(["evaluate", "--data", shard, "--detector", detector, "--perturb", "none,jpeg:75",
                 "--perturb", "jpeg:75", "--bootstrap", "0", "--results-dir", str(out), "--no-progress"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["MultipleOfFour__unversioned.json",
                                                    "MultipleOfFour__unversioned__jpeg-75.json"]
    clean = read_results(out / "MultipleOfFour__unversioned.json")
    jpeg = read_results(out / "MultipleOfFour__unversioned__jpeg-75.json")
    assert clean["dataset"]["perturbation"] == "none" and clean["config"]["perturbation"] == "none"
    assert jpeg["dataset"]["perturbation"] == "jpeg:75"
    assert (
        jpeg["perturbation"]["steps"] == [{"kind": "jpeg", "param": 75}]
        and "pillow" in jpeg["perturbation"]["libraries"]
    )
    assert jpeg["dataset"]["files_sha256"] == clean["dataset"]["files_sha256"]  # same data, other treatment
    assert clean["metrics"]["pixel_f1_mean"] == pytest.approx(1.0)
    assert jpeg["metrics"]["pixel_f1_mean"] < 0.3
    assert "perturbed by jpeg:75" in capsys.readouterr().out


@pytest.mark.parametrize("factor, seen_h", [(0.5, 20), (0.3, 12)])
def test_resized_images_are_scored_at_the_ground_truths_native_size(pattern_shard, factor, seen_h):
    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.harness.run import EvalOptions, collect_records

    data = open_eval_data(str(pattern_shard / "part.parquet"))
    opts = EvalOptions(data=str(pattern_shard), detector=f"{pattern_shard / 'detector.py'}:SeenSize", bootstrap=0,
                       progress=False, perturbation=f"resize:{factor}")
    collected = collect_records(opts, data)
    assert len(collected.records) == 8
    for record in collected.records:
        assert record.problem is None, record.problem
        assert record.summary.score == pytest.approx(seen_h / 100)  # the detector saw the resized image
        counts = record.summary.hist.pos.sum() + record.summary.hist.neg.sum()
        assert counts == H * W  # ...and its map was scored on every native ground-truth pixel
        assert record.summary.hist.pos.sum() == record.gt_pos


def test_noise_does_not_depend_on_how_samples_are_split_across_processes(pattern_shard):
    from inpaintbench.harness.data import open_eval_data
    from inpaintbench.harness.run import EvalOptions, collect_records, merge_collected

    data = open_eval_data(str(pattern_shard / "part.parquet"))
    opts = EvalOptions(data=str(pattern_shard), detector=f"{pattern_shard / 'detector.py'}:MultipleOfFour",
                       bootstrap=0, progress=False, perturbation="noise:3")
    whole = collect_records(opts, data)
    split = merge_collected([collect_records(opts, data, rank, 2) for rank in (1, 0)])  # ranks in any order

    def hists(collected):
        return [
            (r.sample_id, r.summary.hist.keys.tolist(), r.summary.hist.pos.tolist(), r.summary.hist.neg.tolist())
            for r in collected.records
        ]

    assert hists(split) == hists(whole)
    clean = collect_records(
        EvalOptions(data=str(pattern_shard), detector=opts.detector, bootstrap=0, progress=False), data
    )
    assert hists(clean) != hists(whole)  # the noise reached the detector


def test_submission_with_perturb_is_refused_before_anything_runs(pattern_shard, tmp_path, capsys):
    from inpaintbench.harness.run import EvalOptions

    folder = tmp_path / "preds"
    (folder / "maps").mkdir(parents=True)
    out = tmp_path / "results"
    out.mkdir()
    (out / "kept.json").write_text("{}")
    code = main(["evaluate", "--data", str(pattern_shard / "part.parquet"), "--submission", str(folder),
                 "--perturb", "none,jpeg:75", "--results-dir", str(out), "--no-progress"])
    assert code == 2
    assert "--perturb applies to --detector runs only" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["kept.json"]
    with pytest.raises(ValueError, match="--perturb applies to --detector runs only"):
        EvalOptions(data="x", submission=str(folder), perturbation="resize:0.5")
    assert EvalOptions(data="x", submission=str(folder), perturbation="none").perturbation == "none"


def test_cli_bad_spec_and_output_with_several_specs_are_refused(pattern_shard, tmp_path, capsys):
    shard, detector = str(pattern_shard / "part.parquet"), f"{pattern_shard / 'detector.py'}:MultipleOfFour"
    assert main(["evaluate", "--data", shard, "--detector", detector, "--perturb", "jpeg:75,jpeg:101",
                 "--results-dir", str(tmp_path), "--no-progress"]) == 2
    assert "perturbation 'jpeg:101': jpeg parameter 101 is out of range [1, 100]" in capsys.readouterr().err
    assert main(["evaluate", "--data", shard, "--detector", detector, "--perturb", "jpeg:75,resize:0.5",
                 "--output", str(tmp_path / "one.json"), "--no-progress"]) == 2
    assert "--output names one results file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_relaunched_processes_get_the_same_perturbation():
    from inpaintbench.harness.cli import add_evaluate_arguments, relaunch_argv

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    args = parser.parse_args(["--data", "data", "--dataset-config", "paste_back", "--detector", "ela",
                              "--perturb", "resize:0.5+jpeg:75", "--num-processes", "2"])
    argv = relaunch_argv(args)
    assert argv[0] == "evaluate"
    again = parser.parse_args(argv[1:])
    assert again.perturb == ["resize:0.5+jpeg:75"] and again.detector == "ela"
    assert again.data == "data" and again.config == "paste_back"  # the relaunch speaks the current grammar


# --- leaderboard ----------------------------------------------------------------------------------------------

def _as_old_results(path: Path, dest: Path) -> Path:
    """A committed results file as written before the robustness track (no perturbation anywhere)."""
    payload = json.loads(path.read_text())
    payload.pop("perturbation", None)
    payload["dataset"].pop("perturbation", None)
    payload["config"].pop("perturbation", None)
    dest.write_text(json.dumps(payload))
    return dest


def _perturbed_copy(path: Path, dest: Path, spec: str, shift: float) -> Path:
    payload = json.loads(path.read_text())
    payload["dataset"]["perturbation"] = spec
    payload["metrics"] = {k: (v - shift if isinstance(v, float) else v) for k, v in payload["metrics"].items()}
    payload["intervals"] = {}
    dest.write_text(json.dumps(payload))
    return dest


def test_leaderboard_keeps_clean_and_perturbed_rows_apart_and_reads_old_files(tmp_path):
    from inpaintbench.space import leaderboard as space_board

    results = tmp_path / "results"
    results.mkdir()
    ela = next(COMMITTED_RESULTS.glob("ela__run-*[0-9a-f].json"))
    noise = next(COMMITTED_RESULTS.glob("noise__run-*[0-9a-f].json"))
    old_ela = _as_old_results(ela, results / "ela_old.json")
    _as_old_results(noise, results / "noise_old.json")
    _perturbed_copy(old_ela, results / "ela_jpeg.json", "jpeg:75", 0.1)
    out = tmp_path / "board"
    plot = tmp_path / "img" / "robustness.png"
    assert main(["leaderboard", str(results), "--out", str(out), "--robustness-plot", str(plot)]) == 0

    wide = pd.read_csv(out / "leaderboard.csv", keep_default_na=False)
    assert list(zip(wide.detector, wide.perturbation, strict=False)) == [
        ("noise", "none"),
        ("ela", "none"),
        ("ela", "jpeg:75"),
    ]
    clean_ela = json.loads(old_ela.read_text())["metrics"]
    robust = pd.read_csv(out / "leaderboard_robustness.csv", keep_default_na=False)
    row = robust[(robust.detector == "ela") & (robust.perturbation == "jpeg:75") & (robust.metric == "image_auc")]
    assert float(row["clean"].item()) == pytest.approx(clean_ela["image_auc"])
    assert float(row["drop"].item()) == pytest.approx(0.1)
    assert "| ela | run-" in (out / "leaderboard_robustness.md").read_text()
    board_md = (out / "leaderboard.md").read_text()
    ranking, _, perturbed = board_md.partition("## Under perturbation")
    assert "jpeg:75" not in ranking and "| ela |" in perturbed
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    long = load_leaderboard(out / "leaderboard.json")
    assert set(long[long.detector == "ela"].perturbation) == {"none", "jpeg:75"}
    pd.testing.assert_frame_equal(load_leaderboard(results, shape="robustness"),
                                  load_leaderboard(out / "leaderboard.json", "robustness"), check_dtype=False)
    # The Space keys rows by every non-metric column: a clean and a perturbed row stay two rows.
    board = space_board.Leaderboard(long, "test")
    tracks = board.tracks()
    assert len(tracks) == 2 and "clean images" in tracks[0] and "after jpeg:75" in tracks[1]  # clean first
    # The Space shows one track at a time: ela's clean row, then its jpeg row, never mixed.
    clean, laundered = space_board.table(board, "pixel_f1_mean"), space_board.table(board, "pixel_f1_mean", tracks[1])
    assert list(clean.detector).count("ela") == 1 and list(laundered.detector).count("ela") == 1
    ela_clean = long[(long.detector == "ela") & (long.perturbation == "none") & (long.backend == "all")]
    assert clean[clean.detector == "ela"]["pixel_f1_mean"].item() == round(ela_clean.pixel_f1_mean.item(), 3)

    shutil.copy(results / "ela_jpeg.json", results / "ela_jpeg_again.json")
    with pytest.raises(LeaderboardError, match="score the same detector on the same data"):
        load_leaderboard(results)


def test_committed_results_load_clean_rows_as_none():
    wide = load_leaderboard(COMMITTED_RESULTS, shape="wide")
    clean = wide[wide.perturbation == "none"]
    # The whole embedded build (ela, noise) and the release's test split (ela, noise and the trained baseline,
    # scored only on photos it did not train on): scripts/refresh_embedded_artifacts.sh.
    whole_build = clean[clean.split.fillna("") == ""]
    assert sorted(whole_build.detector) == ["ela", "noise"]
    assert sorted(clean[clean.split == "test"].detector) == ["ela", "noise", "trained"]
    for path in COMMITTED_RESULTS.glob("*.json"):
        results = read_results(path)
        spec = results["dataset"].get("perturbation", "none")
        assert parse_perturbation(spec).spec == spec  # every committed spec is canonical
