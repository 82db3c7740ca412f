"""``manifest.json``: what a build holds, written once by the main process after every process has finished.

Built only from the shard records (``builder.shards``), never from in-memory state, so it is the same whether
the shards were written by 1 or N processes, in one go or across restarts. Its content is deterministic: no
wall-clock time, no host name, no process count (timing goes to ``work/run_log.jsonl``). The Hub release step
reads it: keys below are stable; add keys rather than rename them, and bump ``format_version`` if a meaning
changes.

Keys (``format_version`` 1):
- ``format``: "inpaintbench-manifest"; ``format_version``: 1; ``inpaintbench_version``: the package version.
- ``config``: the generation config that decides the content (``GenerateConfig.content_dict()``: no ``out_dir``, no
  execution settings); ``config_hash``: its sha256 (``GenerateConfig.config_hash``); ``seed``: the run's seed.
- ``features``: the Features of every shard (``datasets.Features.to_dict()``).
- ``counts``: ``total`` samples, and dicts of sample counts ``by_label`` (label names), ``by_backend``,
  ``by_source``, ``by_category``, ``by_strategy``, ``by_action``, ``by_mask_variant``
  (pristine samples count under backend/strategy/action "none" and mask variant ""). Keys sorted.
- ``work``: ``images`` (work items planned), ``shards`` (number of shards).
- ``inputs``: per source name, ``{images, ids_sha256, fingerprint}`` (``builder.work.input_fingerprints``;
  ``fingerprint`` is null unless the source offers ``fingerprint()``).
- ``skipped``: ``total``; ``by_stage``, counts per stage: "load" (the source could not use the photo),
  "object" (the source could not use an annotation, e.g. a degenerate polygon), "select" (an object was not
  eligible, or its mask failed), "plan" (the planner raised on one object), "inpaint" (a backend raised, or
  returned a wrong size/strategy, on one sample); ``by_reason``, count per reason text (a leading "<path>: "
  removed, so one problem counts once across files); ``items``, every skip as
  ``{stage, source, image_id, object_id, path, reason}``, in work order.
- ``shards``: ``[{path (relative to the manifest, POSIX), num_samples, sha256, bytes}]`` in shard order.

Reading (every reader of a build goes through these, so one set of rules and error texts):
``read_manifest(root)`` parses and checks the shape; ``check_shards(manifest, verify)`` checks the listed files
on disk and returns their paths in manifest order; ``manifest_shards(root, verify)`` does both;
``build_shards(root, verify)`` also reads a build that has no manifest yet. They raise ``ManifestError``
(a ``ValueError``) naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from tqdm.auto import tqdm

from inpaintbench.atomic_io import atomic_write_bytes, dump_json
from inpaintbench.digests import sha256_file
from inpaintbench.schema import FEATURES, LABEL_NAMES

from .. import __version__
from .config import GenerateConfig
from .release.photos import groups_from_records
from .shards import ShardRecord
from .work import MACHINE_LOCAL_KEYS

MANIFEST_FORMAT = "inpaintbench-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
# Keys every manifest written by ``build_manifest`` has and that readers rely on.
REQUIRED_KEYS = ("format", "format_version", "inpaintbench_version", "config", "seed", "counts", "shards")
SHARD_FIELDS = ("path", "num_samples", "sha256", "bytes")
VERIFY_MODES = ("sha256", "size", "none")
Verify = Literal["sha256", "size", "none"]
SHARD_DIR = "data"  # where builder.generate writes the shards (its DATA_DIR; imported the other way round)

# counts key -> per-sample summary field (builder.shards.SUMMARY_FIELDS)
COUNT_FIELDS = {
    "by_label": "label",
    "by_backend": "backend",
    "by_source": "source",
    "by_category": "category",
    "by_strategy": "strategy",
    "by_action": "action",
    "by_mask_variant": "mask_variant",
}


def _sorted_counts(values) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _reason_key(item: dict[str, Any]) -> str:
    # Load failures read "<path>: <problem>"; counting by the problem groups the same failure across files.
    prefix = f"{item.get('path', '')}: "
    reason = item["reason"]
    return reason[len(prefix) :] if item.get("path") and reason.startswith(prefix) else reason


def build_manifest(
    config: GenerateConfig, records: Sequence[ShardRecord], num_images: int, inputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    records = sorted(records, key=lambda r: r.chunk_index)
    samples = [sample for record in records for sample in record.samples]
    counts: dict[str, Any] = {"total": len(samples)}
    for key, field_name in COUNT_FIELDS.items():
        values = (sample[field_name] for sample in samples)
        if field_name == "label":
            values = (LABEL_NAMES[v] for v in values)
        counts[key] = _sorted_counts(values)
    skipped = [item for record in records for item in record.skipped]
    config_dict = config.content_dict()
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "inpaintbench_version": __version__,
        "config": config_dict,
        "config_hash": config.config_hash,
        "seed": config.seed,
        "features": FEATURES.to_dict(),
        "counts": counts,
        "work": {"images": num_images, "shards": len(records)},
        # The same photo under two ids or sources (exact pixels, or a perceptual hash within a few bits): a release
        # puts each group in one split (builder.release.photos); counted here so a build shows it before release.
        "duplicates": groups_from_records([photo for record in records for photo in record.photos]).summary(),
        "inputs": {name: {k: v for k, v in entry.items() if k not in MACHINE_LOCAL_KEYS}
                   for name, entry in (inputs or {}).items()},
        "skipped": {
            "total": len(skipped),
            "by_stage": _sorted_counts(item["stage"] for item in skipped),
            "by_reason": _sorted_counts(_reason_key(item) for item in skipped),
            "items": skipped,
        },
        "shards": [
            {"path": r.path, "num_samples": r.num_samples, "sha256": r.sha256, "bytes": r.bytes} for r in records
        ],
    }


def write_manifest(out_dir: str | Path, manifest: dict[str, Any]) -> Path:
    """Written atomically, and only if its bytes change: re-running a finished build writes nothing, so it also
    works on read-only storage (an archive mounted read-only, a shared dataset folder)."""
    path = Path(out_dir) / MANIFEST_NAME
    data = dump_json(manifest)
    try:
        if path.read_bytes() == data:
            return path
    except OSError:
        pass  # absent or unreadable: written below
    atomic_write_bytes(path, data)
    return path


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


def build_shards(root: str | Path, verify: Verify = "size") -> list[Path]:
    """The shards of the build at ``root``: those its manifest lists (``manifest_shards``) or, while it has no
    manifest (a run still going: the manifest is written last; or only its data/ folder copied), every
    ``data/*.parquet`` by name (a shard exists complete or not at all, see ``atomic_io``); [] if neither."""
    root = Path(root)
    if (root / MANIFEST_NAME).is_file():
        return manifest_shards(root, verify)
    return sorted((root / SHARD_DIR).glob("*.parquet"))
