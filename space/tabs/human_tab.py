"""The Human test tab: "real or inpainted?", then "where?", answers stored anonymously, N images per visit."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space.human import HumanTest, Refused


def client_address(request: gr.Request | None, header: str | None) -> str | None:
    """Who is answering, for the per-client rate limit: the first address of ``header`` when the Space sits
    behind a proxy that sets it, else the connecting address."""
    if request is None:
        return None
    if header:
        forwarded = (request.headers.get(header) or "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else None


def human_tab(demo: gr.Blocks, human: HumanTest) -> None:
    gr.Markdown(
        f"Some photos below are real, some had one object replaced or removed by an AI model. Say which, and if you "
        f"think it was edited, click where. A test is {human.length} images, none of them shown in Browse. Answers "
        "are stored anonymously (a random id per visit) to measure how well people spot inpainting."
    )
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            progress = gr.Markdown(elem_id="human-progress")
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
            feedback = gr.Markdown(elem_id="human-feedback")  # pinned in view on a phone (space/style.py)
            reveal = gr.Image(
                label="Your last image (edited region marked)",
                type="pil",
                interactive=False,
                height=220,
                elem_id="human-reveal",
                format="png",
            )
            score = gr.Markdown()
            accuracy = gr.Dataframe(
                label="Everyone so far: accuracy per backend, with 95% Wilson intervals", interactive=False
            )
    # Hidden inputs of the API: which image an answer is for (so a late double click cannot answer the next one),
    # and the "where?" click, since clients cannot send a select event.
    with gr.Row(visible=False):
        item = gr.Number(precision=0, label="item")
        click_x = gr.Number(precision=0)
        click_y = gr.Number(precision=0)
        locate_button = gr.Button()

    def refusals_as_errors(step, *args):
        try:
            return step(*args)
        except Refused as exc:  # a toast in the UI, an AppError with this message for API clients
            raise gr.Error(str(exc), print_exception=False) from None

    def real(number, current, request: gr.Request):
        return refusals_as_errors(
            human.answer, "real", number, current, client_address(request, human.client_ip_header)
        )

    def inpainted(number, current, request: gr.Request):
        return refusals_as_errors(
            human.answer, "inpainted", number, current, client_address(request, human.client_ip_header)
        )

    def skip(number, current, request: gr.Request):
        return refusals_as_errors(human.skip_locate, number, current, client_address(request, human.client_ip_header))

    def locate(x, y, number, current, request: gr.Request):
        return refusals_as_errors(human.locate, x, y, number, current, client_address(request, human.client_ip_header))

    def on_click(number, current, event: gr.SelectData, request: gr.Request):
        x, y = event.index
        return locate(x, y, number, current, request)

    outputs = [state, image, item, prompt, progress, feedback, reveal, score, accuracy]
    demo.load(human.start, state, outputs, api_name="human_start")
    real_button.click(real, [item, state], outputs, api_name="human_real")
    inpainted_button.click(inpainted, [item, state], outputs, api_name="human_inpainted")
    skip_button.click(skip, [item, state], outputs, api_name="human_skip_locate")
    locate_button.click(locate, [click_x, click_y, item, state], outputs, api_name="human_locate")
    image.select(on_click, [item, state], outputs, api_name=False)
