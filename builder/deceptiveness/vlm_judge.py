"""A VLM judge through transformers: ``AutoProcessor`` + ``AutoModelForImageTextToText``, by Hub id or path.

Loading follows the usual transformers rules: a local folder is read as is; a Hub id comes from the HF cache
(``HF_HUB_OFFLINE=1`` forbids any download). A model that cannot be found is a ``ModelNotFound`` naming it.
Answers are sampled (``do_sample=True``); the torch seed of each generate call is drawn from the trial's rng,
inside ``torch.random.fork_rng`` so that the caller's global torch RNG is left as it was.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..models import load_pretrained
from .answers import parse_pair_answer, parse_single_answer
from .judges import Judge, register_judge

SINGLE_PROMPT = "Is this photo real or was part of it edited by AI? Answer 'real' or 'edited'."
PAIR_PROMPT = "Which of the two images was edited, the first or the second?"


def load_vlm(model: str, device: str = "cpu", dtype: str | None = None):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch_dtype = getattr(torch, dtype, None) if dtype else None
    if dtype and not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"VLM judge dtype {dtype!r} is not a torch dtype (e.g. float16, bfloat16, float32)")
    processor = load_pretrained(AutoProcessor, model, "VLM judge model")
    kwargs = {"dtype": torch_dtype} if torch_dtype is not None else {}
    vlm = load_pretrained(AutoModelForImageTextToText, model, "VLM judge model", **kwargs)
    return processor, vlm.to(device).eval()


@register_judge("vlm")
class VLMJudge(Judge):
    def __init__(
        self,
        model: str,
        device: str = "cpu",
        dtype: str | None = None,
        max_new_tokens: int = 16,
        temperature: float = 1.0,
        max_side: int = 768,
    ) -> None:
        if not model:
            raise ValueError("the vlm judge needs a model id or local path (--model)")
        super().__init__(
            model=str(model),
            dtype=dtype,
            max_new_tokens=int(max_new_tokens),
            temperature=float(temperature),
            max_side=int(max_side),
        )
        self.device = device  # where it runs does not change what it is: kept out of params (the judge's identity)
        self.processor, self.model = load_vlm(self.params["model"], device=device, dtype=dtype)

    def _image(self, array: np.ndarray) -> Image.Image:
        # Bounded input size: 2048 px samples would otherwise cost some processors thousands of image tokens.
        image = Image.fromarray(np.asarray(array, dtype=np.uint8))
        image.thumbnail((self.params["max_side"],) * 2, Image.Resampling.BICUBIC)
        return image

    def _prompt(self, num_images: int, question: str) -> str:
        content = [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": question}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True
            )
        # No chat template (a bare base model): image placeholders then the question.
        token = getattr(self.processor, "image_token", None) or "<image>"
        return " ".join([token] * num_images) + "\n" + question

    def ask(self, images: list[np.ndarray], question: str, rng: np.random.Generator) -> str:
        """The model's decoded answer (new tokens only) for this question about these images."""
        import torch

        inputs = self.processor(
            images=[self._image(a) for a in images], text=self._prompt(len(images), question), return_tensors="pt"
        ).to(self.device)
        seed = int(rng.integers(0, 2**63 - 1))
        fork_devices = [torch.device(self.device).index or 0] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=fork_devices), torch.inference_mode():
            torch.manual_seed(seed)
            output = self.model.generate(
                **inputs,
                do_sample=True,
                temperature=self.params["temperature"],
                max_new_tokens=self.params["max_new_tokens"],
                pad_token_id=self.processor.tokenizer.pad_token_id,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0]

    def answer_single(self, image: np.ndarray, rng: np.random.Generator) -> str | None:
        return parse_single_answer(self.ask([image], SINGLE_PROMPT, rng))

    def answer_pair(self, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> str | None:
        return parse_pair_answer(self.ask([first, second], PAIR_PROMPT, rng))
