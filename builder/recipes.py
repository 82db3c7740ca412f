"""A sample's recipe: everything needed to make it again, stored in its ``recipe`` column (JSON, keys sorted).

``backend_params`` says what was asked of a backend; the recipe adds what made the pixels and is not a setting:

- ``models``: each checkpoint the backend loaded (``model``, ``controlnet``, ``prior``, ``upscale_model``), as
  ``{"id": <Hub id>, "revision": <the snapshot's commit>}`` for a Hub id (resolved from the HF cache, where the
  loader read it) or ``{"path": <folder>, "sha256": <digest of every file in it>}`` for a local folder;
- ``pipeline_class`` and ``scheduler`` (class and full config) as loaded, ``dtype`` and ``device`` kind;
- ``libraries``: versions of the libraries that compute pixels (diffusers, transformers, torch, numpy, Pillow,
  OpenCV, PyPatchMatch) and of inpaintbench;
- per sample: ``seed`` (the generator seed of the call; also the upscaler's), ``key`` (the sample's identity its
  seed is derived from, with the run's seed), ``strategy``, and ``call``: the samples that went through the same
  batched model call, in call order, with this sample's position. A batched call's numbers depend on its batch
  (floating-point reduction order), so ``inpaintbench regenerate`` replays the whole call.

The recipe is not part of the sample id (``inpaintbench.ids``): two machines with other library versions that compute
the same pixels make the same sample.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any

RECIPE_FORMAT = 1
# Distributions whose code computes pixels; the first installed name of each entry is recorded.
_LIBRARIES = {
    "diffusers": ("diffusers",), "transformers": ("transformers",), "torch": ("torch",), "numpy": ("numpy",),
    "pillow": ("pillow", "Pillow"), "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python"),
    "pypatchmatch": ("pypatchmatch", "PyPatchMatch"), "inpaintbench": ("inpaintbench",),
}
# Backend params that name a checkpoint.
MODEL_PARAMS = ("model", "controlnet", "prior", "upscale_model")


@functools.cache  # package metadata is read once per process (~40 ms a call), not per sample
def _library_versions() -> tuple[tuple[str, str | None], ...]:
    return tuple(_read_versions().items())


def library_versions() -> dict[str, str | None]:
    return dict(_library_versions())


def _read_versions() -> dict[str, str | None]:
    """Installed versions (from package metadata: nothing is imported), ``None`` for one not installed."""
    versions: dict[str, str | None] = {}
    for name, distributions in _LIBRARIES.items():
        versions[name] = None
        for distribution in distributions:
            try:
                versions[name] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


_FOLDER_DIGESTS: dict[tuple, str] = {}


def folder_sha256(folder: str | Path) -> str:
    """sha256 over every file of a model folder: its relative path and the sha256 of its bytes, in sorted order.

    Reads every weight file once per process (about 1 GB/s); cached by the folder's (path, size, mtime) listing."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    listing = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(folder.resolve()), listing)
    if key not in _FOLDER_DIGESTS:
        digest = hashlib.sha256()
        for path in files:
            file_digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    file_digest.update(block)
            digest.update(f"{path.relative_to(folder).as_posix()}\x1f{file_digest.hexdigest()}\n".encode())
        _FOLDER_DIGESTS[key] = digest.hexdigest()
    return _FOLDER_DIGESTS[key]


def hub_revision(repo_id: str) -> str | None:
    """The commit of the cached snapshot a loader reads for ``repo_id`` (the ``main`` ref), or None when the
    HF cache has no snapshot of it."""
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model_index.json", "config.json"):
        cached = try_to_load_from_cache(repo_id, filename)
        if isinstance(cached, str):
            # <cache>/models--owner--name/snapshots/<commit>/<filename>
            return Path(cached).parent.name
    return None


def describe_model(name: str) -> dict[str, Any]:
    from .models import looks_like_path

    local = Path(name).expanduser()
    if looks_like_path(name) or local.is_dir():
        return {"path": str(local.resolve()), "sha256": folder_sha256(local)}
    return {"id": name, "revision": hub_revision(name)}


def models_of(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: describe_model(str(params[key])) for key in MODEL_PARAMS if params.get(key)}


def sample_recipe(backend_recipe: dict[str, Any], *, seed: int, key: list[str], run_seed: int, strategy: str,
                  call: dict[str, Any]) -> dict[str, Any]:
    return {"format": RECIPE_FORMAT, **backend_recipe, "seed": int(seed), "key": list(key),
            "run_seed": int(run_seed), "strategy": strategy, "call": call}


def pristine_recipe(key: list[str], run_seed: int) -> dict[str, Any]:
    # Nothing made a pristine sample but loading and normalising the photo: the package version says how.
    return {"format": RECIPE_FORMAT, "key": list(key), "run_seed": int(run_seed), "strategy": "none",
            "libraries": {"inpaintbench": library_versions()["inpaintbench"],
                          "pillow": library_versions()["pillow"]}}
