"""Detector interface and registry.

A detector maps one RGB image to a forgery score and (optionally) a localisation map::

    predict(image: np.ndarray  # H x W x 3, uint8
            ) -> {"score": float in [0, 1], "map": np.ndarray H x W float in [0, 1] (or uint8), or None}

``create_detector(name).predict(image)`` is the exact call the Gradio Space and the sandboxed runner make. A
map may have another size than the image (it is resized to the ground truth's size, bilinear) but must keep
its aspect ratio. ``training_backends`` names the inpainting backends a detector was trained on; it defines
the in-domain / out-of-domain breakdown (empty: untrained, e.g. classical forensics).
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from inpaintbench.registry import Registry


class Detector(abc.ABC):
    name: str = ""
    training_backends: tuple[str, ...] = ()

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abc.abstractmethod
    def predict(self, image: np.ndarray) -> dict: ...

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params, "training_backends": list(self.training_backends)}


DETECTORS: Registry[Detector] = Registry("detector")
register_detector = DETECTORS.register


def create_detector(name: str, **params: Any) -> Detector:
    return DETECTORS.create(name, **params)


def check_rgb_image(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"detectors take an H x W x 3 uint8 RGB array, got shape {arr.shape} dtype {arr.dtype}")
    return arr


# Registration order kept as written.
# isort: off
# Registration happens on import; the classical detectors only need numpy, OpenCV and Pillow.
from inpaintbench.harness.detectors import classical  # noqa: E402,F401
# ``trained`` too: it imports scikit-learn only when a model file is loaded.
from inpaintbench.harness.detectors import trained  # noqa: E402,F401
# ``cnn`` too: it imports torch only when a checkpoint is loaded.
from inpaintbench.harness.detectors import cnn  # noqa: E402,F401
# isort: on
