"""Resolving a model given by Hub id or local path, the one place that talks to the Hub cache.

Every SAOR model (segmenter, captioner, prompt LLM) goes through ``resolve_model`` first and is then loaded from
the local directory it returns. That gives one behaviour for all of them: a local path is used as is; a Hub id is
looked up in the HF cache and only downloaded when ``HF_HUB_OFFLINE`` is unset; anything missing raises
``ModelNotFound`` naming the id or path and why, instead of a bare ``OSError`` from deep inside transformers.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..models import ModelNotFound, hub_offline  # noqa: F401 (re-exported: one error type for every model)


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
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
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
