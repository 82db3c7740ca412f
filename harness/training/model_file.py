"""A saved trained detector: ``<name>.joblib`` (the fitted scikit-learn estimator) + ``<name>.joblib.json``.

The JSON sidecar says what the model is and where it came from: the features version it was fitted on, the
training data's identity (the harness's dataset identity: manifest / release hashes, config, split), the seed,
the backends it saw (its in-domain set) and the mix. Loading refuses a file whose features version differs
from this code's (the model would silently read the wrong columns), and one whose bytes differ from the sha256
the sidecar recorded. joblib is pickle: load only model files you made or trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inpaintbench.atomic_io import atomic_path
from inpaintbench.harness.training import sidecar
from inpaintbench.harness.training.features import FEATURES_VERSION
from inpaintbench.harness.training.sidecar import sidecar_path  # noqa: F401 - part of this module's interface

MODEL_FORMAT = "inpaintbench-trained-detector"
MODEL_FORMAT_VERSION = 1


class TrainedModelError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


KIND = sidecar.ModelKind(
    format=MODEL_FORMAT,
    format_version=MODEL_FORMAT_VERSION,
    version_key="features_version",
    version=FEATURES_VERSION,
    title="trained-detector",
    noun="model file",
    version_mismatch="trained on features {found}, this code computes {expected}; retrain with "
                     "`inpaintbench train-detector`",
    error=TrainedModelError,
)


def save_model(path: str | Path, estimator: Any, meta: dict[str, Any]) -> Path:
    """Write the estimator and its sidecar, each atomically (the sidecar last: it vouches for the bytes)."""
    import joblib

    path = Path(path)
    with atomic_path(path) as tmp:
        joblib.dump(estimator, tmp)
    sidecar.write_sidecar(path, KIND, meta)
    return path


def read_sidecar(path: str | Path) -> dict[str, Any]:
    return sidecar.read_sidecar(path, KIND)


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(estimator, sidecar dict); TrainedModelError naming the file for anything unusable."""
    import joblib

    path = Path(path)
    meta = read_sidecar(path)
    sidecar.check_bytes(path, KIND, meta)
    try:
        estimator = joblib.load(path)
    except Exception as exc:  # unpickling raises many types; the file is what the user needs to know
        raise TrainedModelError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    if not callable(getattr(estimator, "predict_proba", None)):
        raise TrainedModelError(f"{path}: holds a {type(estimator).__name__}, not a classifier with predict_proba")
    return estimator, meta
