"""``manifest.json``: what a build holds, written once by the main process after every process has finished.

Built only from the shard records (``builder.shards``), never from in-memory state, so it is the same whether
the shards were written by 1 or N processes, in one go or across restarts. Its content is deterministic: no
wall-clock time, no host name, no process count (timing goes to ``work/run_log.jsonl``). The Hub release step
reads it: keys below are stable; add keys rather than rename them, and bump ``format_version`` if a meaning
changes.

Keys (``format_version`` 1):
- ``format``: "inpaintbench-manifest"; ``format_version``: 1; ``inpaintbench_version``: the package version.
- ``config``: the full generation config (``GenerateConfig.to_dict()`` minus ``out_dir``);
  ``config_hash``: its sha256 (``GenerateConfig.config_hash``); ``seed``: the run's seed.
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
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from .atomic_io import atomic_write_json
from .config import GenerateConfig
from .schema import FEATURES, LABEL_NAMES
from .shards import ShardRecord

MANIFEST_FORMAT = "inpaintbench-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"

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
    config_dict = config.to_dict()
    config_dict.pop("out_dir")
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
        "inputs": inputs or {},
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
    path = Path(out_dir) / MANIFEST_NAME
    atomic_write_json(path, manifest)
    return path
