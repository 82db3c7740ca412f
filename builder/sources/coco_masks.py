"""COCO segmentations (polygons, RLE) to boolean masks, with pycocotools, refusing degenerate ones with a reason.

A degenerate polygon makes its whole object unusable rather than being dropped from it: an annotation with a
broken part is likely wrong elsewhere too, and an inpainting mask that silently misses part of its object
would leave a visible remnant that a detector could learn from.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

# COCO polygons often overshoot the border by a fraction of a pixel (annotation tools clamp loosely).
OUT_OF_BOUNDS_TOLERANCE_PX = 1.0


class DegenerateObject(ValueError):
    """This object's segmentation cannot be rasterised into a usable mask; the message says why."""


def rasterize_segmentation(segmentation: Any, width: int, height: int) -> np.ndarray:
    """Bool ``height x width`` mask of a COCO ``segmentation`` (polygon list, or RLE with list/str counts)."""
    if isinstance(segmentation, list):
        if not segmentation:
            raise DegenerateObject("empty polygon list")
        for index, polygon in enumerate(segmentation):
            problem = polygon_problem(polygon, width, height)
            if problem:
                raise DegenerateObject(f"polygon {index}: {problem}")
        rles = mask_utils.frPyObjects([[float(v) for v in p] for p in segmentation], height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(segmentation, dict):
        rle = _rle(segmentation, width, height)
    else:
        raise DegenerateObject(
            f"segmentation is neither a polygon list nor an RLE dict ({type(segmentation).__name__})"
        )
    try:
        with warnings.catch_warnings():
            # pycocotools' Cython decode trips a numpy-2 DeprecationWarning (__array__ copy keyword) on every call.
            warnings.simplefilter("ignore", DeprecationWarning)
            mask = mask_utils.decode(rle)
    except Exception as error:  # noqa: BLE001 - pycocotools raises bare exceptions on corrupt counts
        raise DegenerateObject(f"RLE cannot be decoded ({error})") from None
    mask = np.ascontiguousarray(mask.astype(bool))
    if not mask.any():
        raise DegenerateObject("segmentation covers no pixel")
    return mask


def polygon_problem(polygon: Any, width: int, height: int) -> str:
    """Why a COCO polygon ``[x0, y0, x1, y1, ...]`` is unusable, or "" when it is fine."""
    if not isinstance(polygon, (list, tuple)) or not all(isinstance(v, (int, float)) for v in polygon):
        return "not a flat list of numbers"
    if len(polygon) % 2:
        return f"odd number of coordinates ({len(polygon)})"
    if len(polygon) < 6:
        return f"fewer than 3 points ({len(polygon) // 2})"
    if not all(math.isfinite(v) for v in polygon):
        return "non-finite coordinate"
    xs, ys = np.asarray(polygon[0::2], float), np.asarray(polygon[1::2], float)
    tol = OUT_OF_BOUNDS_TOLERANCE_PX
    if xs.min() < -tol or ys.min() < -tol or xs.max() > width + tol or ys.max() > height + tol:
        return (
            f"out of bounds: points span x {xs.min():g}..{xs.max():g}, y {ys.min():g}..{ys.max():g} "
            f"in a {width}x{height} image"
        )
    # Shoelace formula; collinear or repeated points give zero.
    area = 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))
    if area < 1e-6:
        return "zero area (collinear or repeated points)"
    return ""


def _rle(segmentation: dict, width: int, height: int) -> dict:
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if not (isinstance(size, (list, tuple)) and len(size) == 2) or counts is None:
        raise DegenerateObject("RLE needs 'size' [h, w] and 'counts'")
    if [int(size[0]), int(size[1])] != [height, width]:
        raise DegenerateObject(f"RLE size {list(size)} does not match the image's [h, w] = [{height}, {width}]")
    if isinstance(counts, list):  # uncompressed RLE (COCO crowd annotations)
        if sum(counts) != height * width:
            raise DegenerateObject(f"uncompressed RLE counts sum to {sum(counts)}, not h*w = {height * width}")
        return mask_utils.frPyObjects(segmentation, height, width)
    if isinstance(counts, str):
        return {"size": [height, width], "counts": counts.encode("ascii")}
    if isinstance(counts, bytes):
        return {"size": [height, width], "counts": counts}
    raise DegenerateObject(f"RLE counts of unsupported type {type(counts).__name__}")
