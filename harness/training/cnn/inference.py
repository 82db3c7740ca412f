"""Full-image inference: reflect-pad to a multiple of 32, one forward pass, crop back, sigmoid.

Why pad rather than tile: the images are at most ~1 megapixel here and one pass of Lite0 + decoder at 512 px
takes ~0.2 s on 2 cores; a single pass gives every pixel the whole image as context (the decoder's deepest
scale sees 32-pixel cells) and has no tile seams. Reflect padding keeps the border's statistics instead of a
black frame the model never saw in training.

Image score: the mean of the map's top 1% (``top``), as the ``trained`` and classical detectors, so image AUCs
compare like with like: the map's single maximum is one pixel, the whole-map mean drowns a small forgery.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from inpaintbench.harness.training.cnn.model import STRIDE

DEFAULT_TOP = 0.01


def predict_map(net: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> H x W float32 probabilities; puts ``net`` in eval mode."""
    h, w = image.shape[:2]
    ph, pw = (-h) % STRIDE, (-w) % STRIDE
    x = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)[None]
    if ph or pw:
        # reflect needs the pad smaller than the side; tiny images fall back to replicate
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    net.eval()
    with torch.inference_mode():
        logits = net(x)[0, 0, :h, :w]
    return torch.sigmoid(logits).numpy().astype(np.float32)


def top_fraction_mean(heat: np.ndarray, top: float = DEFAULT_TOP) -> float:
    from inpaintbench.harness.detectors.classical import _top_fraction_mean

    return float(_top_fraction_mean(heat, float(top)))
