"""The built-in template prompt writer and the LLM output sanitiser (no model needed)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from inpaintbench.builder.saor.context import SceneContext
from inpaintbench.builder.saor.llm_writer import sanitize
from inpaintbench.builder.saor.template_writer import TemplatePromptWriter

CONTEXTS = [
    SceneContext("cup", ("dining table", "bowl", "chair"), "A kitchen table with dishes", "indoor"),
    SceneContext("dog", (), "", "any"),
    SceneContext("cat", (), "Chelsea the cat", "any"),
    SceneContext("car", ("truck",), "", "outdoor"),
]


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: c.target)
def test_template_prompts_are_well_formed_and_name_the_replacement(context):
    writer = TemplatePromptWriter()
    replacement = {"cup": "bowl", "dog": "cat", "cat": "dog", "car": "skis"}[context.target]
    prompts = [writer.write(context, replacement, np.random.default_rng(seed)) for seed in range(40)]
    for prompt in prompts:
        assert replacement in prompt and "\n" not in prompt and "  " not in prompt
        assert not re.search(r"\bthe\s*(,|$| and\b)", prompt), prompt  # no dangling "the" from an empty slot
        assert not re.search(r"\ba [aeiou]", prompt), prompt  # article agrees
        assert f"the {replacement}" not in prompt.split(replacement, 1)[1]  # never its own context
    assert len(set(prompts)) >= 10
    assert prompts == [writer.write(context, replacement, np.random.default_rng(seed)) for seed in range(40)]
    if replacement == "skis":
        assert all("pair of skis" in p for p in prompts)


def test_template_prompts_use_the_caption_and_keep_proper_nouns():
    writer = TemplatePromptWriter()
    prompts = {writer.write(CONTEXTS[2], "dog", np.random.default_rng(seed)) for seed in range(60)}
    assert any("Chelsea the cat" in p for p in prompts)
    prompts = {writer.write(CONTEXTS[0], "bowl", np.random.default_rng(seed)) for seed in range(60)}
    assert any("a kitchen table with dishes" in p for p in prompts)
    assert any("dining table" in p for p in prompts)


def test_removal_prompt_describes_background_only():
    prompt = TemplatePromptWriter().write_removal(CONTEXTS[0], np.random.default_rng(0))
    assert "cup" not in prompt and "background" in prompt


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('\n\n  Prompt: "a cozy armchair" \nsecond line', "a cozy armchair"),
        ("<|assistant|> **a wooden stool** here.", "a wooden stool"),
        ("   \n \n", ""),
        ("one two three four five six seven", "one two three"),
    ],
)
def test_sanitize(raw, expected):
    assert sanitize(raw, max_chars=16) == expected
