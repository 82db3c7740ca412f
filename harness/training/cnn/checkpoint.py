"""A saved CNN detector: ``<name>.pt`` (the network's state dict) + ``<name>.pt.json`` (the sidecar).

Same conventions as the ``trained`` detector's model file (``harness.training.model_file``): the sidecar names
the format and the architecture version (``MODEL_VERSION``), the training data's identity, the seed, the
training backends (the harness's in-domain set), the options and the per-epoch history, and vouches for the
weights' bytes with their sha256 (written last, atomically). Loading refuses a missing file or sidecar,
another format or architecture version, changed bytes, and tensors that do not fit the network, each with an
error naming the file. Weights are read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from inpaintbench.atomic_io import atomic_path
from inpaintbench.harness.training import sidecar
from inpaintbench.harness.training.cnn.model import MODEL_VERSION, LocalizationNet

CHECKPOINT_FORMAT = "inpaintbench-cnn-detector"
CHECKPOINT_FORMAT_VERSION = 1


class CNNCheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


KIND = sidecar.ModelKind(
    format=CHECKPOINT_FORMAT, format_version=CHECKPOINT_FORMAT_VERSION, version_key="model_version",
    version=MODEL_VERSION, title="CNN checkpoint", noun="checkpoint file",
    version_mismatch="saved by architecture {found}, this code builds {expected}; retrain with "
                     "`inpaintbench train-detector --kind cnn`",
    error=CNNCheckpointError,
)


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in state_dict.items()}, buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())
    sidecar.write_sidecar(path, KIND, meta)
    return path


def read_checkpoint_sidecar(path: str | Path) -> dict[str, Any]:
    return sidecar.read_sidecar(path, KIND)


def load_checkpoint(path: str | Path) -> tuple[LocalizationNet, dict[str, Any]]:
    """(network in eval mode, sidecar dict); CNNCheckpointError naming the file for anything unusable."""
    path = Path(path)
    meta = read_checkpoint_sidecar(path)
    sidecar.check_bytes(path, KIND, meta)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; the file is what the user needs
        raise CNNCheckpointError(f"{path}: cannot read the weights ({type(exc).__name__}: {exc})") from None
    net = LocalizationNet(drop_connect_rate=float((meta.get("options") or {}).get("drop_connect_rate", 0.0)))
    if not isinstance(state, dict):
        raise CNNCheckpointError(f"{path}: holds a {type(state).__name__}, not a state dict")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise CNNCheckpointError(f"{path}: weights do not fit {MODEL_VERSION} ({' '.join(first)})") from None
    net.eval()
    return net, meta
