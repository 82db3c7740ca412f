"""One sample row of the schema with every column set, for the shard writer's tests: noise pixels (the worst
case for PNG), a box mask, a seed above 2**62 (the int64 column holds it whole)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def make_row(index: int, size: int = 40) -> dict:
    rng = np.random.default_rng(index)
    image = Image.fromarray(rng.integers(0, 256, (size, size + 3, 3), dtype=np.uint8))  # noise: worst case for PNG
    mask = np.zeros((size, size + 3), np.uint8)
    mask[5:20, 7:30] = 255
    return {
        "sample_id": f"s-{index}",
        "label": index % 2,
        "image": image,
        "mask": Image.fromarray(mask, "L"),
        "original": image,
        "source": "synth",
        "source_image_id": str(index),
        "object_id": "7",
        "category": "cup",
        "action": "remove",
        "replacement": "",
        "replacement_score": math.nan,
        "prompt": "background",
        "backend": "opencv_ns",
        "backend_params": '{"backend": "opencv_ns", "radius": 5}',
        "strategy": "paste_back",
        "seed": 2**62 + index,
        "mask_variant": "bbox",
        "mask_dilation_pct": 2.5,
        "mask_area_fraction": float((mask > 0).mean()),
        "width": size + 3,
        "height": size,
        "extra": "{}",
        "edit_id": f"e{index}",
        "changed_mask": Image.fromarray(mask, "L"),
        "recipe": '{"format": 1}',
    }
