"""An optional scene caption from a ``transformers`` image-to-text model (BLIP, GIT, VisionEncoderDecoder, ...).

Transformers 5 has no "image-to-text" pipeline any more, so the model is loaded through the auto classes
(``AutoProcessor`` + ``AutoModelForImageTextToText``) and run with greedy ``generate``: a caption is context,
not a creative choice, so it is deterministic.
"""

from __future__ import annotations

import os

from PIL import Image

from ..models import load_from_directory, resolve_model
from .llm_writer import sanitize


class Captioner:
    def __init__(
        self,
        model: str | os.PathLike,
        *,
        prompt: str | None = None,
        max_new_tokens: int = 30,
        device: str = "cpu",
        cache_dir: str | os.PathLike | None = None,
    ):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.model_name = str(model)
        directory = resolve_model(model, what="captioning model", cache_dir=cache_dir)
        self.processor = load_from_directory(
            AutoProcessor, directory, what="captioning processor", name=self.model_name
        )
        self.model = load_from_directory(
            AutoModelForImageTextToText, directory, what="captioning model", name=self.model_name
        )
        self.model.to(device).eval()
        self.device = device
        self.prompt = prompt  # conditional captioning ("a photography of"), for models that take one
        self.max_new_tokens = max_new_tokens
        self._torch = torch

    def caption(self, image: Image.Image) -> str:
        kwargs = {"images": image.convert("RGB"), "return_tensors": "pt"}
        if self.prompt:
            kwargs["text"] = self.prompt
        inputs = self.processor(**kwargs).to(self.device)
        with self._torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        text = self.processor.batch_decode(output, skip_special_tokens=True)[0]
        if self.prompt and text.lower().startswith(self.prompt.lower()):
            text = text[len(self.prompt):]
        return sanitize(text, max_chars=300)
