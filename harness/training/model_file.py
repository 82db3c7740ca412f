"""A saved trained detector: ``<name>.joblib`` (the fitted scikit-learn estimator) + ``<name>.joblib.json``.

The JSON sidecar says what the model is and where it came from: the features version it was fitted on, the
training data's identity (the harness's dataset identity: manifest / release hashes, config, split), the seed,
the backends it saw (its in-domain set) and the mix. Loading refuses a file whose features version differs
from this code's (the model would silently read the wrong columns), and one whose bytes differ from the sha256
the sidecar recorded. joblib is pickle: load only model files you made or trust.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from inpaintbench.builder.atomic_io import atomic_path, atomic_write_json
from inpaintbench.harness.training.features import FEATURES_VERSION

MODEL_FORMAT = "inpaintbench-trained-detector"
MODEL_FORMAT_VERSION = 1


class TrainedModelError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


def sidecar_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(path: str | Path, estimator: Any, meta: dict[str, Any]) -> Path:
    """Write the estimator and its sidecar, each atomically (the sidecar last: it vouches for the bytes)."""
    import joblib

    path = Path(path)
    with atomic_path(path) as tmp:
        joblib.dump(estimator, tmp)
    sidecar = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "features_version": FEATURES_VERSION,
               **meta, "model_file": path.name, "model_sha256": _sha256(path)}
    atomic_write_json(sidecar_path(path), sidecar)
    return path


def read_sidecar(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file():
        raise TrainedModelError(f"{path}: model file not found")
    if not side.is_file():
        raise TrainedModelError(f"{side}: sidecar not found (every model file needs its .json beside it)")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainedModelError(f"{side}: cannot read JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise TrainedModelError(f"{side}: not an InpaintBench trained-detector sidecar (format {MODEL_FORMAT!r})")
    if meta.get("features_version") != FEATURES_VERSION:
        raise TrainedModelError(
            f"{path}: trained on features {meta.get('features_version')!r}, this code computes {FEATURES_VERSION!r}; "
            "retrain with `inpaintbench train-detector`"
        )
    return meta


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(estimator, sidecar dict); TrainedModelError naming the file for anything unusable."""
    import joblib

    path = Path(path)
    meta = read_sidecar(path)
    if meta.get("model_sha256") != _sha256(path):
        raise TrainedModelError(f"{path}: sha256 differs from its sidecar's (the model file changed after training)")
    try:
        estimator = joblib.load(path)
    except Exception as exc:  # unpickling raises many types; the file is what the user needs to know
        raise TrainedModelError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    if not callable(getattr(estimator, "predict_proba", None)):
        raise TrainedModelError(f"{path}: holds a {type(estimator).__name__}, not a classifier with predict_proba")
    return estimator, meta
