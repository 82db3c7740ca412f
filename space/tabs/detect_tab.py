"""The Detect tab: upload an image, pick a detector, see its score and heatmap."""

from __future__ import annotations

import gradio as gr

from inpaintbench.space.components import RawImageUpload
from inpaintbench.space.detect import DetectError, DetectorRunner
from inpaintbench.space.uploads import UploadError


def detect_tab(runner: DetectorRunner) -> RawImageUpload:
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
                # A picture to look at, not data: JPEG encodes in a few ms where PNG of a noisy photo takes ~40,
                # the largest server cost of a small Detect call (50 at once queue behind it on 2 cores).
                format="jpeg",
            )
            score = gr.Number(label="Image-level score", interactive=False, precision=4)
            summary = gr.Markdown()

    def detect(image_file, name):
        try:
            decoded, overlay, value, text = runner.run(image_file, name)
        except (UploadError, DetectError) as exc:
            raise gr.Error(str(exc), title="Cannot run detection", print_exception=False) from None
        return overlay if overlay is not None else decoded, value, text

    # Detection is CPU-bound: runner.concurrency at once (about one per core), the rest wait in Detect's own queue
    # ("detect" concurrency id) rather than in front of the cheap events, which have the app's default limit.
    run_button.click(detect, [upload, detector], [heatmap, score, summary], api_name="detect",
                     concurrency_limit=runner.concurrency, concurrency_id="detect")
    return upload
