"""Edit planning: given a scene and the selected object, decide what to do with it and write the prompt.

Planners are registered by name. "simple" (here) is the baseline: remove the object and fill with background.
The semantically aligned planner (SAOR, scene-fit replacement + context-aware prompt) registers as "saor".
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaintbench.registry import Registry

from .scene import Scene, SceneObject


@dataclass
class EditPlan:
    action: str  # "replace" or "remove" (inpaintbench.schema.ACTIONS)
    prompt: str
    replacement: str = ""  # replacement category for "replace"
    replacement_score: float = math.nan  # scene-fit score of the replacement
    negative_prompt: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Planner(abc.ABC):
    name: str = ""

    @abc.abstractmethod
    def plan(self, scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditPlan:
        """Must be deterministic given ``rng`` (seeded per sample by the generator)."""


# Planners living in their own modules, imported on first use so callers need not import them first (and
# heavy dependencies such as sentence-transformers load only when the planner is actually asked for).
PLANNERS: Registry[Planner] = Registry("planner", lazy={"saor": "inpaintbench.builder.saor.planner"})
register_planner = PLANNERS.register


def create_planner(name: str, **params: Any) -> Planner:
    return PLANNERS.create(name, **params)


@register_planner("simple")
class RemovalPlanner(Planner):
    """Baseline: remove the object; the prompt describes the background that should replace it."""

    def plan(self, scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditPlan:
        return EditPlan(
            action="remove",
            prompt="background, seamless continuation of the surrounding scene",
            negative_prompt=f"{target.category}, object, text, watermark",
        )
