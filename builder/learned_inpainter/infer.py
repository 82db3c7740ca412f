"""One image and mask in, the filled image out: the network's prediction pasted into the hole only.

Deterministic: no noise is drawn, so the fill is a function of (weights, image, mask); the backend is seed-free.
The thread count is pinned for the call (``THREADS``) because CPU convolution kernels split their reductions by
thread, and a float sum in another order can round a pixel differently; a fixed count makes the bytes the same
whatever the caller set.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .model import STRIDE, InpaintNet

THREADS = 2


def fill(net: InpaintNet, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` uint8 H x W x 3, ``mask`` bool/uint8 H x W (nonzero = hole) -> uint8 H x W x 3, equal to
    ``image`` outside the hole."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape}: expected H x W x 3 and H x W")
    hole = mask.astype(bool)
    h, w = hole.shape
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
    m = torch.from_numpy(hole.astype(np.float32))[None, None]
    ph, pw = (-h) % STRIDE, (-w) % STRIDE
    # Reflection keeps the border statistics natural (zeros would be a black frame the net never saw); a side
    # shorter than its padding (below 17 px) falls back to replicating the edge.
    mode = "reflect" if ph < h and pw < w else "replicate"
    x = F.pad(x, (0, pw, 0, ph), mode=mode)
    m = F.pad(m, (0, pw, 0, ph), mode="constant", value=0.0)
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        with torch.no_grad():
            y = net(x, m)[0, :, :h, :w]
    finally:
        torch.set_num_threads(previous)
    predicted = (y.permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
    out = image.copy()
    out[hole] = predicted[hole]
    return out
