"""The Detect tab's logic: run one of the harness's detectors on an uploaded image.

Detectors come from ``inpaintbench.harness.detectors`` (``DETECTORS``, ``create_detector(name)``,
``.predict(rgb_uint8) -> {"score": float, "map": HxW in [0, 1] or None}``). The Space imports that module lazily
and lists whatever it registers, so new detectors appear here without touching the Space. A detector that needs
parameters (a trained one needs its model file) gets them from ``detector_params`` (the Space's
INPAINTBENCH_DETECTOR_PARAMS); one that cannot be built without them is left out of the list, with its reason
shown, instead of failing in Gradio when picked.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from inpaintbench.space.overlays import heatmap_overlay
from inpaintbench.space.uploads import decode_upload

DETECTORS_MODULE = "inpaintbench.harness.detectors"
# Uploads larger than this on their longer side are downscaled before detection: a classical detector takes ~0.3 s
# at 2048 px on one core, a 35 MP photo at full size took 35 s and 4 GB (and blocked everybody's Detect).
DETECT_MAX_SIDE = 2048


class DetectError(ValueError):
    """Shown to the person as is."""


class DetectorRunner:
    def __init__(self, module_name: str = DETECTORS_MODULE, max_megapixels: float = 40.0,
                 detector_params: dict[str, dict] | None = None, max_side: int | None = DETECT_MAX_SIDE,
                 concurrency: int = 1) -> None:
        self.max_megapixels = max_megapixels
        self.max_side = max_side
        self.concurrency = concurrency  # detections at once; the Detect tab gives it to Gradio as its limit
        self.detector_params = dict(detector_params or {})
        self._instances: dict[str, Any] = {}
        self._lock = threading.Lock()  # one instance per detector, built once even under concurrent requests
        self._factory: Callable[[str], Any] | None = None
        self.unavailable_reason = ""
        self.unavailable: dict[str, str] = {}  # detector -> why it cannot run here (e.g. no model file given)
        self.names: list[str] = []
        try:
            module = importlib.import_module(module_name)
            registered = sorted(module.DETECTORS)
            self._factory = module.create_detector
        except (ImportError, AttributeError) as exc:  # missing, or present without the agreed interface
            self.unavailable_reason = f"{module_name} cannot be used ({exc})"
            return
        for name in registered:
            if name in self.detector_params:
                self.names.append(name)  # built on first use: a configured model may be slow to load
                continue
            try:  # an unconfigured detector is built now: one that needs a model file says so at once
                self._instances[name] = self._factory(name)
            except (ValueError, TypeError, OSError) as exc:
                self.unavailable[name] = str(exc)
            else:
                self.names.append(name)

    def _detector(self, name: str) -> Any:
        with self._lock:
            if name not in self._instances:
                try:
                    self._instances[name] = self._factory(name, **self.detector_params.get(name, {}))
                except (ValueError, TypeError, OSError) as exc:  # e.g. no model file configured, or a bad one
                    raise DetectError(f"Detector {name!r} cannot be used in this Space: {exc}") from None
            return self._instances[name]

    def run(self, upload: str | bytes | None, name: str | None) -> tuple[Image.Image, Image.Image | None, float, str]:
        """(the image as decoded, heatmap overlay or None, image-level score, a sentence about the result)."""
        # Bad uploads are refused before any detector runs; big ones are downscaled while decoding.
        decoded = decode_upload(upload, self.max_megapixels, max_side=self.max_side)
        pixels = decoded.pixels
        if not self.names:
            raise DetectError(f"Detection is not available in this build ({self.unavailable_reason}).")
        if name in self.unavailable:
            raise DetectError(f"Detector {name!r} cannot be used in this Space: {self.unavailable[name]}")
        if name not in self.names:
            raise DetectError(f"Unknown detector {name!r}: pick one of {', '.join(self.names)}.")
        result = self._detector(name).predict(pixels)
        score = float(result["score"])
        heat = result.get("map")
        height, width = pixels.shape[:2]
        summary = (
            f"**{name}** on a {width}×{height} image: image-level score **{score:.3f}** "
            "(higher = more likely inpainted)."
        )
        overlay = None
        if heat is None:
            summary += " This detector gives no localization map."
        else:
            raw = np.asarray(heat)
            heat = raw.astype(np.float32) / 255.0 if raw.dtype == np.uint8 else raw.astype(np.float32)  # uint8 maps too
            peak = float(np.nanmax(heat, initial=0.0))
            # Weak maps (ELA on a clean PNG peaks far below 1) would be invisible at their true scale; stretch the
            # colours to the map's own peak and say so, rather than show a blank picture.
            if 0.0 < peak < 0.5:
                summary += f" The map peaks at {peak:.3f}: its colours are stretched to that peak."
                heat = heat / peak
            overlay = heatmap_overlay(pixels, heat)
        if decoded.notes:
            summary += "\n\nWhat was done to the upload first: " + "; ".join(decoded.notes) + "."
        return Image.fromarray(pixels), overlay, score, summary
