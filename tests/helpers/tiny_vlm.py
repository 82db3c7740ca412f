"""A tiny random-weight VLM folder (LLaVA architecture) built from configs, for tests and benchmarks/assess.py (a
test fixture, kept out of the wheel).

Same classes as a real LLaVA checkpoint (``LlavaForConditionalGeneration``, ``LlavaProcessor`` with a CLIP
image processor and a chat template), a few thousand parameters, saved with ``save_pretrained`` so the VLM judge
loads it by path through ``AutoProcessor`` / ``AutoModelForImageTextToText`` exactly as it loads a real one.

The tokenizer is a word-level vocabulary built in memory that holds the prompts' words and the answer words:
random weights then sample answers such as "edited real first", so the answer parser, valid and invalid trials
all get exercised. Its answers mean nothing.
"""

from __future__ import annotations

from pathlib import Path

from inpaintbench.builder.deceptiveness.vlm_judge import PAIR_PROMPT, SINGLE_PROMPT

_SPECIAL = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
_ANSWERS = ["real", "edited", "first", "second", "maybe", "unsure"]
_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %} {% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)


def _vocabulary() -> list[str]:
    words = []
    for text in (SINGLE_PROMPT, PAIR_PROMPT, "user assistant :"):
        for word in text.replace("?", " ? ").replace(".", " . ").replace("'", " ' ").replace(",", " , ").split():
            words.append(word)
    ordered = list(dict.fromkeys(_SPECIAL + _ANSWERS + words))
    return ordered


def build_tiny_vlm(path: str | Path, seed: int = 0, image_size: int = 16, hidden: int = 16) -> Path:
    """Writes the model + processor to ``path``; returns it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    words = _vocabulary()
    vocab = {word: index for index, word in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    backend.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )
    patch = image_size // 2
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=patch,
        vision_feature_select_strategy="default", chat_template=_CHAT_TEMPLATE, num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1, num_attention_heads=2,
            image_size=image_size, patch_size=patch, projection_dim=hidden,
        ),
        text_config=LlamaConfig(
            vocab_size=len(words), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
            pad_token_id=vocab["<pad>"], bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"],
        ),
        image_token_index=vocab["<image>"],
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config).eval()
    path = Path(path)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
