"""A saved CNN detector: ``<name>.pt`` (the network's state dict) + ``<name>.pt.json`` (the sidecar).

Same conventions as the ``trained`` detector's model file (``harness.training.model_file``): the sidecar names
the format and the architecture version (``MODEL_VERSION``), the training data's identity, the seed, the
training backends (the harness's in-domain set), the options and the per-epoch history, and vouches for the
weights' bytes with their sha256 (written last, atomically). Loading refuses a missing file or sidecar,
another format or architecture version, changed bytes, and tensors that do not fit the network, each with an
error naming the file. Weights are read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch

from inpaintbench.builder.atomic_io import atomic_path, atomic_write_json
from inpaintbench.harness.training.cnn.model import MODEL_VERSION, LocalizationNet
from inpaintbench.harness.training.model_file import sidecar_path

CHECKPOINT_FORMAT = "inpaintbench-cnn-detector"
CHECKPOINT_FORMAT_VERSION = 1


class CNNCheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in state_dict.items()}, buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())
    sidecar = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, "model_version": MODEL_VERSION,
               **meta, "model_file": path.name, "model_sha256": _sha256(path)}
    atomic_write_json(sidecar_path(path), sidecar)
    return path


def read_checkpoint_sidecar(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file():
        raise CNNCheckpointError(f"{path}: checkpoint file not found")
    if not side.is_file():
        raise CNNCheckpointError(f"{side}: sidecar not found (every checkpoint needs its .json beside it)")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CNNCheckpointError(f"{side}: cannot read JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CNNCheckpointError(f"{side}: not an InpaintBench CNN checkpoint sidecar (format {CHECKPOINT_FORMAT!r})")
    if meta.get("model_version") != MODEL_VERSION:
        raise CNNCheckpointError(
            f"{path}: saved by architecture {meta.get('model_version')!r}, this code builds {MODEL_VERSION!r}; "
            "retrain with `inpaintbench train-detector --kind cnn`"
        )
    return meta


def load_checkpoint(path: str | Path) -> tuple[LocalizationNet, dict[str, Any]]:
    """(network in eval mode, sidecar dict); CNNCheckpointError naming the file for anything unusable."""
    path = Path(path)
    meta = read_checkpoint_sidecar(path)
    if meta.get("model_sha256") != _sha256(path):
        raise CNNCheckpointError(f"{path}: sha256 differs from its sidecar's (the checkpoint changed after training)")
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
