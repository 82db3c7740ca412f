"""Choosing what replaces an object: hard plausibility constraints, then a scene-fit score, then a seeded draw.

Constraints (a candidate failing any is never drawn): not the same class (same name, or a near-synonym by
embedding similarity: couch/sofa); the same physical size class as the target (a cup never becomes a car); a
shared support (a television on a stand or wall never becomes a chair on the floor); animals only for animals
and figures only for people (``LIVING_SWAPS``); no indoor-only object in an outdoor scene and vice versa; no
lexical trap (dog -> hot dog); an outline that the target's mask can hold (a long thin spoon-shaped mask
refuses a plate, a round one refuses a knife).

Score of a survivor = cos(candidate, scene description) + ``target_weight`` * cos(candidate, target)
+ ``group_bonus`` if it plays the same role (both furniture, both food, ...) - ``repeat_penalty`` if the scene
already holds one. The scene term is what makes it *semantically aligned*; the target term keeps the swap in the
same neighbourhood (a cup becomes a bowl or a vase rather than a random small thing).

The draw: ``rng.random()`` decides removal vs replacement (drawn always, so changing the removal share flips
individual samples without reshuffling the rest), then one of the ``top_k`` best by softmax(score / temperature).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .categories import ALL_CATEGORIES, Category, canonical_name, is_lexical_trap, lookup, shape_of, supports_of
from .context import SceneContext
from .embedding import TextEmbedder

# Who may replace a living thing: animals only by animals, people only by figures of people (a statue, a
# mannequin). Anything else (a cat on a sofa becoming a television, a person becoming a goat) is what the scene
# term alone proposes when the context is thin. Inanimate things are never replaced by living ones either.
LIVING_SWAPS = {"animal": frozenset({"animal"}), "person": frozenset({"figure"}), "figure": frozenset({"person"})}


@dataclass
class ScoredCandidate:
    name: str
    score: float
    scene_similarity: float
    target_similarity: float


@dataclass
class Choice:
    action: str  # "replace" or "remove"
    replacement: str = ""
    score: float = float("nan")
    reason: str = ""  # why removal, when it is one
    top: list[ScoredCandidate] = field(default_factory=list)  # the pool the draw was made from, best first
    excluded: dict[str, int] = field(default_factory=dict)  # constraint -> how many candidates it removed


class ReplacementChooser:
    def __init__(
        self,
        embedder: TextEmbedder,
        categories: tuple[Category, ...] = ALL_CATEGORIES,
        *,
        removal_share: float = 0.0,
        top_k: int = 5,
        temperature: float = 0.1,
        synonym_threshold: float = 0.8,
        target_weight: float = 0.6,
        group_bonus: float = 0.1,
        repeat_penalty: float = 0.2,
        elongated_mask: float = 3.0,
        compact_mask: float = 1.6,
    ):
        if not 0.0 <= removal_share <= 1.0:
            raise ValueError(f"removal_share must be in [0, 1], got {removal_share}")
        if top_k < 1 or temperature <= 0:
            raise ValueError(f"top_k must be >= 1 and temperature > 0, got {top_k} and {temperature}")
        self.embedder = embedder
        self.categories = tuple(categories)
        self.removal_share = removal_share
        self.top_k = top_k
        self.temperature = temperature
        self.synonym_threshold = synonym_threshold
        self.target_weight = target_weight
        self.group_bonus = group_bonus
        self.repeat_penalty = repeat_penalty
        # Mask elongation at or above which compact candidates are refused, at or below which elongated ones are.
        self.elongated_mask = elongated_mask
        self.compact_mask = compact_mask
        self._candidate_vectors = embedder.embed([c.description for c in self.categories])

    def constraint_failure(
        self, target: Category, candidate: Category, setting: str, elongation: float | None = None
    ) -> str | None:
        """The first hard constraint ``candidate`` fails as a replacement for ``target`` (None if none)."""
        if candidate.name == target.name:
            return "same_class"
        if candidate.size != target.size:
            return "size"
        if not supports_of(target) & supports_of(candidate):
            return "support"
        allowed = LIVING_SWAPS.get(target.group)
        if (candidate.group not in allowed) if allowed else (candidate.group in LIVING_SWAPS):
            return "animacy"
        if setting != "any" and candidate.setting not in ("any", setting):
            return "setting"
        if is_lexical_trap(target.name, candidate.name):
            return "lexical_trap"
        if elongation is not None:
            shape = shape_of(candidate)
            if (elongation >= self.elongated_mask and shape == "compact") or (
                elongation <= self.compact_mask and shape == "elongated"
            ):
                return "mask_shape"
        return None

    def score_candidates(self, context: SceneContext) -> tuple[list[ScoredCandidate], dict[str, int]]:
        target = lookup(context.target)
        if target is None:
            raise KeyError(context.target)
        scene_vector, target_vector = self.embedder.embed([context.describe(), target.description])
        scene_sim = self._candidate_vectors @ scene_vector
        target_sim = self._candidate_vectors @ target_vector
        present = set(context.others)
        excluded: dict[str, int] = {}
        scored = []
        for i, candidate in enumerate(self.categories):
            failure = self.constraint_failure(target, candidate, context.setting, context.elongation)
            if failure is None and target_sim[i] >= self.synonym_threshold:
                failure = "same_class"  # a near-synonym is no visible change
            if failure is not None:
                excluded[failure] = excluded.get(failure, 0) + 1
                continue
            score = float(scene_sim[i] + self.target_weight * target_sim[i])
            score += self.group_bonus * (candidate.group == target.group)
            score -= self.repeat_penalty * (candidate.name in present)
            scored.append(ScoredCandidate(candidate.name, score, float(scene_sim[i]), float(target_sim[i])))
        # Name as tie-break: equal scores must not depend on table order.
        scored.sort(key=lambda c: (-c.score, c.name))
        return scored, excluded

    def choose(self, context: SceneContext, rng: np.random.Generator) -> Choice:
        remove_draw = rng.random()
        if remove_draw < self.removal_share:
            return Choice(action="remove", reason="removal share")
        if lookup(canonical_name(context.target)) is None:
            # No size class for it, so no replacement can be checked for plausibility: removal is the safe edit.
            return Choice(action="remove", reason=f"category {context.target!r} is not in the size table")
        scored, excluded = self.score_candidates(context)
        if not scored:
            return Choice(action="remove", reason="no candidate passes the constraints", excluded=excluded)
        pool = scored[: self.top_k]
        logits = np.array([c.score for c in pool]) / self.temperature
        weights = np.exp(logits - logits.max())
        pick = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
        return Choice(action="replace", replacement=pick.name, score=pick.score, top=pool, excluded=excluded)
