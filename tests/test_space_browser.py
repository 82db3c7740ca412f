"""End to end in real headless Chromium, at desktop (1280x800) and phone (390x844) sizes, against one launched app
with the default leaderboard (the committed harness/results): Browse (filters, an out-of-range jump, the overlay
toggle, send to Detect), Detect (an upload), Leaderboard (the ranked table, a definition, re-ranking), and the
human test answered twice (one answer with a click).

Screenshots go to docs/img/space_<tab>_<desktop|phone>.png when SPACE_SCREENSHOT_DIR=docs/img is set, else to the
test's temp folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from inpaintbench.space.app import build_app, launch
from inpaintbench.space.config import SpaceConfig
from tests.helpers.ports import free_port
from tests.helpers.space_fixtures import SIZE, write_generator_output

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TABS = ("Browse", "Detect", "Leaderboard", "Human test")
# Pixels of an <img> whose channels differ (a grey mask has none), counted on a canvas in the page.
TINTED_PIXELS = """img => {
    if (!img.complete || !img.naturalWidth) return -1;  // not loaded yet
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 1]) > 8 || Math.abs(d[i + 1] - d[i + 2]) > 8) n++;
    return n;
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"Debian chromium not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    config = SpaceConfig(data=str(write_generator_output(root / "gen")), db_path=str(root / "answers.sqlite3"),
                         cache_dir=str(root / "cache"), seed=0)  # leaderboard_path unset: the committed results
    demo = build_app(config)
    port = free_port()
    launch(demo, config, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", config, root
    finally:
        demo.close()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SPACE_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, path: Path) -> None:
    """Desktop: the viewport (what a visitor sees first); phone: the whole page, since it scrolls. Stored as a
    256-colour PNG to keep docs/img small."""
    page.wait_for_timeout(800)  # cosmetic only: let Gradio's fade-in of fresh outputs finish
    page.screenshot(path=str(path), full_page=page.viewport_size["width"] < 640)
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


@pytest.mark.parametrize("size", SIZES)
def test_browse_detect_and_leaderboard(app, chromium, shots, size, tmp_path):
    from playwright.sync_api import expect

    url, _, _ = app
    page = chromium.new_page(viewport=SIZES[size])
    page.goto(url)
    expect(page.get_by_text("Sample 1 of")).to_be_visible(timeout=30_000)
    # Every tab in the bar (none behind Gradio's "..." overflow menu), the bar within the screen.
    for name in TABS:
        tab = page.get_by_role("tab", name=name, exact=True)
        expect(tab).to_be_visible()
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= SIZES[size]["width"], (name, box)
    assert page.locator(".overflow-menu").count() == 0 or not page.locator(".overflow-menu").is_visible()

    # Browse: the label filter narrows the samples; a typed number past the end says so; the toggle shows the
    # mask alone, then the overlay again.
    # (The first sample is pristine, so "— inpainted" shows the filtered answer has arrived.)
    choose(page, "Label", "inpainted")
    expect(page.locator("#browse-status")).to_contain_text("— inpainted", timeout=15_000)
    page.locator("#browse-position input").fill("99")
    page.locator("#browse-position input").press("Enter")
    expect(page.get_by_text("No sample #99")).to_be_visible(timeout=15_000)
    # Shown: the last of the matches, all of them inpainted.
    expect(page.locator("#browse-status")).to_contain_text(re.compile(r"(\d+) match these filters.* Sample (\1) of \1 "
                                                                      r"matching.*— inpainted"))
    overlay_src = page.locator("#browse-overlay img").get_attribute("src")
    page.get_by_label("Mask over the original (off: the mask alone)").uncheck()
    expect(page.locator("#browse-overlay img")).not_to_have_attribute("src", overlay_src, timeout=15_000)
    page.wait_for_function("() => { const i = document.querySelector('#browse-overlay img'); "
                           "return i.complete && i.naturalWidth > 0 }")
    # The pixels the page got: the mask alone is grey (black and white); the overlay has tinted pixels.
    assert page.locator("#browse-overlay img").evaluate(TINTED_PIXELS) == 0
    page.get_by_label("Mask over the original (off: the mask alone)").check()
    expect(page.locator("#browse-overlay img")).to_have_attribute("src", re.compile("."), timeout=15_000)
    page.wait_for_function("() => document.querySelector('#browse-overlay img').complete")
    page.wait_for_function(f"() => ({TINTED_PIXELS})(document.querySelector('#browse-overlay img')) > 0",
                           timeout=15_000)
    for panel in ("#browse-original", "#browse-image", "#browse-overlay"):
        assert page.locator(f"{panel} img").evaluate("img => img.complete && img.naturalWidth") == SIZE[0]
    screenshot(page, shots / f"space_browse_{size}.png")

    # Detect: an upload of one's own, then the image sent from Browse.
    page.get_by_role("tab", name="Detect", exact=True).click()
    upload = tmp_path / "mine.png"
    Image.new("RGB", (48, 40), (120, 160, 200)).save(upload)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Drop an image file here to upload").click()
    chooser.value.set_files(str(upload))
    expect(page.get_by_text("Drop Image Here")).to_have_count(0, timeout=15_000)  # uploaded and shown
    page.get_by_role("button", name="Detect", exact=True).click()
    expect(page.get_by_text("on a 48×40 image: image-level score")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Browse", exact=True).click()
    page.get_by_role("button", name="Run a detector on the benchmark image").click()
    expect(page.get_by_role("tab", name="Detect", selected=True)).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Detect", exact=True).click()
    expect(page.get_by_text(f"on a {SIZE[0]}×{SIZE[1]} image: image-level score")).to_be_visible(timeout=30_000)
    expect(page.locator("#detect-heatmap img")).to_be_visible()
    screenshot(page, shots / f"space_detect_{size}.png")

    # Leaderboard: the committed results, the trained baseline ranked with images and intervals, a definition,
    # and re-ranking by a lower-is-better metric puts the fewest false alarms first.
    page.get_by_role("tab", name="Leaderboard", exact=True).click()
    table = page.locator("#board-table")
    expect(table.get_by_test_id("cell-0-1")).to_have_text("trained", timeout=30_000)  # rank 1 by pixel F1
    expect(page.locator("#board-note")).to_contain_text("Ranked by pixel_f1_mean")
    expect(page.get_by_label("Track (data · images · count)")).to_have_value(re.compile("^release 0.1.0 default/test"))
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert [h for h in headers if h][:5] == ["rank", "detector", "images", "pixel_f1_mean", "95% interval"], headers
    expect(page.locator("#board-definitions")).to_contain_text("mean over forged images of the per-image F1")
    detector_of_row = [table.get_by_test_id(f"cell-{row}-1") for row in range(3)]
    chart = page.locator("#board-chart img").first  # matplotlib figures arrive as an image
    expect(chart).to_be_visible(timeout=15_000)
    assert chart.bounding_box()["width"] <= SIZES[size]["width"]
    screenshot(page, shots / f"space_leaderboard_{size}.png")
    choose(page, "Rank by metric", "pristine_pixel_fpr_pooled")
    expect(page.locator("#board-note")).to_contain_text("lower is better", timeout=15_000)
    expect(detector_of_row[0]).to_have_text("noise", timeout=15_000)  # 0.000 false alarms; trained's last
    expect(detector_of_row[2]).to_have_text("trained")
    # The value the committed results file holds (it moves when the embedded artefacts are refreshed).
    expect(table.get_by_test_id("cell-2-3")).to_have_text(
        f"{_committed_metric('trained', 'pristine_pixel_fpr_pooled'):.3f}"
    )
    page.close()


def _committed_metric(detector: str, metric: str) -> float:
    results = Path(__file__).resolve().parents[1] / "harness" / "results" / f"{detector}__0.1.0__default__test.json"
    return json.loads(results.read_text(encoding="utf-8"))["metrics"][metric]


def test_answer_the_human_test_twice_in_chromium(app, chromium, shots):
    from playwright.sync_api import expect

    url, config, _ = app
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.get_by_role("tab", name="Human test").click()
    image = page.locator("#human-image img")
    expect(image).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Real photo").click()
    expect(page.get_by_text("of 1 right")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Inpainted").click()
    expect(page.get_by_text("Where? Click on the part")).to_be_visible(timeout=15_000)
    # The picture sits centred in its frame, shrunk to fit but never enlarged (Gradio maps clicks the same
    # way): click 35% across the picture itself.
    box = image.bounding_box()
    natural_w, natural_h = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = min(box["width"] / natural_w, box["height"] / natural_h, 1.0)
    left, top = (box["width"] - natural_w * scale) / 2, (box["height"] - natural_h * scale) / 2
    image.click(position={"x": left + 0.35 * natural_w * scale, "y": top + 0.5 * natural_h * scale})
    expect(page.get_by_text("of 2 right")).to_be_visible(timeout=15_000)
    expect(page.locator("#human-reveal img")).to_be_visible()
    page.close()

    with sqlite3.connect(config.db_path) as conn:
        rows = conn.execute("SELECT session_id, answer, click_x, click_y, hit FROM answers ORDER BY id").fetchall()
    assert len(rows) == 2 and rows[0][0] == rows[1][0]
    assert rows[0][1:4] == ("pristine", None, None)
    assert rows[1][1] == "inpainted" and abs(rows[1][2] - 0.35 * SIZE[0]) <= 2 and abs(rows[1][3] - SIZE[1] / 2) <= 2


def test_the_human_test_on_a_phone_shows_progress_feedback_in_view_and_an_end_summary(app, chromium, shots):
    """390x844: progress "Image n of N", the answer's feedback inside the viewport without scrolling (pinned by
    space/style.py), and after the last image the visitor's result beside everyone's with intervals."""
    from playwright.sync_api import expect

    url, _, _ = app
    page = chromium.new_page(viewport=SIZES["phone"])
    page.goto(url)
    page.get_by_role("tab", name="Human test").click()
    expect(page.locator("#human-image img")).to_be_visible(timeout=15_000)
    progress = page.locator("#human-progress")
    expect(progress).to_contain_text("Image 1 of", timeout=15_000)
    total = int(re.search(r"Image 1 of (\d+)", progress.inner_text()).group(1))
    for n in range(1, total + 1):
        page.get_by_role("button", name="Real photo").click()
        feedback = page.locator("#human-feedback")
        expect(feedback).to_contain_text("that photo", timeout=15_000)
        box = feedback.bounding_box()
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= SIZES["phone"]["height"], box
        if n < total:
            expect(progress).to_contain_text(f"Image {n + 1} of {total}", timeout=15_000)
    expect(page.get_by_text("Your result")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("everyone so far").first).to_be_visible()
    assert "95% interval" in page.content()
    screenshot(page, shots / "space_human_phone.png")
    page.close()
