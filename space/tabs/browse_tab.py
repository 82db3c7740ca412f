"""The Browse tab: filter the samples and page through them (original, benchmark image, mask over the original)."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space.browse import ANY, Browser

FILTERS = (  # (index column, label); shown in this order
    ("label", "Label"),
    ("source", "Source"),
    ("backend", "Backend"),
    ("category", "Object category"),
    ("strategy", "Strategy"),
    ("split", "Split"),
)
# The API's argument order: the first four filters and the position came first and stay so (clients rely on it).
API_ORDER = ("backend", "category", "strategy", "split", "position", "label", "source", "overlay")


def browse_tab(demo: gr.Blocks, browser: Browser) -> tuple[list[gr.Dropdown], gr.Textbox, gr.Button]:
    """Returns (backend, category, strategy and split filters, the shown sample's id, the send-to-Detect button):
    what ``Browser.show`` needs to find the shown sample again, whatever the label and source filters are."""
    gr.Markdown("Filter the samples, then page through them (or type a number and press Enter). *All* keeps "
                "every value.")
    with gr.Row():
        dropdowns = {column: gr.Dropdown(browser.choices(column), value=ANY, label=label, min_width=150)
                     for column, label in FILTERS}
    with gr.Row(equal_height=True):
        prev_button = gr.Button("◀ Previous", scale=1, min_width=80)
        position = gr.Number(value=1, precision=0, label="Sample #", scale=1, min_width=80,
                             elem_id="browse-position")
        next_button = gr.Button("Next ▶", scale=1, min_width=80)
    with gr.Row():
        overlay = gr.Checkbox(value=True, label="Mask over the original (off: the mask alone)",
                              elem_id="browse-overlay-toggle")
    status = gr.Markdown(elem_classes="ib-status", elem_id="browse-status")
    with gr.Row():
        original = gr.Image(label="Original photo", type="pil", interactive=False, format="png",
                            elem_id="browse-original", height=340, min_width=200)
        shown = gr.Image(label="Benchmark image (what a detector sees)", type="pil", interactive=False,
                         format="png", elem_id="browse-image", height=340, min_width=200)
        mask_panel = gr.Image(label="Inpainting mask", type="pil", interactive=False, format="png",
                              elem_id="browse-overlay", height=340, min_width=200)
    send_button = gr.Button("Run a detector on the benchmark image ▸", size="sm")
    metadata = gr.Dataframe(label="Metadata", headers=["field", "value"], interactive=False, wrap=True)
    # The shown sample's id, for "send to Detect": hidden, but an API parameter (a client may send an id or a #).
    shown_id = gr.Textbox(visible=False, label="Sample id or #", elem_id="browse-shown-id")

    def handler(delta: int | None):
        """delta None: a typed jump (out of range is said, not wrapped); else a step from the current one."""

        def run(backend, category, strategy, split, current, label, source, with_overlay):
            filters = dict(label=label, source=source, backend=backend, category=category, strategy=strategy,
                           split=split)
            if delta is None:
                view = browser.view(filters, current, with_overlay)
            else:
                start = current if isinstance(current, (int, float)) and current == current else 1
                view = browser.view(filters, int(start) + delta, with_overlay, wrap=True)
            table = view[3]
            ids = table.loc[table["field"] == "sample_id", "value"] if len(table) else []
            return (*view[:5], ids.iloc[0] if len(ids) else "", view[5])

        return run

    inputs = [dropdowns["backend"], dropdowns["category"], dropdowns["strategy"], dropdowns["split"], position,
              dropdowns["label"], dropdowns["source"], overlay]
    first = inputs[:4] + [gr.State(1)] + inputs[5:]
    # position last: clients read the shown number as the last output
    outputs = [original, shown, mask_panel, metadata, status, shown_id, position]
    position.submit(handler(None), inputs, outputs, api_name="browse")
    gr.on([d.change for d in dropdowns.values()], handler(0), first, outputs, api_name="browse_filter")
    overlay.change(handler(0), inputs, outputs, api_name="browse_overlay")
    next_button.click(handler(+1), inputs, outputs, api_name="browse_next")
    prev_button.click(handler(-1), inputs, outputs, api_name="browse_prev")
    demo.load(handler(0), first, outputs, api_name=False)
    filters = [dropdowns[c] for c in ("backend", "category", "strategy", "split")]
    return filters, shown_id, send_button
