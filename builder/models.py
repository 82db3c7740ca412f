"""Loading a pretrained model given by Hub id or local path: one behaviour for every model the builder loads.

Two entry points, one set of rules: ``load_pretrained(cls, name)`` lets ``cls.from_pretrained`` fetch what it needs
(diffusion pipelines, whose repos hold several weight variants, and the VLM judge); ``resolve_model(name)`` gives
a local directory (a Hub id is fetched whole with ``snapshot_download``) for models read from a folder (the SAOR
segmenter, captioner, prompt LLM and text embedder), which ``load_from_directory`` then loads. Both agree on:
a local path is used as is (and must exist); a Hub id comes from the HF cache, and is downloaded only when
``HF_HUB_OFFLINE`` is unset (read *now*, not when huggingface_hub was imported: a caller may set it later);
anything that cannot be loaded raises ``ModelNotFound`` naming the model and saying what to do, instead of a bare
``OSError`` from deep inside diffusers or transformers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}


class ModelNotFound(OSError):
    """A configured model (by id or path) cannot be found or loaded; the message names it."""


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def looks_like_path(name: str) -> bool:
    # A Hub id is "name" or "owner/name"; anything else with separators, or starting like a path, is a path.
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or "\\" in name


def load_pretrained(cls: Any, name_or_path: str | os.PathLike, what: str, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` with HF_HUB_OFFLINE honoured and a clear error naming the model when it fails.
    ``what`` ("sd_inpaint", "VLM judge model", ...) starts every error message."""
    name = str(name_or_path)
    local = Path(name).expanduser()
    if looks_like_path(name) and not local.exists():
        raise ModelNotFound(f"{what}: model path {name!r} does not exist")
    offline = hub_offline()
    try:
        return cls.from_pretrained(str(local) if local.exists() else name, local_files_only=offline, **kwargs)
    except (OSError, ValueError) as error:
        if local.exists():
            hint = "the folder is not a complete diffusers/transformers save (model_index.json, config.json, weights)"
        elif offline:
            hint = (f"HF_HUB_OFFLINE is set and it is not in the local cache; run `hf download {name}` where the "
                    f"Hub is reachable, or pass a local path")
        else:
            hint = "check the model id, your network and (for gated models) your Hub token"
        raise ModelNotFound(f"{what}: cannot load {cls.__name__} weights {name!r}: {hint}. ({error})") from error


def resolve_model(name_or_path: str | os.PathLike, *, what: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local directory holding the model's files. ``what`` ("segmentation model", ...) goes into errors."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFound(f"{what} {text!r} is a file; expected a directory saved with save_pretrained")
        if not (path / "config.json").exists():
            raise ModelNotFound(f"{what} {text!r} has no config.json; expected a directory saved with save_pretrained")
        return path
    if looks_like_path(text):
        raise ModelNotFound(f"{what} {text!r}: no such directory")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = hub_offline()
    try:
        return Path(snapshot_download(text, cache_dir=cache_dir, local_files_only=offline))
    except LocalEntryNotFoundError as exc:
        reason = (
            "not in the HF cache and HF_HUB_OFFLINE is set"
            if offline
            else "not in the HF cache and the Hub is unreachable"
        )
        raise ModelNotFound(f"{what} {text!r}: {reason}") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelNotFound(f"{what} {text!r} cannot be fetched: {exc}") from exc


def load_from_directory(loader, directory: Path, *, what: str, name: str, **kwargs):
    """``loader.from_pretrained(directory)``, re-raising load failures with the configured name in the message."""
    try:
        return loader.from_pretrained(str(directory), local_files_only=True, **kwargs)
    except Exception as exc:  # noqa: BLE001 - safetensors, tokenizers and config errors share no base class
        raise ModelNotFound(f"{what} {name!r} (resolved to {directory}) cannot be loaded: {exc}") from exc
