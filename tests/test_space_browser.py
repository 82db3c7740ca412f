"""End to end in real headless Chromium: browse a sample, run a detector on it, take the human test twice (one
answer with a click).

Set SPACE_SCREENSHOT_DIR to keep the screenshots; by default they go to the test's temp folder.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from test_space_support import SIZE, free_port, write_generator_output

from inpaintbench.space.app import build_app, launch
from inpaintbench.space.config import SpaceConfig

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"Debian chromium not installed at {CHROMIUM}"),
]


def test_browse_and_answer_the_human_test_twice_in_chromium(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("SPACE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    config = SpaceConfig(
        data=str(write_generator_output(tmp_path / "gen")),
        db_path=str(tmp_path / "answers.sqlite3"),
        cache_dir=str(tmp_path / "cache"),
        seed=0,
    )
    demo = build_app(config)
    port = free_port()
    launch(demo, config, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")

            # Browse: the first sample loads on its own; "Next" moves to the second, images and metadata follow.
            expect(page.get_by_text("Sample 1 of 12 matching")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Next ▶").click()
            expect(page.get_by_text("Sample 2 of 12 matching")).to_be_visible(timeout=15_000)
            for panel in ("#browse-original", "#browse-image", "#browse-overlay"):
                expect(page.locator(f"{panel} img")).to_be_visible()
                assert page.locator(f"{panel} img").evaluate("img => img.complete && img.naturalWidth") == SIZE[0]
            expect(page.get_by_text("embedded-astronaut-telea").first).to_be_visible()
            page.wait_for_timeout(1000)  # cosmetic only: let Gradio's fade-in of fresh outputs finish
            page.screenshot(path=str(shots / "space_browse.png"), full_page=True)

            # Send the shown image to the Detect tab and run the ELA baseline on it.
            page.get_by_role("button", name="Run a detector on the benchmark image").click()
            expect(page.get_by_role("tab", name="Detect", selected=True)).to_be_visible(timeout=15_000)
            page.get_by_role("button", name="Detect", exact=True).click()
            expect(page.get_by_text(f"on a {SIZE[0]}×{SIZE[1]} image: image-level score")).to_be_visible(timeout=30_000)
            expect(page.locator("#detect-heatmap img")).to_be_visible()

            # Human test: answer "real", then "inpainted" and click on the image to say where.
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
            page.wait_for_function("() => document.querySelector('#human-reveal img').complete")
            page.wait_for_timeout(1000)  # cosmetic only: let Gradio's fade-in of fresh outputs finish
            page.screenshot(path=str(shots / "space_human_test.png"), full_page=True)
            browser.close()
    finally:
        demo.close()

    with sqlite3.connect(config.db_path) as conn:
        rows = conn.execute("SELECT session_id, answer, click_x, click_y, hit FROM answers ORDER BY id").fetchall()
    assert len(rows) == 2 and rows[0][0] == rows[1][0]
    assert rows[0][1:4] == ("pristine", None, None)
    # The click landed 35% across, half-way down the image (allow a pixel or two of rounding).
    assert rows[1][1] == "inpainted" and abs(rows[1][2] - 0.35 * SIZE[0]) <= 2 and abs(rows[1][3] - SIZE[1] / 2) <= 2
