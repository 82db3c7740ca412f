"""Which annotated objects of a scene get edited.

Rules, checked in this order so each rejected object gets the first reason that applies: crowd regions (one
mask over many instances: inpainting it is not "an object"), too few pixels, area fraction below the minimum
(too small to matter or to see), above the maximum (the edit would replace the scene, not an object). Among
the eligible, up to ``max_objects`` are drawn at random with the sample's generator, so the choice is
reproducible for a seed and independent of which process does the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .scene import SceneObject


@dataclass(frozen=True)
class SelectionConfig:
    min_area_fraction: float = 0.005  # 0.5% of the image
    max_area_fraction: float = 0.5
    min_pixels: int = 32 * 32  # COCO's own "small object" bound
    max_objects: int = 1  # per image
    skip_crowd: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.min_area_fraction <= self.max_area_fraction <= 1:
            raise ValueError(
                f"need 0 <= min_area_fraction <= max_area_fraction <= 1, got "
                f"{self.min_area_fraction} and {self.max_area_fraction}"
            )
        if self.min_pixels < 0 or self.max_objects < 0:
            raise ValueError("min_pixels and max_objects must not be negative")


@dataclass
class Selection:
    chosen: list[SceneObject]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (object_id, reason)


def rejection_reason(obj: SceneObject, config: SelectionConfig) -> str:
    """Why ``obj`` cannot be edited, or "" when it can."""
    if config.skip_crowd and obj.iscrowd:
        return "crowd annotation"
    pixels = int(np.count_nonzero(obj.mask))
    if pixels < config.min_pixels:
        return f"tiny: {pixels} pixels < min_pixels {config.min_pixels}"
    fraction = pixels / obj.mask.size
    if fraction < config.min_area_fraction:
        return f"tiny: area fraction {fraction:.4f} < min {config.min_area_fraction}"
    if fraction > config.max_area_fraction:
        return f"too large: area fraction {fraction:.4f} > max {config.max_area_fraction}"
    return ""


def select_objects(
    objects: list[SceneObject], rng: np.random.Generator, config: SelectionConfig = SelectionConfig()
) -> Selection:
    """Eligible objects drawn without replacement, in draw order; every other object with its reason."""
    # Sorted first so the draw depends only on the objects, not on the order a source listed them in.
    ordered = sorted(objects, key=lambda o: _natural_key(o.object_id))
    eligible, rejected = [], []
    for obj in ordered:
        reason = rejection_reason(obj, config)
        if reason:
            rejected.append((obj.object_id, reason))
        else:
            eligible.append(obj)
    order = rng.permutation(len(eligible)) if eligible else np.array([], dtype=int)
    chosen = [eligible[i] for i in order[: config.max_objects]]
    rejected += [
        (eligible[i].object_id, f"not drawn: max_objects={config.max_objects} reached")
        for i in sorted(order[config.max_objects :])
    ]
    return Selection(chosen=chosen, rejected=rejected)


def _natural_key(object_id: str) -> tuple:
    # "10" after "9": COCO ids are numbers stored as strings.
    return (0, int(object_id), "") if object_id.isdigit() else (1, 0, object_id)
