"""``trained``: the learned pixel-level baseline (``inpaintbench train-detector``), loaded from a saved model.

    inpaintbench evaluate --data REL --split test --detector trained \\
        --detector-params '{"model": "models/trained.joblib"}'

The map is the classifier's per-pixel probability of "inpainted" on ``harness.training.features``; the image
score is the mean of the map's top 1% (as the classical baselines): the single maximum of a per-pixel model is
one noisy pixel, a mean over the whole map drowns a small forgery. ``training_backends`` comes from the model's
sidecar, so the harness's in-domain / out-of-domain breakdown follows what the model actually saw.

``stride`` (default 2): features are computed at full resolution, the classifier is run on every ``stride``-th
pixel in each direction and the map returned at that size (the harness resizes it to the mask, bilinear): the
classifier is most of the time per image, and neighbouring pixels' windows overlap almost entirely anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inpaintbench.harness.detectors import Detector, check_rgb_image, register_detector
from inpaintbench.harness.detectors.classical import _top_fraction_mean
from inpaintbench.harness.training.features import compute_features
from inpaintbench.harness.training.model_file import load_model


@register_detector("trained")
class TrainedPixelDetector(Detector):
    def __init__(self, model: str | None = None, top: float = 0.01, stride: int = 2) -> None:
        if not model:
            raise ValueError(
                'the trained detector needs its model file: --detector-params \'{"model": "PATH.joblib"}\' '
                "(made by `inpaintbench train-detector`)"
            )
        if int(stride) < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        super().__init__(model=str(model), top=top, stride=int(stride))
        # sklearn is imported here (by unpickling), not at module import: registering stays cheap.
        self.estimator, self.meta = load_model(model)
        self.training_backends = tuple(self.meta.get("training_backends") or ())

    def predict(self, image: np.ndarray) -> dict:
        rgb = check_rgb_image(image)
        step = self.params["stride"]
        features = compute_features(rgb)[::step, ::step]
        h, w, f = features.shape
        proba = self.estimator.predict_proba(features.reshape(-1, f))[:, 1]
        heat = proba.reshape(h, w).astype(np.float32)
        return {"score": _top_fraction_mean(heat, float(self.params["top"])), "map": heat}

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        data = self.meta.get("training_data") or {}
        info["model"] = {
            "sha256": self.meta.get("model_sha256"),
            "features_version": self.meta.get("features_version"),
            "seed": self.meta.get("seed"),
            "pristine_share": (self.meta.get("options") or {}).get("pristine_share"),
            "training_data": {k: data.get(k) for k in ("kind", "version", "config", "split", "manifest_sha256",
                                                      "files_sha256", "num_samples")},
        }
        return info
