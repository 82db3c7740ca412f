"""Assess every sample of a generator output dir into ``<dir>/assessments/deceptiveness.parquet``.

The assessments file holds one row per (sample, judge configuration): several judges (or trial counts, or seeds) live
side by side, told apart by ``judge_key`` (a hash of the judge's ``describe()``, trials and seed). It is never
written in place: every flush rewrites it to a temp file and renames it (``atomic_io``), so a killed run leaves
the last complete version, and a re-run skips the (sample, judge_key) pairs already there. Rows are sorted by
(judge_key, sample_id), so the file's content does not depend on how often a run was interrupted.

Samples are read from the shards the run's ``manifest.json`` lists (``<dir>/data/*.parquet``; without a
manifest, every ``data/*.parquet``: see ``inpaintbench.folders.run_shards``) and decoded through
``inpaintbench.schema.FEATURES``. Pristine samples get a row with outcome ``"n/a"`` and no trials: nothing was
edited, so nothing can deceive.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from inpaintbench.atomic_io import atomic_path, remove_stale_temp_files
from inpaintbench.folders import MANIFEST_NAME, SHARD_DIR, ManifestError, run_shards
from inpaintbench.schema import FEATURES, INPAINTED, PRISTINE

from .judges import Judge
from .protocol import DECEIVING, INVALID, NOT_ASSESSED, NOT_DECEIVING, UNCERTAIN, assess_sample

ASSESSMENTS_DIR = "assessments"
ASSESSMENTS_NAME = "deceptiveness.parquet"
READ_COLUMNS = ["sample_id", "label", "backend", "image", "original"]
COUNT_COLUMNS = (DECEIVING, UNCERTAIN, NOT_DECEIVING, INVALID)

ASSESSMENTS_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("judge", pa.string()),  # registry name
        ("judge_key", pa.string()),  # hash of judge_config
        ("judge_config", pa.string()),  # canonical JSON: judge description, trials, seed
        ("backend", pa.string()),  # copied from the sample, for per-backend summaries without the shards
        ("trials", pa.int32()),
        ("valid_trials", pa.int32()),
        *((name, pa.int32()) for name in COUNT_COLUMNS),
        ("caught_single", pa.int32()),  # not_deceiving already at stage 1 (the judge alone said "edited")
        ("deceptiveness", pa.float64()),  # share of valid trials deceiving or uncertain
        ("deceptiveness_mean", pa.float64()),  # Beta(1 + k, 1 + n - k) posterior mean
        ("ci_low", pa.float64()),  # its 95% equal-tailed interval
        ("ci_high", pa.float64()),
        ("outcome", pa.string()),  # majority outcome; "n/a" for pristine samples
    ]
)


class AssessError(RuntimeError):
    """Bad input (a run dir without shards, an unreadable shard or assessments file); the message names the file."""


@dataclass
class AssessRunResult:
    assessments_file: Path
    judge_key: str
    assessed: int  # rows written by this run
    reused: int  # rows already in the assessments file for this judge_key
    summary: dict[str, Any]


def judge_config(judge: Judge, trials: int, seed: int) -> tuple[str, str]:
    """(canonical JSON, 16-hex key) identifying an assessment: same judge, same trials, same seed."""
    text = json.dumps({"judge": judge.describe(), "trials": int(trials), "seed": int(seed)}, sort_keys=True)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def find_shards(run_dir: Path) -> list[Path]:
    if not run_dir.is_dir():
        raise AssessError(f"{run_dir}: not a directory (expected a generator output dir)")
    try:
        # Sizes, not sha256: a judge reads every sample anyway, and a damaged shard fails there naming itself;
        # hashing a large build first would only add minutes before the first answer.
        shards = run_shards(run_dir, verify="size")
    except ManifestError as exc:
        raise AssessError(str(exc)) from None
    if not shards:
        raise AssessError(f"{run_dir}: no shards found (no {MANIFEST_NAME} and no {SHARD_DIR}/*.parquet)")
    return shards


def _open_shard(path: Path) -> pq.ParquetFile:
    try:
        shard = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise AssessError(f"{path}: not a readable Parquet shard ({error})") from error
    missing = [c for c in READ_COLUMNS if c not in shard.schema_arrow.names]
    if missing:
        raise AssessError(f"{path}: shard lacks column(s) {', '.join(missing)} (expected inpaintbench.schema.FEATURES)")
    return shard


def read_assessments(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        table = pq.read_table(path)
    except Exception as error:
        raise AssessError(
            f"{path}: existing assessments are unreadable ({error}); move it away to start over"
        ) from error
    missing = [name for name in ASSESSMENTS_SCHEMA.names if name not in table.column_names]
    if missing:
        raise AssessError(f"{path}: not a deceptiveness assessments file (missing column(s) {', '.join(missing)})")
    return table.select(ASSESSMENTS_SCHEMA.names).cast(ASSESSMENTS_SCHEMA).to_pylist()


def write_assessments(path: Path, rows: list[dict[str, Any]]) -> None:
    ordered = sorted(rows, key=lambda row: (row["judge_key"], row["sample_id"]))
    table = pa.Table.from_pylist(ordered, schema=ASSESSMENTS_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _decode(value: dict, column: str, shard: Path, sample_id: str) -> np.ndarray:
    try:
        return np.asarray(FEATURES[column].decode_example(value).convert("RGB"))
    except Exception as error:
        raise AssessError(
            f"{shard}: sample {sample_id}: column {column!r} is not a readable image ({error})"
        ) from error


def _iter_pending(shards: list[Path], done: set[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Raw rows (images undecoded) of samples not in ``done``, in shard order."""
    for path in shards:
        shard = _open_shard(path)
        for batch in shard.iter_batches(batch_size=16, columns=READ_COLUMNS):
            for row in batch.to_pylist():
                if row["sample_id"] not in done:
                    yield path, row


def _count_pending(shards: list[Path], done: set[str]) -> int:
    pending, seen = 0, {}
    for path in shards:
        ids = _open_shard(path).read(columns=["sample_id"]).column("sample_id").to_pylist()
        for sample_id in ids:
            if sample_id in seen:
                raise AssessError(f"{path}: sample id {sample_id} also appears in {seen[sample_id]}")
            seen[sample_id] = path
            pending += sample_id not in done
    return pending


def _pristine_row(base: dict[str, Any]) -> dict[str, Any]:
    nan = float("nan")
    counts = {name: 0 for name in COUNT_COLUMNS}
    return {**base, "trials": 0, "valid_trials": 0, **counts, "caught_single": 0, "deceptiveness": nan,
            "deceptiveness_mean": nan, "ci_low": nan, "ci_high": nan, "outcome": NOT_ASSESSED}


def assess_run(
    run_dir: str | Path,
    judge: Judge,
    *,
    trials: int = 8,
    seed: int = 0,
    progress: bool = True,
    flush_every: int = 32,
    limit: int | None = None,
) -> AssessRunResult:
    """Assess (or resume assessing) every sample of ``run_dir`` with ``judge``; ``limit`` stops after that many
    new rows (a partial run, as if interrupted)."""
    run_dir = Path(run_dir)
    shards = find_shards(run_dir)
    assessments_file = run_dir / ASSESSMENTS_DIR / ASSESSMENTS_NAME
    remove_stale_temp_files(assessments_file.parent)
    rows = read_assessments(assessments_file)
    config_text, key = judge_config(judge, trials, seed)
    done = {row["sample_id"] for row in rows if row["judge_key"] == key}
    reused = len(done)
    total = _count_pending(shards, done)
    new_rows: list[dict[str, Any]] = []
    unflushed = 0
    bar = tqdm(total=total if limit is None else min(total, limit), desc=f"assess ({judge.name})", unit="sample",
               disable=not progress)
    try:
        with bar:
            for path, raw in _iter_pending(shards, done):
                if limit is not None and len(new_rows) >= limit:
                    break
                sample_id = raw["sample_id"]
                base = {"sample_id": sample_id, "judge": judge.name, "judge_key": key, "judge_config": config_text,
                        "backend": raw["backend"]}
                if raw["label"] == PRISTINE:
                    row = _pristine_row(base)
                elif raw["label"] == INPAINTED:
                    image = _decode(raw["image"], "image", path, sample_id)
                    original = _decode(raw["original"], "original", path, sample_id)
                    result = assess_sample(judge, sample_id, image, original, trials, seed)
                    row = {**base, "trials": result.trials, "valid_trials": result.valid_trials, **result.counts,
                           "caught_single": result.caught_single, "deceptiveness": result.deceptiveness,
                           "deceptiveness_mean": result.deceptiveness_mean, "ci_low": result.ci_low,
                           "ci_high": result.ci_high, "outcome": result.outcome}
                else:
                    raise AssessError(f"{path}: sample {sample_id} has label {raw['label']!r} (expected 0 or 1)")
                new_rows.append(row)
                unflushed += 1
                bar.update(1)
                if unflushed >= flush_every:
                    write_assessments(assessments_file, rows + new_rows)
                    unflushed = 0
    finally:
        # Also on an error or Ctrl-C: what was assessed before it is kept.
        if unflushed:
            write_assessments(assessments_file, rows + new_rows)
    all_rows = rows + new_rows
    if not assessments_file.exists():  # nothing pending and nothing before: still leave an (empty) one
        write_assessments(assessments_file, all_rows)
    mine = [row for row in all_rows if row["judge_key"] == key]
    return AssessRunResult(assessments_file=assessments_file, judge_key=key, assessed=len(new_rows), reused=reused,
                           summary=summarize_assessments(mine))


def summarize_assessments(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of assessed (inpainted, validly judged) samples whose majority outcome deceived (deceiving or
    uncertain), and their mean deceptiveness, overall and per backend."""

    def block(group: list[dict[str, Any]]) -> dict[str, Any]:
        judged = [r for r in group if r["outcome"] not in (NOT_ASSESSED, INVALID)]
        deceived = sum(r["outcome"] in (DECEIVING, UNCERTAIN) for r in judged)
        return {
            "samples": len(judged),
            "deceiving": sum(r["outcome"] == DECEIVING for r in judged),
            "uncertain": sum(r["outcome"] == UNCERTAIN for r in judged),
            "share_deceiving": deceived / len(judged) if judged else float("nan"),
            "mean_deceptiveness": float(np.mean([r["deceptiveness"] for r in judged])) if judged else float("nan"),
            "invalid": sum(r["outcome"] == INVALID for r in group),
        }

    by_backend: dict[str, list] = defaultdict(list)
    for row in rows:
        if row["outcome"] != NOT_ASSESSED:
            by_backend[row["backend"]].append(row)
    return {
        "pristine": sum(r["outcome"] == NOT_ASSESSED for r in rows),
        "overall": block(rows),
        "by_backend": {name: block(group) for name, group in sorted(by_backend.items())},
    }


def format_summary(summary: dict[str, Any]) -> str:
    def fmt(value: float) -> str:
        return "  n/a" if math.isnan(value) else f"{value:5.3f}"

    lines = [f"{'backend':<24} {'samples':>7} {'deceived':>8} {'share':>6} {'mean':>6} {'invalid':>7}"]
    entries = list(summary["by_backend"].items()) + [("(all)", summary["overall"])]
    for name, block in entries:
        deceived = block["deceiving"] + block["uncertain"]
        lines.append(f"{name:<24} {block['samples']:>7} {deceived:>8} {fmt(block['share_deceiving']):>6} "
                     f"{fmt(block['mean_deceptiveness']):>6} {block['invalid']:>7}")
    lines.append(f"pristine samples (not assessed): {summary['pristine']}")
    return "\n".join(lines)
