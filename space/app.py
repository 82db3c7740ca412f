"""The InpaintBench Space: four tabs over one dataset (Browse, Detect, Leaderboard, Human test).

``build_app(config)`` builds the ``gr.Blocks``; ``launch(demo, config)`` starts it with the Space's limits.
``demo`` (module attribute, built on first access from the environment) is what Spaces and ``gradio app.py``
look for; run as a script, this file launches it.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from inpaintbench.space import leaderboard as board_views
from inpaintbench.space.browse import ANY, Browser
from inpaintbench.space.config import SpaceConfig
from inpaintbench.space.components import RawImageUpload
from inpaintbench.space.data import SampleStore, load_store
from inpaintbench.space.detect import DetectError, DetectorRunner
from inpaintbench.space.human import HumanTest
from inpaintbench.space.human_store import HumanTestStore
from inpaintbench.space.uploads import UploadError

CSS = """
#human-image img { cursor: crosshair; }
.ib-status p { margin: 0.4em 0; }
"""


def build_app(config: SpaceConfig, store: SampleStore | None = None) -> gr.Blocks:
    """The app over ``store`` (default: the data ``config`` points at, read now)."""
    store = store if store is not None else load_store(config)
    browser = Browser(store)
    runner = DetectorRunner(max_megapixels=config.max_upload_megapixels, detector_params=config.detector_kwargs())
    human = HumanTest(store, HumanTestStore(config.db_path), seed=config.seed, data_source=store.description)
    board = board_views.load(config.leaderboard_path)

    with gr.Blocks(title="InpaintBench") as demo:
        gr.Markdown(
            "# InpaintBench\nA benchmark of AI-inpainted image forgeries: real photos in which one object was "
            f"replaced or removed by an inpainting model.  \nData: {store.description} · {len(store)} samples."
        )
        with gr.Tabs() as tabs:
            with gr.Tab("Browse", id="browse"):
                filters, position, send_button = _browse_tab(demo, browser)
            with gr.Tab("Detect", id="detect"):
                upload = _detect_tab(runner)
            with gr.Tab("Leaderboard", id="leaderboard"):
                _leaderboard_tab(demo, board)
            with gr.Tab("Human test", id="human"):
                _human_tab(demo, human)

        def send_to_detect(backend, category, strategy, split, current):
            shown = browser.show(backend, category, strategy, split, current)[1]
            if shown is None:
                raise gr.Error("No sample is shown: widen the filters first.", print_exception=False)
            return shown, gr.Tabs(selected="detect")

        send_button.click(send_to_detect, filters + [position], [upload, tabs], api_name="browse_to_detect")
    return demo


def launch(demo: gr.Blocks, config: SpaceConfig, **kwargs: Any):
    """``demo.launch`` with the Space's upload limit, theme and CSS (Gradio 6 takes the last two here)."""
    kwargs.setdefault("max_file_size", config.max_upload_size)
    return demo.launch(theme=gr.themes.Soft(), css=CSS, **kwargs)


def _browse_tab(demo: gr.Blocks, browser: Browser) -> tuple[list[gr.Dropdown], gr.Number, gr.Button]:
    gr.Markdown("Filter the samples, then page through them. *All* keeps every value.")
    with gr.Row():
        filters = [
            gr.Dropdown(browser.choices(column), value=ANY, label=label)
            for column, label in (
                ("backend", "Backend"),
                ("category", "Object category"),
                ("strategy", "Strategy"),
                ("split", "Split"),
            )
        ]
    with gr.Row():
        prev_button = gr.Button("◀ Previous", scale=1)
        position = gr.Number(value=1, precision=0, label="Sample # (Enter to jump)", minimum=0, scale=1)
        next_button = gr.Button("Next ▶", scale=1)
    status = gr.Markdown(elem_classes="ib-status")
    with gr.Row():
        original = gr.Image(
            label="Original photo", type="pil", interactive=False, format="png", elem_id="browse-original", height=340
        )
        shown = gr.Image(
            label="Benchmark image (what a detector sees)",
            type="pil",
            interactive=False,
            format="png",
            elem_id="browse-image",
            height=340,
        )
        overlay = gr.Image(
            label="Inpainting mask over the original",
            type="pil",
            interactive=False,
            format="png",
            elem_id="browse-overlay",
            height=340,
        )
    send_button = gr.Button("Run a detector on the benchmark image ▸", size="sm")
    metadata = gr.Dataframe(label="Metadata", headers=["field", "value"], interactive=False, wrap=True)

    def step(delta: int):
        def handler(backend, category, strategy, split, current):
            return browser.show(backend, category, strategy, split, int(current or 1) + delta)

        return handler

    outputs = [original, shown, overlay, metadata, status, position]
    position.submit(browser.show, filters + [position], outputs, api_name="browse")
    gr.on([f.change for f in filters], step(0), filters + [gr.State(1)], outputs, api_name="browse_filter")
    next_button.click(step(+1), filters + [position], outputs, api_name="browse_next")
    prev_button.click(step(-1), filters + [position], outputs, api_name="browse_prev")
    demo.load(step(0), filters + [gr.State(1)], outputs, api_name=False)
    return filters, position, send_button


def _detect_tab(runner: DetectorRunner) -> RawImageUpload:
    if runner.names:
        gr.Markdown("Upload a photo and pick a detector: it scores the whole image and maps where it suspects edits.")
    else:
        gr.Markdown(f"**Note:** detection is not available in this build: {runner.unavailable_reason}.")
    if runner.unavailable:
        gr.Markdown("Not available in this Space (the Space's owner can set `INPAINTBENCH_DETECTOR_PARAMS`): "
                    + "; ".join(f"`{name}`: {why}" for name, why in runner.unavailable.items()))
    with gr.Row():
        with gr.Column():
            upload = RawImageUpload(
                label="Image to check (PNG, JPEG or WebP)",
                sources=["upload", "clipboard"],
                type="filepath",
                image_mode=None,
                format="png",  # png: an image sent from Browse must reach the detector unaltered
            )
            detector = gr.Dropdown(runner.names, value=runner.names[0] if runner.names else None, label="Detector")
            run_button = gr.Button("Detect", variant="primary")
        with gr.Column():
            heatmap = gr.Image(
                label="Heatmap over the image (bright = suspected inpainting)",
                type="pil",
                interactive=False,
                elem_id="detect-heatmap",
                format="png",
            )
            score = gr.Number(label="Image-level score", interactive=False, precision=4)
            summary = gr.Markdown()

    def detect(image_file, name):
        try:
            decoded, overlay, value, text = runner.run(image_file, name)
        except (UploadError, DetectError) as exc:
            raise gr.Error(str(exc), title="Cannot run detection", print_exception=False) from None
        return overlay if overlay is not None else decoded, value, text

    run_button.click(detect, [upload, detector], [heatmap, score, summary], api_name="detect")
    return upload


def _leaderboard_tab(demo: gr.Blocks, board: board_views.Leaderboard) -> None:
    gr.Markdown(board.message)
    metrics = board.metrics()
    perturbations = board.perturbations() or [board_views.CLEAN]
    with gr.Row():
        metric = gr.Dropdown(metrics, value=metrics[0] if metrics else None,
                             label="Metric (per-backend columns and plot)")
        perturbation = gr.Dropdown(perturbations, value=perturbations[0],
                                   label="Images (none = clean; else as laundered before detection)")
    table = gr.Dataframe(label="Leaderboard", interactive=False, wrap=True)
    chart = gr.Plot(label="Metric per detector and backend")
    note = board.unranked_note()
    if note:
        gr.Markdown(note)
    gr.Markdown(board_views.definitions(metrics))

    def view(chosen, under):
        return board_views.table(board, chosen, under), board_views.plot(board, chosen, under)

    gr.on([metric.change, perturbation.change], view, [metric, perturbation], [table, chart], api_name="leaderboard")
    demo.load(view, [metric, perturbation], [table, chart], api_name=False)


def _human_tab(demo: gr.Blocks, human: HumanTest) -> None:
    gr.Markdown(
        "Some photos below are real, some had one object replaced or removed by an AI model. Say which, and if you "
        "think it was edited, click where. Answers are stored anonymously (a random id per visit) to measure how "
        "well people spot inpainting."
    )
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Markdown()
            image = gr.Image(
                label="Real or inpainted?",
                type="pil",
                interactive=False,
                elem_id="human-image",
                format="png",
                height=460,
            )
            with gr.Row():
                real_button = gr.Button("Real photo", variant="primary")
                inpainted_button = gr.Button("Inpainted", variant="stop")
                skip_button = gr.Button("Skip the click: I can't tell where")
        with gr.Column(scale=1):
            feedback = gr.Markdown()
            reveal = gr.Image(
                label="Your last image (edited region marked)",
                type="pil",
                interactive=False,
                height=220,
                elem_id="human-reveal",
                format="png",
            )
            score = gr.Markdown()
            accuracy = gr.Dataframe(label="Everyone so far: accuracy per backend", interactive=False)
    # The "where?" click as an API endpoint: clients cannot send a select event, so they post x and y here.
    with gr.Row(visible=False):
        click_x = gr.Number(precision=0)
        click_y = gr.Number(precision=0)
        locate_button = gr.Button()

    outputs = [state, image, prompt, feedback, reveal, score, accuracy]
    demo.load(human.start, state, outputs, api_name="human_start")
    real_button.click(lambda s: human.answer("real", s), state, outputs, api_name="human_real")
    inpainted_button.click(lambda s: human.answer("inpainted", s), state, outputs, api_name="human_inpainted")
    skip_button.click(human.skip_locate, state, outputs, api_name="human_skip_locate")
    locate_button.click(human.locate, [click_x, click_y, state], outputs, api_name="human_locate")

    def on_click(current, event: gr.SelectData):
        x, y = event.index
        return human.locate(x, y, current)

    image.select(on_click, state, outputs, api_name=False)


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
