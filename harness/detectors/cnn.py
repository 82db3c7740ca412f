"""``cnn``: the convolutional localisation baseline (``inpaintbench train-detector --kind cnn``), loaded from a
saved checkpoint.

    inpaintbench evaluate --data REL --split test --detector cnn --detector-params '{"model": "models/cnn.pt"}'

The map is the network's per-pixel probability of "inpainted" over the whole image (reflect-padded to a
multiple of 32, one forward pass: ``harness.training.cnn.inference``); the image score is the mean of the map's
top 1% (``top``), as for ``trained`` and the classical baselines. ``training_backends`` comes from the
checkpoint's sidecar, so the harness's in-domain / out-of-domain breakdown follows what the model saw.
``threads`` (default: torch's) caps the CPU threads of the process the harness runs the detector in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inpaintbench.harness.detectors import Detector, check_rgb_image, register_detector


@register_detector("cnn")
class CNNDetector(Detector):
    def __init__(self, model: str | None = None, top: float = 0.01, threads: int | None = None) -> None:
        if not model:
            raise ValueError("the cnn detector needs its checkpoint: --detector-params '{\"model\": \"PATH.pt\"}' "
                             "(made by `inpaintbench train-detector --kind cnn`)")
        if not 0.0 < float(top) <= 1.0:
            raise ValueError(f"top must lie in (0, 1], got {top!r}")
        super().__init__(model=str(model), top=float(top), threads=threads)
        # torch is imported here, not at module import: registering detectors stays cheap.
        import torch

        from inpaintbench.harness.training.cnn.checkpoint import load_checkpoint

        if threads:
            torch.set_num_threads(int(threads))
        self.net, self.meta = load_checkpoint(model)
        self.training_backends = tuple(self.meta.get("training_backends") or ())

    def predict(self, image: np.ndarray) -> dict:
        from inpaintbench.harness.training.cnn.inference import predict_map, top_fraction_mean

        heat = predict_map(self.net, check_rgb_image(image))
        return {"score": top_fraction_mean(heat, self.params["top"]), "map": heat}

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        data = self.meta.get("training_data") or {}
        info["model"] = {
            "sha256": self.meta.get("model_sha256"),
            "model_version": self.meta.get("model_version"),
            "init": self.meta.get("init"),
            "seed": self.meta.get("seed"),
            "best_epoch": self.meta.get("best_epoch"),
            "pristine_ratio": (self.meta.get("options") or {}).get("pristine_ratio"),
            "training_data": {k: data.get(k) for k in ("kind", "version", "config", "split", "manifest_sha256",
                                                      "files_sha256", "num_samples")},
        }
        return info
