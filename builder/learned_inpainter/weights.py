"""The shipped weights: one fp16 safetensors file inside the package and its JSON sidecar.

Why fp16: 3.3 M parameters are 13 MB in fp32, over the 10 MB the package may carry; fp16 halves it, and the
network runs in fp32 after loading (a rounding of the weights, measured in the sidecar's quality figures, which
are computed from the fp16 file). Why safetensors: loading it runs no code, unlike a pickle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .model import MODEL_VERSION, InpaintNet

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_NAME = "learned_inpaint.safetensors"
SIDECAR_NAME = "learned_inpaint.json"
SHIPPED_WEIGHTS = PACKAGE_DIR / WEIGHTS_NAME


class InpainterWeightsError(RuntimeError):
    """The weights file or its sidecar is missing, unreadable, or not this network's."""


def sidecar_path(weights: Path) -> Path:
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(net: InpaintNet, weights: Path, sidecar: dict) -> None:
    from safetensors.torch import save_file

    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items()
             if v.dtype.is_floating_point}
    save_file(state, str(weights), metadata={"model_version": MODEL_VERSION})
    sidecar = {**sidecar, "weights_file": weights.name, "weights_sha256": file_sha256(weights),
               "weights_bytes": weights.stat().st_size}
    sidecar_path(weights).write_text(json.dumps(sidecar, indent=1) + "\n")


def load(weights: Path | str | None = None) -> tuple[InpaintNet, dict]:
    """The network (fp32, eval mode) and its sidecar; ``InpainterWeightsError`` naming the file on any problem."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(weights) if weights else SHIPPED_WEIGHTS
    if not path.is_file():
        raise InpainterWeightsError(
            f"{path}: learned_inpaint weights missing (they ship inside the package; reinstall inpaintbench, "
            f"or train them: inpaintbench train-inpainter --ship)")
    side = sidecar_path(path)
    if not side.is_file():
        raise InpainterWeightsError(f"{side}: sidecar of {path.name} missing (it records how the weights were made)")
    try:
        sidecar = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InpainterWeightsError(f"{side}: unreadable sidecar: {error}") from error
    expected = sidecar.get("weights_sha256")
    actual = file_sha256(path)
    if expected != actual:
        raise InpainterWeightsError(
            f"{path}: corrupt or replaced: sha256 {actual[:16]}... but its sidecar {side.name} records "
            f"{str(expected)[:16]}...")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise InpainterWeightsError(f"{path}: not a readable safetensors file: {error}") from error
    net = InpaintNet()
    # Integer buffers (batch-norm's num_batches_tracked) are not saved: frozen statistics never use them.
    own = {k: v for k, v in net.state_dict().items() if v.dtype.is_floating_point}
    problems = sorted(set(own) ^ set(state))
    problems += [k for k in own if k in state and own[k].shape != state[k].shape]
    if problems:
        raise InpainterWeightsError(f"{path}: not {MODEL_VERSION} weights (mismatched tensors {problems[:4]})")
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
    net.eval()
    return net, sidecar
