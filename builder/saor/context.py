"""What the planner knows about a scene when it replaces one object: the other objects, the caption, the setting."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..scene import Scene, SceneObject
from .categories import canonical_name, lookup

# Caption words that settle indoor/outdoor on their own; only unambiguous ones (no "table", "window").
_INDOOR_WORDS = {"kitchen", "bedroom", "bathroom", "living room", "office", "indoors", "restaurant", "classroom"}
_OUTDOOR_WORDS = {"street", "beach", "field", "park", "road", "sky", "outdoors", "ocean", "mountain", "grass", "snow",
                  "forest", "river", "garden", "sidewalk", "lake", "sea"}


@dataclass(frozen=True)
class SceneContext:
    target: str  # canonical name of the object being replaced
    others: tuple[str, ...]  # canonical names of the other objects, largest first, duplicates removed
    caption: str
    setting: str  # "indoor", "outdoor" or "any" (unknown / mixed)

    def describe(self) -> str:
        """The text embedded as "the scene": caption first (most informative), then the other objects."""
        parts = []
        if self.caption:
            parts.append(self.caption.rstrip(".") + ".")
        if self.others:
            # Descriptions, not bare names: "a computer mouse" keeps the animal sense out of the embedding.
            parts.append("A scene with " + ", ".join(describe_name(n) for n in self.others) + ".")
        if not parts:
            parts.append(f"A scene with {describe_name(self.target)}.")
        return " ".join(parts)


def describe_name(name: str) -> str:
    category = lookup(name)
    return category.description if category is not None else name


def infer_setting(names: list[str], caption: str) -> str:
    """Indoor/outdoor from the objects' table settings and caption words; "any" when nothing decides it.

    Only objects tied to one setting vote (a cup says nothing, a refrigerator says indoor). Caption keywords
    count double because a captioner sees the whole image, not only the annotated things.
    """
    votes: Counter[str] = Counter()
    for name in names:
        category = lookup(name)
        if category is not None and category.setting != "any":
            votes[category.setting] += 1
    text = f" {caption.lower()} "
    votes["indoor"] += 2 * sum(f" {w}" in text for w in _INDOOR_WORDS)
    votes["outdoor"] += 2 * sum(f" {w}" in text for w in _OUTDOOR_WORDS)
    if votes["indoor"] == votes["outdoor"]:
        return "any"
    return "indoor" if votes["indoor"] > votes["outdoor"] else "outdoor"


def build_context(scene: Scene, target: SceneObject, max_others: int = 8) -> SceneContext:
    target_name = canonical_name(target.category)
    others = sorted(
        (o for o in scene.objects if o.object_id != target.object_id),
        key=lambda o: (-o.area_fraction, o.object_id),
    )
    names: list[str] = []
    for obj in others:
        name = canonical_name(obj.category)
        if name not in names:
            names.append(name)
    names = names[:max_others]
    caption = " ".join(scene.caption.split())
    return SceneContext(
        target=target_name, others=tuple(names), caption=caption, setting=infer_setting([target_name, *names], caption)
    )
