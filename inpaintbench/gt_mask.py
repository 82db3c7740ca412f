"""The one decoder of a ground-truth mask: every encoding a mask meets (bool, 0/1, 0/255 with soft edges, 16-bit,
floats in [0, 1], greyscale-as-RGB) to a bool array, refusing anything ambiguous rather than guessing.

The harness scores against it (``harness.reduce``), the trainers crop with it and the release's torch batches
(``builder.release.batching``) carry it, so a mask can never mean one thing to a detector's training and another
to its score.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def _mask_array(mask: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(mask, Image.Image):
        if mask.mode == "1":
            return np.asarray(mask, dtype=bool)
        if mask.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(mask.convert("I")).astype(np.int64)
        if mask.mode in ("RGB", "RGBA", "LA", "P"):
            arr = np.asarray(mask.convert("RGB"))
            if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
                raise ValueError(f"ground-truth mask is a colour image (mode {mask.mode}) with unequal channels")
            return arr[..., 0]
        return np.asarray(mask)
    return np.asarray(mask)


def binarize_gt(mask: Image.Image | np.ndarray) -> np.ndarray:
    """Ground truth as a bool array, whatever the common encoding: bool; integers 0/1; 0/255 (8-bit, soft edges
    split at > 127); 0/65535 (16-bit, > 32767); floats in [0, 1] (> 0.5). Anything else is refused, never guessed:
    a mask with non-zero pixels never decodes as empty."""
    arr = _mask_array(mask)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise ValueError(f"ground-truth mask must be 2-D (H x W), got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        lo, hi = float(arr.min()), float(arr.max())
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 1:
            raise ValueError(f"ground-truth mask of floats must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
        return arr > 0.5
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"ground-truth mask has unsupported dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        raise ValueError(f"ground-truth mask has negative values (min {lo})")
    if hi <= 1:
        return arr > 0  # 0/1
    if hi <= 255:
        binary = arr > 127  # 0/255, soft (resampled or JPEG'd) edges split at the midpoint
    elif hi <= 65535:
        binary = arr > 32767  # 16-bit 0/65535
    else:
        raise ValueError(f"ground-truth mask values up to {hi}: expected 0/1, 0/255, 0/65535 or floats in [0, 1]")
    if not binary.any():
        raise ValueError(f"ground-truth mask has non-zero values (max {hi}) but none above the midpoint of its "
                         "encoding: ambiguous (expected 0/1, 0/255, 0/65535 or floats in [0, 1])")
    return binary
