"""A CPU judge with no weights: a harness detector behind seeded test-time augmentation.

It lives in the harness, beside the detectors it wraps, and joins the builder's judge registry
(``builder.deceptiveness.judges``) by name only: the builder never imports the harness.

A weak proxy for a human or a VLM: it answers from a forensic statistic, not from how the photo looks. It
exists so that the protocol runs, and is tested, end to end on any machine, and as a floor a real judge must
clear. Its stochasticity is test-time augmentation drawn from the trial's rng (a random JPEG quality and a
small random crop per look), so K trials of one sample spread the way a detector's verdict does under the
small changes an image meets when it is shared.

- stage 1: "edited" if the detector's score on the augmented image exceeds ``threshold``;
- stage 2: the image with the higher score (each augmented independently) is the edited one; an exact tie
  (e.g. two saturated scores) is a seeded coin flip, i.e. a guess, as a person who cannot tell would make.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from inpaintbench.builder.deceptiveness.judges import EDITED, FIRST, REAL, SECOND, Judge, register_judge
from inpaintbench.harness.detectors import check_rgb_image, create_detector


def augment(image: np.ndarray, rng: np.random.Generator, jpeg_quality: tuple[int, int], max_crop: float) -> np.ndarray:
    """A random crop of up to ``max_crop`` of each side, then a JPEG round trip at a random quality."""
    height, width = image.shape[:2]
    top, bottom = (int(rng.integers(0, int(max_crop * height) + 1)) for _ in range(2))
    left, right = (int(rng.integers(0, int(max_crop * width) + 1)) for _ in range(2))
    cropped = image[top : height - bottom, left : width - right]
    quality = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(cropped)).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@register_judge("detector")
class DetectorJudge(Judge):
    def __init__(
        self,
        detector: str = "ela",
        threshold: float = 0.5,
        jpeg_quality: tuple[int, int] | list[int] = (70, 100),
        max_crop: float = 0.05,
        detector_params: dict[str, Any] | None = None,
    ) -> None:
        low, high = (int(q) for q in jpeg_quality)
        if not 1 <= low <= high <= 100:
            raise ValueError(f"jpeg_quality must be a range within 1..100, got {jpeg_quality}")
        if not 0 <= max_crop < 0.5:
            raise ValueError(f"max_crop must be in [0, 0.5), got {max_crop}")
        super().__init__(
            detector=detector,
            threshold=float(threshold),
            jpeg_quality=[low, high],
            max_crop=float(max_crop),
            detector_params=dict(detector_params or {}),
        )
        self.detector = create_detector(detector, **self.params["detector_params"])

    def _score(self, image: np.ndarray, rng: np.random.Generator) -> float:
        seen = augment(check_rgb_image(image), rng, tuple(self.params["jpeg_quality"]), self.params["max_crop"])
        return float(self.detector.predict(seen)["score"])

    def answer_single(self, image: np.ndarray, rng: np.random.Generator) -> str | None:
        return EDITED if self._score(image, rng) > self.params["threshold"] else REAL

    def answer_pair(self, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> str | None:
        score_first, score_second = self._score(first, rng), self._score(second, rng)
        if score_first == score_second:
            return FIRST if rng.random() < 0.5 else SECOND
        return FIRST if score_first > score_second else SECOND

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params, "detector": self.detector.describe()}
