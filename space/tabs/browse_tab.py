"""The Browse tab: filter the samples and page through them (original, benchmark image, mask overlay)."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space.browse import ANY, Browser


def browse_tab(demo: gr.Blocks, browser: Browser) -> tuple[list[gr.Dropdown], gr.Number, gr.Button]:
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
