"""What a source yields: a photo with its annotated objects (a ``Scene``), or a ``SkippedInput`` with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image


@dataclass
class SceneObject:
    object_id: str  # annotation id, as a string
    category: str  # COCO category name where one fits
    mask: np.ndarray  # bool, H x W, in the (normalised) image's frame
    bbox: tuple[float, float, float, float]  # x, y, w, h in pixels
    iscrowd: bool = False

    @property
    def area_fraction(self) -> float:
        return float(self.mask.mean())


@dataclass
class Scene:
    source: str  # "embedded", "coco", ...
    image_id: str  # stable id within the source
    image: Image.Image  # RGB, EXIF orientation applied, size-capped
    objects: list[SceneObject]
    license: str = ""
    caption: str = ""  # filled by a captioner when one is configured
    extra: dict = field(default_factory=dict)


@dataclass
class SkippedInput:
    source: str
    image_id: str
    path: str
    reason: str  # human-readable: names what is wrong
