"""Prompt writing with a ``transformers`` causal LM (a chat model ideally), given by Hub id or local path.

The model sees the scene (caption, other objects, setting), the object being replaced and its replacement, and
one example in the paper's style, and is asked for one line. The chat template is used when the tokenizer has
one, a plain completion prompt otherwise. Output is sanitised to one short line; an empty or unusable answer
falls back to the template writer (and says so in the plan's extra), so a weak model never yields an empty
prompt. Sampling, when enabled, is seeded from the per-sample rng inside a forked torch RNG, so it neither
depends on nor disturbs global state.
"""

from __future__ import annotations

import re

import numpy as np

from ..models import load_from_directory, resolve_model
from .context import SceneContext, describe_name
from .template_writer import TemplatePromptWriter

SYSTEM = (
    "You write prompts for an image inpainting model. Given a photo's content and an object to replace, answer "
    "with one short prompt (under 20 words) describing the new object so that it fits the scene. "
    "Example: a cozy armchair to complement the furniture arrangement in the room"
)


def sanitize(text: str, max_chars: int) -> str:
    """First non-empty line, without quotes, labels or markup, whitespace collapsed, cut at a word boundary."""
    for line in text.splitlines():
        line = re.sub(r"^\s*(prompt|answer|output)\s*:\s*", "", line, flags=re.IGNORECASE)
        line = re.sub(r"<\|[^|>]*\|>|</?s>", " ", line)  # chat markers a model may echo
        line = re.sub(r"[`*#\"“”]+", "", line)
        line = " ".join(line.split()).strip(" '-.")
        if line:
            if len(line) > max_chars:
                cut = line[:max_chars].rsplit(" ", 1)[0]
                line = cut if cut else line[:max_chars]
            return line
    return ""


class LLMPromptWriter:
    name = "llm"

    def __init__(
        self,
        model: str,
        *,
        max_new_tokens: int = 40,
        max_chars: int = 200,
        do_sample: bool = False,
        temperature: float = 0.7,
        top_p: float = 0.9,
        device: str = "cpu",
        cache_dir: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name = str(model)
        directory = resolve_model(model, what="prompt LLM", cache_dir=cache_dir)
        self.tokenizer = load_from_directory(
            AutoTokenizer, directory, what="prompt LLM tokenizer", name=self.model_name
        )
        self.model = load_from_directory(AutoModelForCausalLM, directory, what="prompt LLM", name=self.model_name)
        self.model.to(device).eval()
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.max_chars = max_chars
        self.do_sample = do_sample
        self.temperature = temperature
        self.top_p = top_p
        self._torch = torch
        self.fallback = TemplatePromptWriter()
        self.last_fell_back = False

    def messages(self, context: SceneContext, replacement: str) -> list[dict[str, str]]:
        scene = []
        if context.caption:
            scene.append(f"Caption: {context.caption}")
        if context.others:
            scene.append("Other objects: " + ", ".join(describe_name(n) for n in context.others))
        if context.setting != "any":
            scene.append(f"Setting: {context.setting}")
        user = "\n".join(scene + [f"Replace the {describe_name(context.target)} with {describe_name(replacement)}.",
                                  "Prompt:"])
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def _input_ids(self, messages):
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = "\n\n".join(m["content"] for m in messages) + " "
        encoded = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        return encoded["input_ids"].to(self.device), encoded.get("attention_mask")

    def write(self, context: SceneContext, replacement: str, rng: np.random.Generator) -> str:
        torch = self._torch
        # Drawn whether or not sampling is on, so toggling it never shifts later draws from the same rng.
        seed = int(rng.integers(2**31 - 1))
        input_ids, attention_mask = self._input_ids(self.messages(context, replacement))
        kwargs = dict(max_new_tokens=self.max_new_tokens, do_sample=self.do_sample)
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed)
            output = self.model.generate(
                input_ids,
                attention_mask=None if attention_mask is None else attention_mask.to(self.device),
                pad_token_id=pad_id,
                **kwargs,
            )
        text = self.tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True)
        prompt = sanitize(text, self.max_chars)
        self.last_fell_back = len(prompt.split()) < 2
        if self.last_fell_back:
            return self.fallback.write(context, replacement, rng)
        return prompt

    def write_removal(self, context: SceneContext, rng: np.random.Generator) -> str:
        # Removal prompts describe background only; an LLM adds nothing there but risk of naming objects.
        return self.fallback.write_removal(context, rng)
