"""Free-form training masks, seeded: DeepFill v2-style brush strokes, boxes and random polygons.

Why three kinds: strokes (Yu et al. 2019, the free-form algorithm: a random walk of thick line segments) teach
thin, irregular holes; boxes teach the large rectangular holes of the benchmark's ``bbox`` masks; filled random
polygons stand in for its object silhouettes and convex hulls. LaMa (Suvorov et al. 2022) showed that training on
wide masks is what makes a network fill large holes, so the hole fraction is drawn up to ``MAX_HOLE``.
Everything is drawn from the numpy ``Generator`` passed in, so a seed gives the same masks on every machine.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_HOLE = 0.5  # of the crop's pixels; a mask above it is redrawn with fewer shapes
MIN_HOLE = 0.02


def _strokes(rng: np.random.Generator, mask: np.ndarray) -> None:
    h, w = mask.shape
    size = min(h, w)
    for _ in range(int(rng.integers(1, 4))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        width = int(rng.integers(max(3, size // 40), max(4, size // 8)))
        for _ in range(int(rng.integers(2, 8))):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(size * 0.1, size * 0.4)
            nx = int(np.clip(x + length * np.cos(angle), 0, w - 1))
            ny = int(np.clip(y + length * np.sin(angle), 0, h - 1))
            cv2.line(mask, (x, y), (nx, ny), 1, width)
            cv2.circle(mask, (nx, ny), width // 2, 1, -1)
            x, y = nx, ny


def _box(rng: np.random.Generator, mask: np.ndarray) -> None:
    h, w = mask.shape
    bh, bw = int(rng.uniform(0.1, 0.6) * h), int(rng.uniform(0.1, 0.6) * w)
    y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    mask[y:y + bh, x:x + bw] = 1


def _polygon(rng: np.random.Generator, mask: np.ndarray) -> None:
    h, w = mask.shape
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    radius = rng.uniform(0.08, 0.3) * min(h, w)
    count = int(rng.integers(5, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = radius * rng.uniform(0.5, 1.3, count)
    points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).round().astype(np.int32)
    cv2.fillPoly(mask, [points], 1)


KINDS = (_strokes, _box, _polygon)


def random_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """uint8 H x W, 1 = hole; between MIN_HOLE and MAX_HOLE of the pixels."""
    while True:
        mask = np.zeros((height, width), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            KINDS[int(rng.integers(0, len(KINDS)))](rng, mask)
        fraction = float(mask.mean())
        if MIN_HOLE <= fraction <= MAX_HOLE:
            return mask
