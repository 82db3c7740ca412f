"""A Gradio component the Space needs that Gradio does not ship as such."""

from __future__ import annotations

import base64

import gradio as gr

from gradio.events import Dependency

class RawImageUpload(gr.Image):
    """``gr.Image`` upload that hands the handler the uploaded file untouched (a path, or bytes for a data URL).

    Stock ``gr.Image`` opens the upload with PIL before the handler runs, so a file that is not an image, or a
    decompression bomb, fails inside Gradio with a bare "Error". Passing the file through lets
    ``inpaintbench.space.uploads`` refuse it with a message that says what is wrong. ``is_template`` makes
    Gradio render it with the stock image frontend.
    """

    is_template = True

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.path is None and payload.url and payload.url.startswith("data:"):
            return base64.b64decode(payload.url.split(",", 1)[1])
        return payload.path
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component