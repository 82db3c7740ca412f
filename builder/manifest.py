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

Reading: ``inpaintbench.folders`` (``read_manifest``, ``manifest_shards``, ``run_shards``), the one reader of
run and release folders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inpaintbench.atomic_io import atomic_write_bytes, dump_json
from inpaintbench.folders import MANIFEST_FORMAT, MANIFEST_NAME, MANIFEST_VERSION
from inpaintbench.schema import FEATURES, LABEL_NAMES

from .. import __version__
from .config import GenerateConfig
from .release.photos import groups_from_records
from .shards import ShardRecord
from .work import MACHINE_LOCAL_KEYS

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


