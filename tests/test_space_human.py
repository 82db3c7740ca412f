"""The human test measures people, not scripts: its pool, answer rules, rate limits, draw, summary maths, and the
Browse-lookup attack played through gradio_client against the real app (and won against the old design)."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import cv2
import datasets
import gradio as gr
import numpy as np
import pytest
from gradio.processing_utils import save_pil_to_cache
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image
from scipy.stats import binom, binomtest
from skimage import data as skdata

from inpaintbench.schema import FEATURES
from inpaintbench.space.app import build_app, launch
from inpaintbench.space.browse import Browser
from inpaintbench.space.config import SpaceConfig
from inpaintbench.space.data import load_store
from inpaintbench.space.human import AnswerLimits, HumanTest, Limit, Refused, new_state
from inpaintbench.space.human_pool import partition, photo_key, photos_of
from inpaintbench.space.human_store import Answer, HumanTestStore, wilson_interval
from inpaintbench.space.served_images import ServedImages
from inpaintbench.space.tabs.browse_tab import browse_tab
from inpaintbench.space.tabs.human_tab import human_tab
from tests.helpers.manifests import write_manifest_for
from tests.helpers.ports import free_port
from tests.helpers.space_fixtures import BACKENDS

SIZE = (160, 120)
CROPS = [(x, y) for y in (0, 1) for x in (0, 2)]  # four windows of each photo: four different photos
HIGH = AnswerLimits(Limit(10_000, 60.0), Limit(10_000, 60.0))


def _rows() -> dict[str, list]:
    """16 photos (crops of scikit-image's photos), each pristine + one edit (OpenCV inpainting, backends taking
    turns): small, because every sample costs the end-to-end tests a Browse call."""
    rows: dict[str, list] = {name: [] for name in FEATURES}
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        full = getattr(skdata, name)()
        for c, (i, j) in enumerate(CROPS):
            x0 = min(i * 140, full.shape[1] - SIZE[0])
            y0 = min(j * 90, full.shape[0] - SIZE[1])
            photo = np.ascontiguousarray(full[y0 : y0 + SIZE[1], x0 : x0 + SIZE[0], :3])
            mask = np.zeros(photo.shape[:2], np.uint8)
            cv2.ellipse(mask, (40 + 12 * c, 60), (26, 20), 0, 0, 360, 255, -1)
            variants = [("pristine", "none", np.zeros_like(mask), photo)]
            for backend in BACKENDS[c % 2 :][:1]:
                flag = cv2.INPAINT_TELEA if backend == "telea" else cv2.INPAINT_NS
                variants.append(("inpainted", backend, mask, cv2.inpaint(photo, mask, 5, flag)))
            for label, backend, m, image in variants:
                values = {
                    "sample_id": f"{name}-{c}-{backend}", "label": int(label == "inpainted"),
                    "image": Image.fromarray(image), "mask": Image.fromarray(m, mode="L"),
                    "original": Image.fromarray(photo), "source": "embedded", "source_image_id": f"{name}-{c}",
                    "object_id": "1", "category": "" if label == "pristine" else "cat",
                    "action": "none" if label == "pristine" else "remove", "replacement": "",
                    "replacement_score": float("nan"), "prompt": "", "backend": backend, "backend_params": "{}",
                    "strategy": "none" if label == "pristine" else "paste_back", "seed": c, "mask_variant": "object",
                    "mask_dilation_pct": 0.0, "mask_area_fraction": float((m > 0).mean()), "width": SIZE[0],
                    "height": SIZE[1], "extra": "{}", "edit_id": "",
                    "changed_mask": Image.fromarray(m, mode="L"), "recipe": "{}",
                }
                for key in rows:
                    rows[key].append(values[key])
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("human")
    (root / "gen" / "data").mkdir(parents=True)
    datasets.Dataset.from_dict(_rows(), features=FEATURES).to_parquet(
        root / "gen" / "data" / "train-00000-of-00001.parquet"
    )
    write_manifest_for(root / "gen")
    config = SpaceConfig(data=str(root / "gen"), cache_dir=str(root / "cache"), db_path=str(root / "unused.sqlite3"))
    return root, config, load_store(config)


def _test(pool, db: Path, length: int = 20, limits: AnswerLimits = HIGH, seed: int = 0) -> HumanTest:
    return HumanTest(pool, HumanTestStore(db), seed=seed, data_source="src", length=length, limits=limits)


def _keys(store) -> list[str]:
    return [photo_key(s, i) for s, i in zip(store.index["source"], store.index["source_image_id"], strict=True)]


# --- the pool ------------------------------------------------------------------------------------------------
def test_pool_is_cut_by_photo_stable_and_never_shared_with_browse(built):
    _, _, store = built
    split = partition(store, 0.5, salt=0)
    browse, test = set(_keys(split.browse)), set(_keys(split.test))
    assert not browse & test and browse | test == set(_keys(store)) and len(browse | test) == 16
    assert 2 <= len(test) <= 14  # about half of 16 (a binomial(16, 1/2) is in 2..14 with probability > 0.999)
    assert len(split.browse) + len(split.test) == len(store) and len(split.test) == 2 * len(test)
    # A photo's side depends on that photo only: cutting a subset puts each of its photos where it was.
    sub = store.subset(range(0, len(store), 2))
    assert set(_keys(partition(sub, 0.5, salt=0).test)) == set(_keys(sub)) & test
    assert set(_keys(partition(store, 0.5, salt=1).test)) != test  # the salt moves photos
    assert len(partition(store, 0.0, salt=0).test) == 0 and len(partition(store, 1.0, salt=0).browse) == 0
    with pytest.raises(ValueError, match="INPAINTBENCH_HUMAN_TEST_SHARE"):
        partition(store, 1.5, salt=0)
    # The attack on a per-sample cut: the same photo lands on both sides, so Browse shows its pixels.
    by_sample = [int(hashlib.sha256(s.encode()).hexdigest(), 16) % 2 for s in store.index["sample_id"]]
    keys = _keys(store)
    both = {k for k, side in zip(keys, by_sample, strict=True) if side} & {
        k for k, side in zip(keys, by_sample, strict=True) if not side
    }
    assert len(both) > 0


def test_an_empty_pool_says_so_and_refuses_answers(built, tmp_path):
    _, _, store = built
    test = _test(partition(store, 0.0, salt=0).test, tmp_path / "a.sqlite3")
    view = test.start(None)
    assert view[1] is None and "has no photos to show" in view[5]
    with pytest.raises(Refused, match="has no photos to show"):
        test.answer("real", 1, view[0])


# --- answers ---------------------------------------------------------------------------------------------------
def test_one_answer_per_item_even_replayed(built, tmp_path):
    _, _, store = built
    db = tmp_path / "a.sqlite3"
    test = _test(partition(store, 0.5, salt=0).test, db)
    first = test.start(None)[0]
    after = test.answer("real", 1, first)[0]
    with pytest.raises(Refused, match="Image 1 is already answered"):
        test.answer("real", 1, after)
    with pytest.raises(Refused, match="no image 5 yet"):
        test.answer("real", 5, after)
    with pytest.raises(Refused, match="must name the image"):
        test.answer("real", None, after)
    # The attack: replay the state the first answer was given in (a stale tab, a racing request). The item number
    # matches that state, so only the database's one-answer-per-photo rule stops it.
    with pytest.raises(Refused, match="already answered in this session"):
        test.skip_locate(1, {**first, "answer": "inpainted"})
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


def test_rate_limits_per_session_and_per_client_refuse_clearly_and_store_nothing(built, tmp_path):
    _, _, store = built
    db = tmp_path / "a.sqlite3"
    test = _test(partition(store, 0.5, salt=0).test, db, limits=AnswerLimits(Limit(3, 0.4), Limit(5, 60.0)))

    def answer_all(state, client, count):
        for _ in range(count):
            state = test.answer("real", state["step"] + 1, state, client)[0]
        return state

    session = answer_all(test.start(None)[0], "10.0.0.1", 3)
    with pytest.raises(Refused, match=r"Too many answers from this session: at most 3 every 0.4 s"):
        answer_all(session, "10.0.0.1", 1)
    time.sleep(0.45)  # the window slides: the session may answer again
    session = answer_all(session, "10.0.0.1", 1)
    other = answer_all(test.start(None)[0], "10.0.0.1", 1)  # a fresh session from the same address: 5 in all
    with pytest.raises(Refused, match=r"Too many answers from your address: at most 5 every 60 s"):
        answer_all(other, "10.0.0.1", 1)
    answer_all(other, "10.0.0.2", 1)  # another address is not held back
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 6


# --- the draw --------------------------------------------------------------------------------------------------
def _played(test: HumanTest, session: str) -> list[dict]:
    state = test.start({**new_state(), "session_id": session})[0]
    shown = []
    while not state["done"]:
        shown.append(state["question"])
        state = test.answer("real", state["step"] + 1, state)[0]
    return shown


@pytest.mark.slow
def test_a_session_sees_each_photo_once_never_real_and_edited_then_ends(built, tmp_path):
    _, _, store = built
    pool = partition(store, 0.5, salt=0).test
    photos = len(photos_of(pool))
    test = _test(pool, tmp_path / "a.sqlite3", length=100)
    assert test.length == photos  # capped by the pool
    truths_by_photo: dict[str, set[str]] = {}
    for s in range(16):
        seen = _played(test, f"session-{s}")
        keys = [q["photo"] for q in seen]
        assert len(keys) == photos and len(set(keys)) == photos  # without replacement, to the end
        for q in seen:
            truths_by_photo.setdefault(q["photo"], set()).add(q["truth"])
    # Across sessions a photo is shown both ways, so once per session is the draw's doing, not the data's.
    assert all(t == {"pristine", "inpainted"} for t in truths_by_photo.values())
    again = [_test(pool, tmp_path / f"{k}.sqlite3", length=100) for k in range(2)]  # same seed, fresh databases
    same = _played(again[0], "same")
    assert same == _played(again[1], "same") != _played(again[0], "other")
    reseeded = _test(pool, tmp_path / "seed-1.sqlite3", length=100, seed=1)
    assert _played(reseeded, "same") != same  # another seed, another draw for the same session
    state = test.start(None)[0]
    while not state["done"]:
        view = test.answer("real", state["step"] + 1, state)
        state = view[0]
    assert view[1] is None and view[4] == f"**Done:** {photos} of {photos} images answered."
    assert "### Your result" in view[7]
    with pytest.raises(Refused, match="This test is over"):
        test.answer("real", photos + 1, state)

    # The attack on the old draw (a coin for the truth, then a sample of that truth not served yet: samples, not
    # photos, tracked): within one session it shows a photo both real and edited.
    rng, keys, served, truths = random.Random(0), _keys(pool), set(), {}
    by_truth = {t: [p for p in range(len(pool)) if pool.index.loc[p, "label"] == t] for t in ("pristine", "inpainted")}
    for _ in range(test.length):
        truth = rng.choice(["pristine", "inpainted"])
        position = rng.choice([p for p in by_truth[truth] if p not in served] or by_truth[truth])
        served.add(position)
        truths.setdefault(keys[position], set()).add(truth)
    assert any(t == {"pristine", "inpainted"} for t in truths.values())


# --- summary maths ---------------------------------------------------------------------------------------------
def test_wilson_intervals_match_an_exact_reference_and_the_summary(tmp_path):
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)  # Newcombe (1998), table I
    for k, n in ((0, 1), (0, 10), (3, 7), (10, 10), (49, 100), (81, 263)):
        reference = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((reference.low, reference.high), abs=1e-12)
    assert wilson_interval(0, 0) == (0.0, 1.0)

    db = HumanTestStore(tmp_path / "a.sqlite3")
    for i, (session, backend, right) in enumerate(
        [("me", "telea", 1), ("me", "telea", 0), ("me", "none", 1)]
        + [("you", "telea", 1)] * 5 + [("you", "none", 0)] * 4
    ):
        truth = "pristine" if backend == "none" else "inpainted"
        answer = truth if right else ("inpainted" if truth == "pristine" else "pristine")
        db.record(Answer(session, f"s{i}", "image", backend, answer, truth, None, None, None, "src", f"p{i}"))
    table = db.accuracy_by_backend("src").set_index("backend")
    assert table.loc["telea", ["answers", "correct"]].tolist() == [7, 6]
    low, high = binomtest(6, 7).proportion_ci(0.95, method="wilson")
    assert table.loc["telea", ["ci95_low", "ci95_high"]].tolist() == [round(low, 3), round(high, 3)]
    mine = db.overall("src", "me")
    assert (mine["answers"], mine["correct"]) == (3, 2)
    summary = HumanTest(None, db, 0, "src").summary("me")
    lo, hi = wilson_interval(2, 3)
    assert f"**You:** 2 of 3 right (67%, 95% interval {lo:.0%}–{hi:.0%})" in summary
    lo, hi = wilson_interval(7, 12)
    assert f"**everyone so far:** 7 of 12 right (58%, 95% interval {lo:.0%}–{hi:.0%})" in summary
    lo, hi = wilson_interval(1, 5)
    assert (
        "| none (real photos) | 1 of 1 right (100%" in summary
        and f"1 of 5 right (20%, 95% interval {lo:.0%}" in summary
    )
    with pytest.raises(ValueError, match="already answered in this session"):
        db.record(Answer("me", "again", "image", "telea", "pristine", "inpainted", None, None, None, "src", "p0"))


def test_served_copies_have_their_own_bytes_and_url_but_the_same_pixels(built, tmp_path):
    _, _, store = built
    image = store.sample(0)["image"]
    served = ServedImages(store, tmp_path / "served")
    paths = [Path(served.question_file(0, "image")) for _ in range(2)]
    assert paths[0] != paths[1] and paths[0].read_bytes() != paths[1].read_bytes()
    for path in paths:
        assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(image.convert("RGB")))
    # The attack: served as it is, the same image gets the same content-hash URL in every session.
    assert save_pil_to_cache(image, str(tmp_path), format="png") == save_pil_to_cache(
        image, str(tmp_path), format="png"
    )


# --- end to end: the Browse-lookup attack through gradio_client --------------------------------------------------
def _pixels(path: str) -> str:
    return hashlib.sha256(np.asarray(Image.open(path).convert("RGB")).tobytes()).hexdigest()


def _file_bytes(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def crawl_browse(url: str) -> dict[str, str]:
    """Everything Browse serves, as a lookup table: pixels, file bytes and file name of each image -> its label."""
    client = Client(url, verbose=False)
    table: dict[str, str] = {}

    def learn(result):
        original, image, overlay, meta = result[:4]
        fields = {row[0]: row[1] for row in meta["data"]} if meta and meta.get("data") else {}
        if image is None:
            return
        for path, label in ((original, "pristine"), (image, fields.get("label", "pristine"))):
            for key in (_pixels(path), _file_bytes(path), Path(path).parent.name):
                table[key] = label

    first = client.predict("All", "All", "All", "All", 1, api_name="/browse")
    total = int(first[4].split("matching")[0].rsplit("**", 2)[-2])
    learn(first)
    for position in range(2, total + 1):
        learn(client.predict("All", "All", "All", "All", position, api_name="/browse"))
    learn(client.predict("All", "All", "All", "All", total, api_name="/browse_next"))
    learn(client.predict("All", "All", "All", "All", 1, api_name="/browse_prev"))
    learn(client.predict("telea", "All", "All", "All", api_name="/browse_filter"))
    if "/browse_to_detect" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]:
        sent = client.predict("All", "All", "All", "All", 1, api_name="/browse_to_detect")
        table.setdefault(_pixels(sent), "unknown")
    return table


def play_from_table(url: str, table: dict[str, str], sessions: int, seed: int = 0) -> dict[str, int]:
    """Takes the test in ``sessions`` fresh sessions, answering from ``table``, else by a coin flip."""
    rng, counts, served = random.Random(seed), {"answers": 0, "right": 0, "looked_up": 0}, []
    for _ in range(sessions):
        client = Client(url, verbose=False)
        view = client.predict(api_name="/human_start")
        while view[0] is not None:
            image, item = view[0], view[1]
            served.append(Path(image).parent.name)
            keys = [k for k in (_pixels(image), _file_bytes(image), Path(image).parent.name) if k in table]
            guess = table[keys[0]] if keys else rng.choice(["pristine", "inpainted"])
            counts["looked_up"] += bool(keys)
            if guess == "pristine":
                view = client.predict(item, api_name="/human_real")
            else:
                client.predict(item, api_name="/human_inpainted")
                view = client.predict(item, api_name="/human_skip_locate")
            counts["answers"] += 1
            counts["right"] += view[4].startswith("**Right**")
            # What the client gets of the next question is an image, its number and the progress line: no truth.
            shown = json.dumps([view[0], view[1], view[3]])
            assert not any(word in shown for word in ("pristine", "inpainted", "telea", "navier", "-"))
    counts["distinct_urls"] = len(set(served))
    return counts


def _serve(demo: gr.Blocks, config: SpaceConfig) -> str:
    port = free_port()
    launch(demo, config, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return f"http://127.0.0.1:{port}/"


@pytest.mark.slow
def test_browse_lookup_attack_is_at_chance_on_the_human_test_and_wins_against_the_old_design(built):
    root, base, store = built
    config = replace(
        base, db_path=str(root / "new.sqlite3"), human_test_share=0.5,
        human_session_max_answers=1000, human_client_max_answers=1000,
    )
    new = build_app(config, store)
    # The old design: the human test draws from the very samples Browse shows (8 photos: each Browse call costs).
    shown = store.subset(range(16))
    old_test = HumanTest(shown, HumanTestStore(root / "old.sqlite3"), seed=0, data_source="old", length=8, limits=HIGH)
    with gr.Blocks() as old:
        with gr.Tab("Browse"):
            browse_tab(old, Browser(shown))
        with gr.Tab("Human test"):
            human_tab(old, old_test)
    try:
        new_url, old_url = _serve(new, config), _serve(old, config)
        against_new = play_from_table(new_url, crawl_browse(new_url), sessions=4)
        against_old = play_from_table(old_url, crawl_browse(old_url), sessions=2)
    finally:
        new.close()
        old.close()
    n, k = against_new["answers"], against_new["right"]
    # No image of the test is in the table, so every answer is the coin's: a one-sided binomial test at the 1%
    # level must not call the attack better than chance (P(X >= k | n, 1/2) > 0.01).
    assert against_new["looked_up"] == 0 and n >= 30
    assert binom.sf(k - 1, n, 0.5) > 0.01, against_new
    assert against_new["distinct_urls"] == n  # every image served under a URL of its own
    # The same attack against the old design looks every image up and is right every time.
    assert against_old["looked_up"] == against_old["answers"] == 16 and against_old["right"] == 16
    assert binom.sf(against_old["right"] - 1, 16, 0.5) < 1e-4


@pytest.mark.slow
def test_a_scripted_answer_loop_is_stopped_by_the_rate_limits_and_progress_and_clicks_work(built):
    root, base, store = built
    config = replace(
        base, db_path=str(root / "limited.sqlite3"), human_test_share=0.5,
        human_session_max_answers=4, human_client_max_answers=6,
    )
    demo = build_app(config, store)
    try:
        url = _serve(demo, config)
        client = Client(url, verbose=False)
        view = client.predict(api_name="/human_start")
        assert view[3] == "**Image 1 of 8**" and view[1] == 1
        client.predict(1, api_name="/human_inpainted")
        located = client.predict(5, 6, 1, api_name="/human_locate")  # the "where?" click, by pixel
        assert located[3] == "**Image 2 of 8**" and "of 1 right" in located[6]
        with pytest.raises(AppError, match="Image 1 is already answered"):
            client.predict(1, api_name="/human_real")
        with pytest.raises(AppError, match=r"Too many answers from this session: at most 4 every 60 s"):
            for item in range(2, 9):
                client.predict(item, api_name="/human_real")
        other = Client(url, verbose=False)  # a new session from the same address gets the rest of its 6
        other.predict(api_name="/human_start")
        other.predict(1, api_name="/human_real")
        other.predict(2, api_name="/human_real")
        with pytest.raises(AppError, match=r"Too many answers from your address: at most 6 every 3600 s"):
            other.predict(3, api_name="/human_real")
    finally:
        demo.close()
    with sqlite3.connect(config.db_path) as conn:
        rows = conn.execute("SELECT session_id, answer, click_x, click_y FROM answers ORDER BY id").fetchall()
    assert len(rows) == 6 and len({r[0] for r in rows}) == 2 and rows[0][1:] == ("inpainted", 5, 6)
