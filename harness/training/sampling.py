"""Which pixels of which images the model is fitted on.

Inpainted images give ``pixels_per_image`` pixels, half inside the mask and half outside (balanced: masks cover
a few percent of an image, so uniform sampling would teach "always pristine"). Pristine photos give only
negatives; ``pristine_share`` is the share of all sampled pixels that come from them (0: inpainted images only,
the SAGI setting; > 0: mixed with real photos, the arXiv 2310.01830 setting). Class weights are balanced at fit
time, so a pristine share changes *where* negatives come from, not the prior the model learns.

Every image's draw comes from ``derive_seed(seed, "train-pixels", sample_id)``: the same pixels for the same
seed whatever the order or subset of images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inpaintbench.ids import derive_seed


@dataclass(frozen=True)
class PixelBudget:
    pixels_per_image: int  # per inpainted image (half in, half out)
    pixels_per_pristine: int  # per pristine image (all negatives)


def plan_budget(pixels_per_image: int, pristine_share: float, n_inpainted: int, n_pristine: int,
                where: str = "training data") -> PixelBudget:
    if not 0.0 <= pristine_share < 1.0:
        raise ValueError(f"pristine share must be in [0, 1), got {pristine_share}")
    if pixels_per_image < 2:
        raise ValueError(f"pixels per image must be at least 2, got {pixels_per_image}")
    if n_inpainted == 0:
        raise ValueError(f"{where}: no inpainted image to learn from")
    if pristine_share == 0.0:
        return PixelBudget(pixels_per_image, 0)
    if n_pristine == 0:
        raise ValueError(f"{where}: pristine share {pristine_share} asked, but it holds no pristine image")
    pristine_total = pristine_share / (1.0 - pristine_share) * pixels_per_image * n_inpainted
    return PixelBudget(pixels_per_image, max(1, int(round(pristine_total / n_pristine))))


def _draw(rng: np.random.Generator, flat_indices: np.ndarray, k: int) -> np.ndarray:
    if k <= 0 or flat_indices.size == 0:
        return flat_indices[:0]
    if flat_indices.size <= k:
        return flat_indices
    return np.sort(rng.choice(flat_indices, size=k, replace=False))


def sample_pixels(
    mask: np.ndarray, inpainted: bool, budget: PixelBudget, seed: int, sample_id: str
) -> tuple[np.ndarray, np.ndarray]:
    """(flat pixel indices, 0/1 targets) for one image; ``mask`` is H x W, True = inpainted pixel."""
    rng = np.random.default_rng(derive_seed(seed, "train-pixels", sample_id))
    flat = np.asarray(mask, dtype=bool).ravel()
    if not inpainted:
        chosen = _draw(rng, np.arange(flat.size), budget.pixels_per_pristine)
        return chosen, np.zeros(chosen.size, np.int8)
    half = budget.pixels_per_image // 2
    inside = _draw(rng, np.flatnonzero(flat), half)
    outside = _draw(rng, np.flatnonzero(~flat), budget.pixels_per_image - half)
    chosen = np.concatenate([inside, outside])
    return chosen, flat[chosen].astype(np.int8)


def balanced_weights(targets: np.ndarray) -> np.ndarray:
    """sklearn's class_weight='balanced' as sample weights (HistGradientBoosting takes either; weights are
    explicit so the trainer's sidecar can state the effective class balance)."""
    targets = np.asarray(targets)
    counts = np.bincount(targets, minlength=2).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"training pixels hold only one class (counts {counts.tolist()}): nothing to separate")
    return (targets.size / (2.0 * counts))[targets]
