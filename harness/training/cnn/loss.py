"""BCE + soft Dice on per-pixel logits.

Why both: BCE alone is dominated by the many pristine pixels (a crop's forgery is a minority of it) and drifts
towards "all pristine"; Dice scores overlap with the mask whatever its size, the quantity pixel F1 measures,
but gives no signal on crops with an empty mask (pristine crops) and is noisy early on. Their sum is the
usual choice in forgery localisation (e.g. MVSS-Net's Dice + BCE). Dice is computed per crop over crops whose
mask is non-empty, so a pristine crop is taught only by BCE (an empty mask has no overlap to score).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def bce_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0, eps: float = 1.0
) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target)
    has_mask = target.flatten(1).amax(dim=1) > 0
    if not bool(has_mask.any()):
        return bce
    prob = torch.sigmoid(logits).flatten(1)[has_mask]
    tgt = target.flatten(1)[has_mask]
    dice = (2 * (prob * tgt).sum(1) + eps) / (prob.sum(1) + tgt.sum(1) + eps)
    return bce + dice_weight * (1.0 - dice).mean()
