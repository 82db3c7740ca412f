"""The built-in prompt writer, used when no LLM is configured.

It writes prompts in the paper's style ("a cozy armchair to complement the furniture arrangement in the room"):
the replacement with one or two adjectives that suit it, tied to the scene through the other objects, the
caption or the setting. Templates, adjectives and which context objects are named are all drawn from the
per-sample ``rng``, so prompts vary across samples and are reproducible for a seed.
"""

from __future__ import annotations

import numpy as np

from .categories import lookup
from .context import SceneContext

# Adjectives by group, so that every category gets ones that suit it (no "juicy laptop").
GROUP_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "person": ("smiling", "casually dressed", "relaxed", "young", "elderly"),
    "figure": ("weathered", "classical", "detailed", "marble"),
    "animal": ("curious", "calm", "healthy", "resting", "alert"),
    "vehicle": ("parked", "shiny", "well-kept", "vintage", "modern"),
    "street": ("weathered", "freshly painted", "municipal", "sturdy"),
    "furniture": ("cozy", "elegant", "wooden", "modern", "well-used", "upholstered"),
    "decor": ("decorative", "elegant", "handmade", "vintage", "charming"),
    "kitchenware": ("clean", "simple", "everyday", "shiny"),
    "food": ("fresh", "delicious", "appetizing", "homemade", "ripe"),
    "electronics": ("sleek", "modern", "black", "compact", "slightly worn"),
    "appliance": ("stainless steel", "compact", "modern", "white"),
    "fixture": ("clean", "white", "porcelain", "modern"),
    "accessory": ("leather", "colorful", "stylish", "well-worn"),
    "clothing": ("stylish", "classic", "neat", "finely made", "matching"),
    "sports": ("colorful", "well-used", "bright", "new"),
    "tool": ("small", "metal", "everyday", "plastic"),
    "toy": ("colorful", "plush", "playful", "well-loved"),
    "instrument": ("wooden", "polished", "vintage"),
    "container": ("rustic", "sturdy", "wooden"),
    "structure": ("tall", "sturdy", "weathered", "stone"),
    "plant": ("leafy", "green", "well-trimmed"),
    "nature": ("moss-covered", "smooth", "grey"),
}
DEFAULT_ADJECTIVES = ("realistic", "natural-looking", "detailed")

# Names that read wrongly after "a".
PHRASES = {
    "balloons": "bunch of balloons",
    "eyeglasses": "pair of eyeglasses",
    "sunglasses": "pair of sunglasses",
    "medal ribbons": "set of medal ribbons",
    "skis": "pair of skis",
    "scissors": "pair of scissors",
    "headphones": "pair of headphones",
}

PLACES = {"indoor": ("room", "interior", "indoor setting"), "outdoor": ("outdoor scene", "surroundings", "open air"),
          "any": ("scene", "setting", "surroundings")}

# Templates naming other objects of the scene, used only when there are some.
OBJECT_TEMPLATES = (
    "{a_adj} {name} to complement the {objects} in the {place}",
    "{a_adj} {name} placed naturally beside the {object}, matching the lighting of the {place}",
    "{a_adj}, {adj2} {name} in harmony with the {objects}",
    "{a_adj} {name} near the {object}, as if it had always been part of the {place}",
)
# Templates that need only the replacement and the setting (or the caption).
SCENE_TEMPLATES = (
    "{a_adj} {name} that fits {caption_or_place}",
    "{a_adj} {name}, blending into the {place} with consistent light and shadows",
    "{a_adj}, {adj2} {name} that belongs in {caption_or_place}",
)


def with_article(text: str) -> str:
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


class TemplatePromptWriter:
    name = "template"

    def write(self, context: SceneContext, replacement: str, rng: np.random.Generator) -> str:
        category = lookup(replacement)
        adjectives = GROUP_ADJECTIVES.get(category.group, DEFAULT_ADJECTIVES) if category else DEFAULT_ADJECTIVES
        first = int(rng.integers(len(adjectives)))
        second = (first + 1 + int(rng.integers(max(len(adjectives) - 1, 1)))) % len(adjectives)
        place = _pick(rng, PLACES[context.setting])
        # Never "a bowl to complement the bowl": the replacement is not named as its own context.
        others = [o for o in context.others if o != replacement]
        if others:
            order = rng.permutation(len(others))
            named = [others[i] for i in order[:2]]
            objects, obj = " and the ".join(named), named[0]
            templates = OBJECT_TEMPLATES + SCENE_TEMPLATES
        else:
            objects = obj = ""
            templates = SCENE_TEMPLATES
        caption = context.caption.rstrip(".")
        if caption.split(" ", 1)[0] in ("A", "An", "The"):
            caption = caption[0].lower() + caption[1:]  # "a cat on a sofa", but "Chelsea the cat" keeps its case
        caption_or_place = f"the scene of {caption}" if caption else f"the {place}"
        template = _pick(rng, templates)
        text = template.format(
            a_adj=with_article(adjectives[first]), adj2=adjectives[second], name=PHRASES.get(replacement, replacement),
            objects=objects, object=obj, place=place, caption_or_place=caption_or_place,
        )
        return " ".join(text.split())

    def write_removal(self, context: SceneContext, rng: np.random.Generator) -> str:
        place = _pick(rng, PLACES[context.setting])
        return f"empty background, seamless continuation of the surrounding {place}"
