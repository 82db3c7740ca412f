"""What the planner knows about a scene when it replaces one object: the other objects, the caption, the setting."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

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
    elongation: float | None = None  # of the target's mask (long / short axis); None = unknown, not checked

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


def mask_elongation(mask: np.ndarray) -> float:
    """Long over short axis of the mask's pixel cloud (second moments): w/h for a filled w x h rectangle.

    Moments rather than the bounding box, so a diagonal spoon reads as elongated too.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return 1.0
    # +1/12: a pixel's own extent, so a one-pixel-wide line is long but not infinitely so.
    covariance = np.cov(np.stack([xs, ys]).astype(np.float64)) + np.eye(2) / 12.0
    low, high = np.linalg.eigvalsh(covariance)
    return float(np.sqrt(high / low))


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
        target=target_name, others=tuple(names), caption=caption, setting=infer_setting([target_name, *names], caption),
        elongation=mask_elongation(target.mask),
    )
