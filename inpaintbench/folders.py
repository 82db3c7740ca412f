"""What a run folder (the generator's output) and a release folder look like, and the one reader of each
manifest: builder/, harness/ and space/ all find shards and summaries through here, so one set of rules and error
texts holds everywhere.

- A run folder: ``manifest.json`` (written last, by ``builder.manifest``) listing ``data/*.parquet`` shards.
  ``read_manifest(root)`` parses and checks the shape; ``check_shards(manifest, verify)`` checks the listed files
  on disk and returns their paths in manifest order; ``manifest_shards(root, verify)`` does both;
  ``run_shards(root, verify)`` also reads a run that has no manifest yet. They raise ``ManifestError``
  (a ``ValueError``) naming the file and what is wrong.
- A release folder: ``release.json`` (``RELEASE_SUMMARY_NAME``, written by ``builder.release``) beside
  ``data/<config>/<split>-*.parquet``; ``folder_kind(path)`` says which of the two a folder is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from tqdm.auto import tqdm

from inpaintbench.digests import sha256_file

MANIFEST_FORMAT = "inpaintbench-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
# Keys every manifest written by ``build_manifest`` has and that readers rely on.
REQUIRED_KEYS = ("format", "format_version", "inpaintbench_version", "config", "seed", "counts", "shards")
SHARD_FIELDS = ("path", "num_samples", "sha256", "bytes")
VERIFY_MODES = ("sha256", "size", "none")
Verify = Literal["sha256", "size", "none"]
SHARD_DIR = "data"  # where builder.generate writes a run's shards, and a release its configs' folders
RELEASE_SUMMARY_NAME = "release.json"  # a release folder's summary (builder.release.layout writes it)
FolderKind = Literal["release", "run"]


class ReleaseFolderError(ValueError):
    """A release folder's ``release.json`` is missing, unreadable or not a JSON object; the message names it."""


def read_release_summary(root: str | Path) -> dict[str, Any]:
    """``<root>/release.json``, parsed: every reader of a release folder's summary goes through here."""
    path = Path(root) / RELEASE_SUMMARY_NAME
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseFolderError(
            f"{path}: missing (is {root} a release folder written by inpaintbench publish?)"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise ReleaseFolderError(f"{path}: cannot read JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ReleaseFolderError(f"{path}: expected a JSON object at the top level, got {type(value).__name__}")
    return value


def folder_kind(path: str | Path) -> FolderKind | None:
    """"release" (``release.json``), "run" (``manifest.json``) or None; a release folder wins when both exist."""
    root = Path(path)
    if (root / RELEASE_SUMMARY_NAME).is_file():
        return "release"
    if (root / MANIFEST_NAME).is_file():
        return "run"
    return None


class ManifestError(ValueError):
    """``manifest.json`` or a shard it lists cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ListedShard:
    """One ``shards`` entry of a manifest; ``path`` is the manifest's folder joined with the listed path."""

    path: Path
    num_samples: int
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    path: Path  # the manifest.json file
    data: dict[str, Any]  # the parsed JSON, as written by ``build_manifest``
    sha256: str  # of the file's bytes: what results and releases record as the build's identity
    shards: tuple[ListedShard, ...]  # in manifest (= shard) order


def _listed_shard(root: Path, where: str, item: Any) -> ListedShard:
    if not isinstance(item, dict) or any(key not in item for key in SHARD_FIELDS):
        raise ManifestError(f"{where}: needs {', '.join(SHARD_FIELDS)}, got {item!r}")
    rel, sha = item["path"], item["sha256"]
    try:
        num, size = int(item["num_samples"]), int(item["bytes"])
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: num_samples and bytes must be integers, got {item!r}") from None
    if not isinstance(rel, str) or not rel or not isinstance(sha, str):
        raise ManifestError(f"{where}: path and sha256 must be non-empty strings, got {item!r}")
    # Checked on the text, not by resolving: a shard folder that is a symlink to another disk stays readable,
    # while a listed "../x" or "/x" (a manifest reaching outside its build) never is.
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        raise ManifestError(f"{where}: path {rel!r} points outside {root}")
    return ListedShard(root / pure, num, sha, size)


def read_manifest(root: str | Path) -> Manifest:
    """Parse ``<root>/manifest.json`` and check its shape (not the shard files: see ``manifest_shards``)."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest (is {root} a generator output dir?)")
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ManifestError(f"{path}: missing keys {missing}")
    if data["format"] != MANIFEST_FORMAT or data["format_version"] != MANIFEST_VERSION:
        raise ManifestError(
            f"{path}: format {data['format']!r} version {data['format_version']!r}, "
            f"expected {MANIFEST_FORMAT!r} version {MANIFEST_VERSION}"
        )
    listed = data["shards"]
    if not isinstance(listed, list) or not listed:
        raise ManifestError(f"{path}: 'shards' must be a non-empty list")
    shards = tuple(_listed_shard(root, f"{path}: shards[{i}]", item) for i, item in enumerate(listed))
    return Manifest(path, data, hashlib.sha256(raw).hexdigest(), shards)


def check_shards(manifest: Manifest, verify: Verify = "size") -> list[Path]:
    """The shard files ``manifest`` lists, in manifest order, each checked to exist and, by ``verify``:
    "size" (the listed byte count: cheap), "sha256" (size, then the full hash: reads every byte, minutes on a
    large build) or "none" (existence only)."""
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be 'sha256', 'size' or 'none', got {verify!r}")
    # Hashing reads every byte: a bar then, on a terminal only (disable=None), gone once done (leave=False).
    hashing = verify == "sha256"
    bar = tqdm(
        manifest.shards, desc="checking shard sha256s", unit="shard", disable=None if hashing else True, leave=False
    )
    for shard in bar:
        if not shard.path.is_file():
            raise ManifestError(f"{shard.path}: listed in {manifest.path} but missing")
        if verify == "none":
            continue
        size = shard.path.stat().st_size
        if size != shard.bytes:
            raise ManifestError(f"{shard.path}: {size} bytes, the manifest says {shard.bytes}")
        if hashing and sha256_file(shard.path) != shard.sha256:
            raise ManifestError(f"{shard.path}: sha256 differs from the manifest's (corrupt or replaced shard)")
    return [shard.path for shard in manifest.shards]


def manifest_shards(root: str | Path, verify: Verify = "size") -> list[Path]:
    """``read_manifest`` then ``check_shards``: the checked shard paths of the build at ``root``."""
    return check_shards(read_manifest(root), verify)


def run_shards(root: str | Path, verify: Verify = "size") -> list[Path]:
    """The shards of the build at ``root``: those its manifest lists (``manifest_shards``) or, while it has no
    manifest (a run still going: the manifest is written last; or only its data/ folder copied), every
    ``data/*.parquet`` by name (a shard exists complete or not at all, see ``atomic_io``); [] if neither."""
    root = Path(root)
    if (root / MANIFEST_NAME).is_file():
        return manifest_shards(root, verify)
    return sorted((root / SHARD_DIR).glob("*.parquet"))
