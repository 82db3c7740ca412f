"""The Space's parts without a server: configuration, data access, uploads, overlays, human-test logic and storage."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inpaintbench.space import leaderboard
from inpaintbench.space.browse import ANY, BLANK, Browser
from inpaintbench.space.config import SpaceConfig
from inpaintbench.space.data import DataError, SampleStore, load_store
from inpaintbench.space.human import ASK_WHERE, HumanTest, new_state
from inpaintbench.space.human_store import Answer, HumanTestStore
from inpaintbench.space.overlays import heatmap_overlay, mask_overlay
from inpaintbench.space.uploads import UploadError, decode_upload
from tests.helpers.detector_data import SMALL_FIT, training_data
from tests.helpers.space_fixtures import SIZE, decompression_bomb, write_generator_output, write_release_folder


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory) -> Path:
    return write_generator_output(tmp_path_factory.mktemp("gen") / "out")


@pytest.fixture(scope="module")
def store(generator_dir, tmp_path_factory):
    return load_store(SpaceConfig(data=str(generator_dir), cache_dir=str(tmp_path_factory.mktemp("cache"))))


# --- configuration -------------------------------------------------------------------------------------------
def test_config_reads_environment_and_flags_override_it():
    env = {"INPAINTBENCH_DATA": "org/bench", "INPAINTBENCH_REVISION": "v1.0", "INPAINTBENCH_SEED": "7"}
    config = SpaceConfig.from_env(env, revision="v2.0", db_path=None)
    assert (config.data, config.revision, config.seed) == ("org/bench", "v2.0", 7)
    assert SpaceConfig.from_env({}).data == "runs/embedded"
    with pytest.raises(ValueError, match="INPAINTBENCH_SEED='x'"):
        SpaceConfig.from_env({"INPAINTBENCH_SEED": "x"})


# --- data access ---------------------------------------------------------------------------------------------
def test_generator_output_without_split_column_is_split_all(store):
    assert len(store) == 12
    assert set(store.index["split"]) == {"all"}
    assert store.choices("backend") == ["navier_stokes", "none", "telea"]
    sample = store.sample(store.position_of("embedded-coffee-telea"))
    assert sample["label"] == "inpainted" and sample["backend"] == "telea"
    assert sample["image"].size == sample["mask"].size == sample["original"].size == SIZE


def test_generator_output_with_split_column_and_release_folder(tmp_path):
    cache = str(tmp_path / "cache")
    split_store = load_store(
        SpaceConfig(data=str(write_generator_output(tmp_path / "g", with_split=True)), cache_dir=cache)
    )
    assert split_store.index["split"].value_counts().to_dict() == {"train": 9, "test": 3}
    release = load_store(SpaceConfig(data=str(write_release_folder(tmp_path / "r")), cache_dir=cache))
    assert "release folder" in release.description
    assert release.index["split"].value_counts().to_dict() == {"train": 9, "test": 3}
    with pytest.raises(DataError, match="no config 'other'"):
        load_store(SpaceConfig(data=str(tmp_path / "r"), config_name="other", cache_dir=cache))


def test_bad_data_is_refused_naming_the_file(tmp_path, monkeypatch):
    shards = tmp_path / "bad" / "data"  # a build's shards before (or without) its manifest
    shards.mkdir(parents=True)
    (shards / "shard-00000.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"shard-00000\.parquet: not a readable Parquet file"):
        load_store(SpaceConfig(data=str(tmp_path / "bad")))
    pd.DataFrame({"sample_id": ["a"], "label": [0]}).to_parquet(shards / "shard-00000.parquet")
    with pytest.raises(DataError, match=r"shard-00000\.parquet: missing column\(s\) image, mask, original"):
        load_store(SpaceConfig(data=str(tmp_path / "bad")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Parquet shards"):
        load_store(SpaceConfig(data=str(tmp_path / "empty")))
    shards.rename(tmp_path / "empty" / "shards")  # a layout the generator never wrote: not read
    with pytest.raises(DataError, match="no Parquet shards"):
        load_store(SpaceConfig(data=str(tmp_path / "empty")))
    monkeypatch.chdir(tmp_path)  # the default, runs/embedded, is not built here
    with pytest.raises(
        DataError, match="runs/embedded: no such folder. Build the embedded set with `inpaintbench generate`"
    ):
        load_store(SpaceConfig())
    with pytest.raises(DataError, match="/no/such/folder: no such folder"):
        load_store(SpaceConfig(data="/no/such/folder"))


# --- uploads ---------------------------------------------------------------------------------------------------
def test_upload_decoding_accepts_images_and_refuses_the_rest_clearly(tmp_path):
    good = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), (10, 200, 30)).save(good)
    pixels = decode_upload(str(good), max_megapixels=1).pixels
    assert pixels.shape == (30, 40, 3) and pixels.dtype == np.uint8
    assert decode_upload(good.read_bytes(), max_megapixels=1).pixels.shape == (30, 40, 3)

    text = tmp_path / "notes.png"
    text.write_text("definitely not a PNG")
    with pytest.raises(UploadError, match="'notes.png' is not an image"):
        decode_upload(str(text), max_megapixels=1)
    wide = tmp_path / "big.png"
    Image.new("L", (2000, 1000)).save(wide)
    with pytest.raises(UploadError, match="'big.png' is 2000×1000 pixels \\(2 megapixels\\); .*at most 1 megapixels"):
        decode_upload(str(wide), max_megapixels=1)
    with pytest.raises(UploadError, match="decompression bomb"):
        decode_upload(str(decompression_bomb(tmp_path / "bomb.png")), max_megapixels=40)
    truncated = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:400])
    with pytest.raises(UploadError, match="'cut.png' is damaged"):
        decode_upload(str(truncated), max_megapixels=1)
    with pytest.raises(UploadError, match="No image uploaded"):
        decode_upload(None, max_megapixels=1)


# --- overlays --------------------------------------------------------------------------------------------------
def test_mask_overlay_changes_only_masked_pixels_and_heatmap_follows_heat():
    image = np.full((20, 30, 3), 100, np.uint8)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 10:20] = 255
    out = np.asarray(mask_overlay(image, mask)).astype(int)
    changed = np.any(out != 100, axis=-1)
    assert np.array_equal(changed, mask > 0)
    heat = np.zeros((10, 15), np.float32)
    heat[:, 8:] = 1.0  # right half hot, at half resolution: the overlay must resize it
    blended = np.asarray(heatmap_overlay(image, heat)).astype(int)
    assert np.all(blended[:, :14] == 100) and np.all(np.any(blended[:, 17:] != 100, axis=-1))


# --- human test storage and logic ------------------------------------------------------------------------------
def _answer(session: str, backend: str, answer: str, truth: str, hit=None) -> Answer:
    click = (3, 4) if hit is not None else (None, None)
    return Answer(session, f"s-{backend}", "image", backend, answer, truth, click[0], click[1], hit, "src")


def test_store_is_wal_keeps_every_concurrent_answer_and_aggregates(tmp_path):
    db = HumanTestStore(tmp_path / "answers.sqlite3")
    with sqlite3.connect(db.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def worker(k: int) -> None:
        for i in range(20):
            db.record(
                _answer(
                    f"session-{k}",
                    "telea" if i % 2 else "none",
                    "inpainted",
                    "inpainted" if i % 2 else "pristine",
                    hit=(i % 4 == 1) if i % 2 else None,
                )
            )

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.answers()) == 80
    assert db.session_score("session-2") == {"answered": 20, "correct": 10, "located": 10, "hits": 5}
    table = db.accuracy_by_backend("src").set_index("backend")
    assert table.loc["telea", "accuracy"] == 1.0 and table.loc["none", "accuracy"] == 0.0
    assert table.loc["telea", "click_hit_rate"] == 0.5 and table.loc["telea", "answers"] == 40
    (tmp_path / "junk.sqlite3").write_text("this is not a database, and it is long enough to have a header" * 3)
    with pytest.raises(ValueError, match="junk.sqlite3: not a usable SQLite database"):
        HumanTestStore(tmp_path / "junk.sqlite3")


def test_human_test_is_deterministic_per_seed_and_session_and_scores_clicks(store, tmp_path):
    def sequence(seed: int, session: str) -> list[str]:
        fresh = tmp_path / f"{seed}-{session}-{len(list(tmp_path.iterdir()))}.sqlite3"  # a session answers once
        test = HumanTest(store, HumanTestStore(fresh), seed, "src")
        state = test.start({**new_state(), "session_id": session})[0]
        seen = []
        while not state["done"]:
            seen.append(state["question"]["sample_id"] + ":" + state["question"]["shown"])
            state = test.answer("real", state["step"] + 1, state)[0]
        return seen

    assert sequence(0, "a") == sequence(0, "a")
    assert sequence(0, "a") != sequence(0, "b")
    assert sequence(1, "a") != sequence(0, "a")  # another seed, another draw for the same session

    answers = HumanTestStore(tmp_path / "clicks.sqlite3")
    test = HumanTest(store, answers, 0, "src")
    state = test.start({**new_state(), "session_id": "clicks"})[0]  # a session whose 4 images include an edit
    while state["question"]["truth"] != "inpainted":  # say "real" until an inpainted image comes up
        state = test.answer("real", state["step"] + 1, state)[0]
    item = state["step"] + 1
    sample = store.sample(state["question"]["position"])
    ys, xs = np.nonzero(np.asarray(sample["mask"]) > 127)
    view = test.answer("inpainted", item, state)
    assert view[3] == ASK_WHERE
    for bad in ((-1, 5), (10_000, 5), (None, 3)):  # off the image, or not a number: asked again, nothing stored
        view = test.locate(*bad, item, view[0])
        assert view[3] == ASK_WHERE and "is not on the image" in view[5]
    assert (
        len(answers.answers()) == len(answers.answers(view[0]["session_id"]))
        and answers.session_score(view[0]["session_id"])["located"] == 0
    )
    view = test.locate(int(xs[0]), int(ys[0]), item, view[0])
    assert "inside" in view[5]
    last = answers.answers().iloc[-1]
    assert (last["answer"], last["truth"], last["hit"], last["click_x"]) == ("inpainted", "inpainted", 1, xs[0])
    assert "1 of 1 times" in view[7]


# --- browse and leaderboard views ------------------------------------------------------------------------------
def test_browse_filters_wraps_and_survives_empty_filters(store):
    browser = Browser(store)
    filters = dict(backend="telea")
    original, image, overlay, table, status, shown = browser.view(filters, 5, wrap=True)
    assert shown == 1 and "of **4** matching" in status and "back to the first" in status  # Next on the last
    assert dict(zip(table["field"], table["value"], strict=True))["backend"] == "telea"
    assert browser.view(filters, 0, wrap=True)[5] == 4  # Previous on the first
    empty = browser.show("telea", ANY, "none", ANY, 1)
    assert empty[0] is None and "No sample matches" in empty[4] and empty[5] == 0
    assert browser.choices("category") == [ANY, BLANK, "cat", "person"]  # pristine samples have no category
    assert "of **4** matching" in browser.show(ANY, BLANK, ANY, ANY, 1)[4]


def test_browse_says_when_a_typed_number_is_out_of_range_and_filters_label_and_source(store):
    browser = Browser(store)
    for asked, shown in ((5, 4), (0, 1), (-3, 1)):  # a typed jump is never wrapped
        view = browser.view(dict(backend="telea"), asked)
        assert view[5] == shown and f"No sample #{asked}" in view[4] and "4 match these filters" in view[4]
    assert "whole number" in browser.view({}, float("nan"))[4] and browser.view({}, "2.5")[5] == 1
    pristine = browser.view(dict(label="pristine", source="embedded"), 1)
    assert (
        "of **4** matching" in pristine[4]
        and dict(zip(pristine[3]["field"], pristine[3]["value"], strict=True))["label"] == "pristine"
    )
    assert browser.view(dict(source="coco"), 1)[5] == 0
    # By id: the send-to-Detect path finds the shown sample among the four older filters' matches.
    second = browser.view(dict(backend="telea", label="inpainted"), 2)
    sample_id = dict(zip(second[3]["field"], second[3]["value"], strict=True))["sample_id"]
    by_id = browser.show("telea", ANY, ANY, ANY, sample_id)
    assert np.array_equal(np.asarray(by_id[1]), np.asarray(second[1]))
    # The toggle: the mask alone is black and white; the overlay is the photo with the mask tinted.
    alone = np.asarray(browser.view(dict(backend="telea"), 1, overlay=False)[2])
    tinted = np.asarray(browser.view(dict(backend="telea"), 1, overlay=True)[2])
    assert set(np.unique(alone)) == {0, 255} and len(np.unique(tinted)) > 2


def test_human_test_without_pristine_rows_shows_originals_as_real_photos(store, tmp_path):
    inpainted_only = store.index[store.index["label"] == "inpainted"].reset_index(drop=True)
    answers = HumanTestStore(tmp_path / "a.sqlite3")
    test = HumanTest(SampleStore(store.parts, inpainted_only, "inpainted only"), answers, 0, "src")
    rows = []
    for session in range(6):  # each session sees each of the 4 photos once, real or edited
        state = test.start({**new_state(), "session_id": f"s{session}"})[0]
        while not state["done"]:
            state = test.answer("real", state["step"] + 1, state)[0]
    rows = answers.answers()
    real = rows[rows["truth"] == "pristine"]
    assert len(real) > 0 and set(real["shown"]) == {"original"} and set(real["backend"]) == {"none"}
    assert set(rows[rows["truth"] == "inpainted"]["shown"]) <= {"image"}


def test_leaderboard_pivots_long_results_to_per_backend_columns():
    frame = pd.DataFrame(
        {
            "detector": ["ela", "ela", "ela", "noise", "noise", "noise"],
            "dataset_version": ["v1"] * 6,
            "backend": ["all", "lama", "sd2"] * 2,
            "image_auc": [0.65, 0.6, 0.7, 0.7, 0.5, 0.8],
            "pixel_f1_mean": [0.25, 0.2, 0.3, 0.3, 0.1, 0.4],
        }
    )
    board = leaderboard.Leaderboard(frame, "test")
    assert board.metrics() == ["pixel_f1_mean", "image_auc"] and board.row_keys() == ["detector", "dataset_version"]
    wide = leaderboard.table(board, "image_auc")
    # best overall first; the constant dataset_version column is dropped; "all" comes before the backends
    assert list(wide.columns) == ["rank", "detector", "image_auc", "lama", "sd2"]
    assert list(wide["detector"]) == ["noise", "ela"] and wide.iloc[0]["sd2"] == 0.8
    figure = leaderboard.plot(board, "pixel_f1_mean")
    assert len(figure.axes[0].patches) == 6
    assert "could not be read" in leaderboard.load("/no/such/results").message


def test_leaderboard_ranks_lower_is_better_metrics_lowest_first():
    frame = pd.DataFrame({"detector": ["ela", "noise", "trained"], "backend": ["all"] * 3,
                          "pixel_f1_mean": [0.1, 0.05, 0.3], "pristine_pixel_fpr_pooled": [0.1, 0.0, 0.6]})
    board = leaderboard.Leaderboard(frame, "test")
    assert list(leaderboard.table(board, "pixel_f1_mean")["detector"]) == ["trained", "ela", "noise"]
    assert list(leaderboard.table(board, "pristine_pixel_fpr_pooled")["detector"]) == ["noise", "ela", "trained"]
    assert "lowest" not in leaderboard.metric_note("pixel_f1_mean") and "lower is better" in \
        leaderboard.metric_note("pristine_pixel_fpr_pooled")


def test_leaderboard_shows_one_track_at_a_time_clean_first():
    frame = pd.DataFrame(
        {
            "detector": ["ela", "noise", "ela", "noise"],
            "perturbation": ["none", "none", "jpeg:75", "jpeg:75"],
            "backend": ["all"] * 4,
            "pixel_f1_mean": [0.2, 0.3, 0.9, 0.1],
        }
    )
    board = leaderboard.Leaderboard(frame, "test")
    clean_track, jpeg_track = board.tracks()
    assert "clean images" in clean_track and "after jpeg:75" in jpeg_track
    clean = leaderboard.table(board, "pixel_f1_mean")  # clean by default: ela's laundered 0.9 must not rank it first
    assert list(clean["detector"]) == ["noise", "ela"] and list(clean["pixel_f1_mean"]) == [0.3, 0.2]
    laundered = leaderboard.table(board, "pixel_f1_mean", jpeg_track)
    assert list(laundered["detector"]) == ["ela", "noise"] and list(laundered["pixel_f1_mean"]) == [0.9, 0.1]
    assert len(leaderboard.plot(board, "pixel_f1_mean", jpeg_track).axes[0].patches) == 2
    with pytest.raises(ValueError, match="no results for 'jpeg:75'"):
        leaderboard.table(board, "pixel_f1_mean", "jpeg:75")
    # Results that predate the field: one track, every row shown.
    old = leaderboard.Leaderboard(frame.drop(columns="perturbation").iloc[:2], "test")
    assert old.tracks() == [] and len(leaderboard.table(old, "pixel_f1_mean")) == 2


def test_default_leaderboard_is_the_committed_results_with_the_trained_baseline_ranked():
    board = leaderboard.load(None)  # what SpaceConfig() and a bare `inpaintbench space` give
    assert board.frame is not None and "harness/results" in board.message
    first = board.tracks()[0]
    assert first.startswith("release 0.1.0 default/test · clean images · 2 images")
    shown = leaderboard.table(board, "pixel_f1_mean")
    assert set(shown["detector"]) == {"ela", "noise", "trained"} and list(shown["rank"]) == [1, 2, 3]
    assert list(shown["images"]) == [2, 2, 2] and shown["95% interval"].str.match(r"\[\d\.\d{3}, \d\.\d{3}\]").all()
    # never ranked against the 29-image build, nor against laundered images
    assert not any("0.1.0" in t and "after" in t for t in board.tracks())
    build = leaderboard.table(board, "pixel_f1_mean", next(t for t in board.tracks() if "(every sample)" in t))
    assert set(build["detector"]) == {"ela", "noise"} and list(build["images"]) == [29, 29]
    assert "`image_auc` (higher is better): ROC AUC" in leaderboard.definitions(board.metrics())


def test_detectors_that_need_a_model_say_so_or_get_it_from_the_space_settings(tmp_path):
    from threadpoolctl import threadpool_limits

    from inpaintbench.harness.training.model_file import save_model
    from inpaintbench.harness.training.trainer import TrainOptions, train_detector
    from inpaintbench.space.config import SpaceConfig
    from inpaintbench.space.detect import DetectError, DetectorRunner

    upload = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(upload)
    unconfigured = DetectorRunner()
    assert "trained" not in unconfigured.names and "ela" in unconfigured.names  # listed only where it can run
    assert "needs its model file" in unconfigured.unavailable["trained"]
    with pytest.raises(
        DetectError, match="'trained' cannot be used in this Space: the trained detector needs its model"
    ):
        unconfigured.run(str(upload), "trained")
    assert unconfigured.run(str(upload), "ela")[2] >= 0.0  # the others still work

    with threadpool_limits(1):
        estimator, meta = train_detector(training_data(n=4), TrainOptions(seed=0, **SMALL_FIT))
    model = save_model(tmp_path / "model.joblib", estimator, meta)
    config = SpaceConfig.from_env({"INPAINTBENCH_DETECTOR_PARAMS": json.dumps({"trained": {"model": str(model)}})})
    configured = DetectorRunner(detector_params=config.detector_kwargs())
    assert "trained" in configured.names and "trained" not in configured.unavailable
    _, overlay, score, summary = configured.run(str(upload), "trained")
    assert overlay is not None and 0.0 <= score <= 1.0 and "**trained**" in summary
    for bad, message in (("{nope", "not valid JSON"), ('{"trained": "model.joblib"}', "must map detector names")):
        with pytest.raises(ValueError, match=message):
            SpaceConfig(detector_params=bad).detector_kwargs()
