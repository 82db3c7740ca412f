"""Every random choice of a sample, drawn from ``derive_seed(seed, purpose, <sample identity>)``.

One independent stream per purpose (object selection, mask variant, dilation, backend, pristine, planner), so adding a
new kind of draw later never shifts the existing ones, and nothing depends on the order work was done in. Weighted
choices walk the options in a canonical order (mask variants sorted by name, backends in config order), which is
exactly what ``GenerateConfig.config_hash`` sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from inpaintbench.ids import derive_seed

from .config import GenerateConfig

T = TypeVar("T")


@dataclass(frozen=True)
class SampleKey:
    """What a sample *is*: the inputs of ``make_sample_id`` and of every draw."""

    source: str
    image_id: str
    object_id: str  # "" for a pristine sample
    slot: str  # "edit0", "edit1", ... or "pristine"

    @property
    def parts(self) -> tuple[str, str, str, str]:
        return (self.source, self.image_id, self.object_id, self.slot)


def rng_for(seed: int, purpose: str, *identity: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, purpose, *identity))


def sample_seed(config: GenerateConfig, key: SampleKey) -> int:
    """The seed handed to the backend and recorded in the sample's ``seed`` column."""
    return derive_seed(config.seed, *key.parts)


def _weighted(options: Sequence[tuple[T, float]], rng: np.random.Generator) -> T:
    weights = np.array([w for _, w in options], dtype=np.float64)
    cumulative = np.cumsum(weights / weights.sum())
    index = int(np.searchsorted(cumulative, rng.random(), side="right"))
    return options[min(index, len(options) - 1)][0]


def draw_mask_variant(config: GenerateConfig, key: SampleKey) -> str:
    options = sorted((name, float(w)) for name, w in config.mask_variants.items() if w > 0)
    return _weighted(options, rng_for(config.seed, "mask_variant", *key.parts))


def draw_dilation_pct(config: GenerateConfig, key: SampleKey) -> float:
    low, high = (float(v) for v in config.dilation_pct)
    if low == high:
        return low
    # Rounded so the recorded value (float32 in the schema) is the value that was applied.
    return round(float(rng_for(config.seed, "dilation", *key.parts).uniform(low, high)), 2)


def draw_backend_index(config: GenerateConfig, key: SampleKey) -> int:
    options = [(i, float(spec.weight)) for i, spec in enumerate(config.backends) if spec.weight > 0]
    return _weighted(options, rng_for(config.seed, "backend", *key.parts))


def pristine_probability(config: GenerateConfig, num_edits: int) -> float:
    """Chance that an image with ``num_edits`` inpainted samples also yields its pristine original.

    For a target ratio r of pristine samples, an image needs on average r / (1 - r) pristine samples per
    inpainted one. A pristine sample is the untouched photo, so more than one per image would be a duplicate:
    the probability is capped at 1 (the achieved ratio, in the manifest's counts, can then fall short of r).
    """
    ratio = float(config.pristine_ratio)
    if ratio <= 0 or num_edits <= 0:
        return 0.0
    return min(1.0, ratio / (1.0 - ratio) * num_edits)


def wants_pristine(config: GenerateConfig, source: str, image_id: str, num_edits: int) -> bool:
    probability = pristine_probability(config, num_edits)
    return probability > 0 and rng_for(config.seed, "pristine", source, image_id).random() < probability
