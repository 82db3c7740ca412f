"""The Human test tab: "real or inpainted?", then "where?", answers stored anonymously."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space.human import HumanTest


def human_tab(demo: gr.Blocks, human: HumanTest) -> None:
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
