"""The JSON sidecar every saved detector model carries: ``<model file>.json`` beside the model's bytes.

One convention for every kind of trained detector (``model_file``: scikit-learn, ``cnn.checkpoint``: torch): the
sidecar names its format, the version of what produced the model (features or architecture: a model read by
other code would silently compute garbage), the training data's identity, seed and backends, and vouches for the
model's bytes with their sha256. It is written last, atomically, so a sidecar never describes bytes that are not
there. Reading refuses a missing file or sidecar, another format or version, and changed bytes, each with an error
that names the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpaintbench.atomic_io import atomic_write_json
from inpaintbench.digests import sha256_file


@dataclass(frozen=True)
class ModelKind:
    """What differs between kinds of saved model: names, the version that must match, the error to raise."""

    format: str  # sidecar "format"
    format_version: int
    version_key: str  # sidecar key of the producing code's version
    version: str  # this code's version
    title: str  # "trained-detector", "CNN checkpoint": what a wrong sidecar is not
    noun: str  # "model file", "checkpoint": how errors call the model's bytes
    version_mismatch: str  # "{found}" / "{expected}" template: what a version mismatch means
    error: type[ValueError]


def sidecar_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def write_sidecar(model_path: str | Path, kind: ModelKind, meta: dict[str, Any]) -> Path:
    """After the model's bytes are in place: their sidecar, with their sha256."""
    model_path = Path(model_path)
    sidecar = {"format": kind.format, "format_version": kind.format_version, kind.version_key: kind.version,
               **meta, "model_file": model_path.name, "model_sha256": sha256_file(model_path)}
    atomic_write_json(sidecar_path(model_path), sidecar)
    return sidecar_path(model_path)


def read_sidecar(model_path: str | Path, kind: ModelKind) -> dict[str, Any]:
    """The sidecar of ``model_path``, checked for format and version (not yet the bytes: ``check_bytes``)."""
    model_path = Path(model_path)
    side = sidecar_path(model_path)
    if not model_path.is_file():
        raise kind.error(f"{model_path}: {kind.noun} not found")
    if not side.is_file():
        raise kind.error(f"{side}: sidecar not found (every {kind.noun} needs its .json beside it)")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise kind.error(f"{side}: cannot read JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != kind.format:
        raise kind.error(f"{side}: not an InpaintBench {kind.title} sidecar (format {kind.format!r})")
    if meta.get(kind.version_key) != kind.version:
        found = meta.get(kind.version_key)
        raise kind.error(
            f"{model_path}: " + kind.version_mismatch.format(found=repr(found), expected=repr(kind.version))
        )
    return meta


def check_bytes(model_path: str | Path, kind: ModelKind, meta: dict[str, Any]) -> None:
    model_path = Path(model_path)
    if meta.get("model_sha256") != sha256_file(model_path):
        raise kind.error(f"{model_path}: sha256 differs from its sidecar's (the {kind.noun} changed after training)")
