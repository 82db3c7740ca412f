"""Objects for photos without annotations: a ``transformers`` image-segmentation model, by Hub id or local path.

Any model the ``image-segmentation`` pipeline accepts works (Mask2Former / MaskFormer / OneFormer / DETR
panoptic or instance checkpoints). Each predicted segment becomes a ``SceneObject`` whose category is the
canonical table name. With ``things_only`` (default) segments whose label is not a countable thing in the
category table ("wall", "sky", "grass-merged") are dropped: they are background, not objects to replace.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ..models import ModelNotFound, resolve_model
from ..scene import SceneObject
from .categories import canonical_name, lookup


def mask_bbox(mask: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(mask)
    x0, y0 = float(xs.min()), float(ys.min())
    return x0, y0, float(xs.max()) - x0 + 1.0, float(ys.max()) - y0 + 1.0


class Segmenter:
    def __init__(
        self,
        model: str | os.PathLike,
        *,
        subtask: str | None = None,
        threshold: float = 0.5,
        min_area_fraction: float = 0.002,
        things_only: bool = True,
        device: str = "cpu",
        cache_dir: str | os.PathLike | None = None,
    ):
        from transformers import pipeline

        self.model_name = str(model)
        directory = resolve_model(model, what="segmentation model", cache_dir=cache_dir)
        try:
            self._pipe = pipeline("image-segmentation", model=str(directory), device=device)
        except Exception as exc:  # noqa: BLE001 - safetensors, tokenizers and config errors share no base class
            raise ModelNotFound(
                f"segmentation model {self.model_name!r} (resolved to {directory}) cannot be loaded: {exc}"
            ) from exc
        self.subtask = subtask
        self.threshold = threshold
        self.min_area_fraction = min_area_fraction
        self.things_only = things_only

    def segment(self, image: Image.Image) -> list[SceneObject]:
        """Objects, largest first, with ids ``seg0``, ``seg1``... in that order (stable for a given output)."""
        kwargs = {"threshold": self.threshold}
        if self.subtask:
            kwargs["subtask"] = self.subtask
        segments = self._pipe(image, **kwargs)
        found = []
        for segment in segments:
            mask = np.asarray(segment["mask"].convert("L")) > 127
            if mask.shape != (image.height, image.width):
                raise ValueError(
                    f"segmentation model {self.model_name!r} returned a {mask.shape[1]}x{mask.shape[0]} mask "
                    f"for a {image.width}x{image.height} image"
                )
            if not mask.any() or mask.mean() < self.min_area_fraction:
                continue
            name = canonical_name(segment["label"])
            if self.things_only and lookup(name) is None:
                continue
            found.append((float(mask.mean()), float(segment.get("score") or 0.0), name, mask))
        found.sort(key=lambda item: (-item[0], -item[1], item[2]))
        return [
            SceneObject(object_id=f"seg{i}", category=name, mask=mask, bbox=mask_bbox(mask))
            for i, (_, _, name, mask) in enumerate(found)
        ]
