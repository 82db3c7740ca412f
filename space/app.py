"""The InpaintBench Space: four tabs over one dataset (Browse, Detect, Leaderboard, Human test).

``build_app(config)`` builds the ``gr.Blocks``; ``launch(demo, config)`` starts it with the Space's limits.
``demo`` (module attribute, built on first access from the environment) is what Spaces and ``gradio app.py``
look for; run as a script, this file launches it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from inpaintbench.space import leaderboard as board_views
from inpaintbench.space.browse import Browser
from inpaintbench.space.config import SpaceConfig
from inpaintbench.space.data import SampleStore, load_store
from inpaintbench.space.detect import DetectorRunner
from inpaintbench.space.human import HumanTest
from inpaintbench.space.style import CSS
from inpaintbench.space.tabs.browse_tab import browse_tab
from inpaintbench.space.tabs.detect_tab import detect_tab
from inpaintbench.space.tabs.human_tab import human_tab
from inpaintbench.space.tabs.leaderboard_tab import leaderboard_tab


def build_app(config: SpaceConfig, store: SampleStore | None = None) -> gr.Blocks:
    """The app over ``store`` (default: the data ``config`` points at, read now)."""
    store = store if store is not None else load_store(config)
    # Browse (and send-to-Detect) get only the photos the human test never shows: see space/human_pool.py.
    browse_part, human = HumanTest.over_store(store, config)
    browser = Browser(browse_part)
    runner = DetectorRunner(max_megapixels=config.max_upload_megapixels, detector_params=config.detector_kwargs(),
                            max_side=config.detect_max_side, concurrency=config.detect_concurrency)
    board = board_views.load(config.leaderboard_path)

    # Gradio's temp cache (every upload, every result image) would grow for as long as the Space runs: files older
    # than cache_max_age_s are deleted, checked every quarter of that age. Each upload is at most max_upload_size.
    cleanup = (max(1, config.cache_max_age_s // 4), config.cache_max_age_s)
    with gr.Blocks(title="InpaintBench", delete_cache=cleanup) as demo:
        gr.Markdown(
            "# InpaintBench\nA benchmark of AI-inpainted image forgeries: real photos in which one object was "
            f"replaced or removed by an inpainting model.  \nData: {store.description} · {len(store)} samples."
        )
        with gr.Tabs() as tabs:
            with gr.Tab("Browse", id="browse"):
                filters, position, send_button = browse_tab(demo, browser)
            with gr.Tab("Detect", id="detect"):
                upload = detect_tab(runner)
            with gr.Tab("Leaderboard", id="leaderboard"):
                leaderboard_tab(demo, board)
            with gr.Tab("Human test", id="human"):
                human_tab(demo, human)

        def send_to_detect(backend, category, strategy, split, current):
            shown = browser.show(backend, category, strategy, split, current)[1]
            if shown is None:
                raise gr.Error("No sample is shown: widen the filters first.", print_exception=False)
            return shown, gr.Tabs(selected="detect")

        send_button.click(send_to_detect, filters + [position], [upload, tabs], api_name="browse_to_detect")
    return demo


def launch(demo: gr.Blocks, config: SpaceConfig, **kwargs: Any):
    """``demo.launch`` with the Space's upload limit, queue limits, theme and CSS (Gradio 6 takes the last two here).

    Gradio runs one event at a time per event listener unless told otherwise: with 20 people answering the human
    test, each answer waited behind the others (7 s median). Cheap events now run ``event_concurrency`` at once;
    Detect sets its own, smaller, limit under its own concurrency id (see tabs/detect_tab.py), so detections
    queue among themselves and never hold up an answer. ``queue_max_size`` waiting events, all kinds together,
    is the most the Space holds: beyond it a request is refused at once ("queue is full") instead of waiting
    minutes.
    """
    for name in ("event_concurrency", "detect_concurrency", "queue_max_size", "cache_max_age_s", "detect_max_side"):
        if getattr(config, name) < 1:
            raise ValueError(f"SpaceConfig.{name} must be at least 1, got {getattr(config, name)!r}")
    _write_cached_images_atomically()
    demo.queue(default_concurrency_limit=config.event_concurrency, max_size=config.queue_max_size)
    kwargs.setdefault("max_file_size", config.max_upload_size)
    return demo.launch(theme=gr.themes.Soft(), css=CSS, **kwargs)


def _write_cached_images_atomically() -> None:
    """Gradio (6.31) writes each output image to a cache path named by its content hash by truncating and
    rewriting that file in place (``processing_utils.save_pil_to_cache``). Once events run concurrently, two of
    them returning the same image (testers shown the same photo, identical uploads) serve a half-written file: the
    download fails ("peer closed connection without sending complete message body"). Write, then rename into
    place, as Gradio's own ``save_file_to_cache`` does: a reader keeps the complete file it opened."""
    from gradio import processing_utils

    if getattr(processing_utils.save_pil_to_cache, "inpaintbench_atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        final = (folder / f"{name}.{format}").resolve()
        handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staging, final)  # also refreshes the age delete_cache goes by
        return str(final)

    save_pil_to_cache.inpaintbench_atomic = True
    processing_utils.save_pil_to_cache = save_pil_to_cache


def __getattr__(name: str):
    # Built on first access, not at import: importing build_app must not read data or open the database.
    if name == "demo":
        global demo
        demo = build_app(SpaceConfig.from_env())
        return demo
    raise AttributeError(name)


if __name__ == "__main__":
    config = SpaceConfig.from_env()
    launch(build_app(config), config)
