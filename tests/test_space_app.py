"""Each tab's API, called with gradio_client against the launched app (a real server on a free port)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from inpaintbench.space.app import build_app, launch
from inpaintbench.space.config import SpaceConfig
from tests.helpers.ports import free_port
from tests.helpers.space_fixtures import SIZE, decompression_bomb, write_generator_output, write_leaderboard_results


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("space")
    generated = write_generator_output(root / "gen")
    config = SpaceConfig(
        data=str(generated),
        db_path=str(root / "answers.sqlite3"),
        cache_dir=str(root / "cache"),
        max_upload_megapixels=1.0,
        seed=3,
        # Browse's tests count all 12 samples: nothing is set aside here; the human test's own app and data are in
        # tests/test_space_human.py.
        human_test_share=0.0,
        leaderboard_path=str(write_leaderboard_results(generated, root / "results")),
    )
    demo = build_app(config)
    port = free_port()
    launch(demo, config, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), config, root
    finally:
        demo.close()


def _fields(table: dict) -> dict[str, str]:
    return {row[0]: row[1] for row in table["data"]}


def test_every_tab_exposes_its_api(served):
    client, _, _ = served
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {
        "/browse",
        "/browse_filter",
        "/browse_next",
        "/browse_prev",
        "/detect",
        "/leaderboard",
        "/human_start",
        "/human_real",
        "/human_inpainted",
        "/human_locate",
        "/human_skip_locate",
    } <= endpoints


def test_browse_filters_pages_and_shows_the_three_images(served):
    client, _, _ = served
    original, image, overlay, table, status, shown_id, position = client.predict(
        "telea", "All", "All", "All", 2, api_name="/browse"
    )
    meta = _fields(table)
    assert position == 2 and meta["backend"] == "telea" and meta["label"] == "inpainted"
    assert "of **4** matching" in status and meta["sample_id"] in status and shown_id == meta["sample_id"]
    original, image, overlay = (
        np.asarray(Image.open(p).convert("RGB")).astype(int) for p in (original, image, overlay)
    )
    assert original.shape == image.shape == overlay.shape == (SIZE[1], SIZE[0], 3)
    assert np.any(original != image)  # the inpainted region differs from the original...
    assert np.any(overlay != original) and np.mean(np.all(overlay == original, axis=-1)) > 0.5  # ...and is marked

    nxt = client.predict("telea", "All", "All", "All", 4, api_name="/browse_next")
    assert nxt[-1] == 1  # wraps from the last to the first
    prev = client.predict("telea", "All", "All", "All", 1, api_name="/browse_prev")
    assert prev[-1] == 4
    filtered = client.predict("none", "All", "All", "All", api_name="/browse_filter")
    assert _fields(filtered[3])["label"] == "pristine" and filtered[-1] == 1
    empty = client.predict("telea", "All", "none", "All", api_name="/browse_filter")
    assert empty[0] is None and "No sample matches" in empty[4]
    # A typed number past the end says so and shows the last (Next wraps, above; a jump never does).
    far = client.predict("telea", "All", "All", "All", 9, api_name="/browse")
    assert far[-1] == 4 and "No sample #9" in far[4] and "4 match" in far[4]
    # Label and source filters, and the overlay toggle: off shows the mask alone (black and white).
    pristine = client.predict("All", "All", "All", "All", 1, "pristine", "All", api_name="/browse")
    assert _fields(pristine[3])["label"] == "pristine" and "of **4** matching" in pristine[4]
    assert (
        "of **12** matching" in client.predict("All", "All", "All", "All", 1, "All", "embedded", api_name="/browse")[4]
    )
    assert "No sample matches" in client.predict("none", "All", "All", "All", 1, "inpainted", api_name="/browse")[4]
    bare = client.predict("telea", "All", "All", "All", 2, "All", "All", False, api_name="/browse")
    mask = np.asarray(Image.open(bare[2]).convert("RGB"))
    assert set(np.unique(mask)) <= {0, 255} and mask.max() == 255


def test_detect_refuses_bad_uploads_clearly_and_keeps_serving(served, tmp_path):
    client, _, _ = served
    text = tmp_path / "notes.png"
    text.write_text("this is text, not an image")
    with pytest.raises(AppError, match="'notes.png' is not an image this Space can read"):
        client.predict(handle_file(str(text)), None, api_name="/detect")
    with pytest.raises(AppError, match="'bomb.png' declares an image far too large to decode"):
        client.predict(handle_file(str(decompression_bomb(tmp_path / "bomb.png"))), None, api_name="/detect")
    big = tmp_path / "big.png"
    Image.new("RGB", (1500, 1000)).save(big)
    with pytest.raises(AppError, match=r"'big.png' is 1500×1000 pixels \(2 megapixels\); this Space accepts at most 1"):
        client.predict(handle_file(str(big)), None, api_name="/detect")
    # ...and the app still answers.
    assert client.predict("All", "All", "All", "All", 1, api_name="/browse")[-1] == 1


def test_human_test_without_set_aside_photos_says_so_and_never_shows_browse_photos(served):
    client, config, _ = served
    start = client.predict(api_name="/human_start")
    assert start[0] is None and "has no photos to show" in start[4]
    with pytest.raises(AppError, match="has no photos to show"):
        client.predict(1, api_name="/human_real")
    with sqlite3.connect(config.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


def test_detect_runs_a_harness_detector_and_overlays_its_map(served, tmp_path):
    client, _, _ = served
    browse = client.predict("telea", "All", "All", "All", 1, api_name="/browse")
    upload = tmp_path / "inpainted.png"
    Image.open(browse[1]).save(upload)
    overlay, score, summary = client.predict(handle_file(str(upload)), "ela", api_name="/detect")
    assert 0.0 <= score <= 1.0 and "**ela**" in summary and f"{SIZE[0]}×{SIZE[1]}" in summary
    heat = np.asarray(Image.open(overlay).convert("RGB")).astype(int)
    assert heat.shape == (SIZE[1], SIZE[0], 3) and np.any(heat != np.asarray(Image.open(upload).convert("RGB")))
    with pytest.raises(AppError, match="nope is not in the list of choices"):  # Gradio checks dropdowns
        client.predict(handle_file(str(upload)), "nope", api_name="/detect")


def test_browse_sends_the_shown_image_to_detect_unaltered(served, tmp_path):
    client, _, _ = served
    browsed = client.predict("telea", "All", "All", "All", 2, "inpainted", api_name="/browse")
    shown = browsed[1]
    # The shown sample's id travels with the four older filters: the label filter need not be sent again.
    sent = client.predict(
        "telea", "All", "All", "All", browsed[5], api_name="/browse_to_detect"
    )  # (the tab switch is UI only)
    assert np.array_equal(np.asarray(Image.open(sent).convert("RGB")), np.asarray(Image.open(shown).convert("RGB")))
    with pytest.raises(AppError, match="No sample is shown"):
        client.predict("telea", "All", "none", "All", 1, api_name="/browse_to_detect")


def test_leaderboard_ranks_one_track_with_counts_intervals_and_per_backend_columns(served):
    client, _, _ = served
    table, plot, note = client.predict("image_auc", None, api_name="/leaderboard")
    assert table["headers"][:5] == ["rank", "detector", "images", "image_auc", "95% interval"]
    assert {"telea", "navier_stokes"} <= set(table["headers"])
    rows = table["data"]
    assert sorted(row[1] for row in rows) == ["ela", "noise"] and [row[0] for row in rows] == [1, 2]
    assert rows[0][3] >= rows[1][3] and rows[0][2] == 12 and rows[0][4].startswith("[")
    assert "Ranked by `image_auc`" in note and "ROC AUC of the image score" in note and plot is not None
    with pytest.raises(AppError, match="nonsense is not in the list of choices"):  # Gradio checks the dropdown
        client.predict("image_auc", "nonsense", api_name="/leaderboard")


def test_module_level_demo_is_built_from_the_environment(tmp_path, monkeypatch):
    import gradio as gr

    import inpaintbench.space.app as app_module

    monkeypatch.setenv("INPAINTBENCH_DATA", str(write_generator_output(tmp_path / "gen")))
    monkeypatch.setenv("INPAINTBENCH_DB", str(tmp_path / "answers.sqlite3"))
    monkeypatch.delattr(app_module, "demo", raising=False)
    try:
        demo = app_module.demo  # what Spaces and `gradio app.py` look up
        assert isinstance(demo, gr.Blocks) and app_module.demo is demo  # built once
        assert (tmp_path / "answers.sqlite3").exists()
    finally:
        monkeypatch.delattr(app_module, "demo", raising=False)
