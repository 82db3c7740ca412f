"""Write a release folder from a generator output: the layout the Hub (and ``load_dataset``) reads.

    <release>/README.md                                     the dataset card (YAML configs = the loading path)
    <release>/release.json                                  machine-readable summary: counts, files, hashes
    <release>/images/counts.png                             the card's plot
    <release>/data/<config>/<split>-NNNNN-of-MMMMM.parquet  rows of FEATURES, in generator order
    <release>/index/samples.parquet                         id -> pixels, split, configs (builder.release.index)

Before anything is written, every row's id is checked against its content and the photos are fingerprinted
(``index.scan_shards``), so duplicate photos can be grouped into one split (``photos``). Then two passes keep
memory bounded by one input shard: pass 1 reads only the small identity columns to assign splits and count rows
(so every file name knows its MMMMM); pass 2 streams the full rows into output shards.

Each split is written as at least ``min(MIN_FILES_PER_SPLIT, rows)`` files (more when ``max_shard_bytes`` asks):
a streaming ``IterableDataset`` hands whole files to DataLoader workers, so one file per split means one worker.
The folder is built under a temp name and renamed at the end, so a release dir exists complete or not at all.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from inpaintbench.digests import sha256_file
from inpaintbench.folders import RELEASE_SUMMARY_NAME
from inpaintbench.schema import ASSESSMENT_COLUMNS, COLUMNS, FEATURES, LABEL_NAMES, release_features

from .assessments import (
    DECEIVED_OUTCOMES,
    DECEIVING_CONFIG,
    DECEIVING_CONFIG_DESCRIPTION,
    ReleaseAssessment,
    check_covers,
    deceiving_shares,
)
from .index import INDEX_PATH, ScannedShards, index_table, scan_shards, write_index
from .inputs import GeneratorOutput
from .photos import PhotoGroups, group_photos
from .splits import EXCLUDED, ReleaseConfigSpec, SplitConfig
from .staging import StagingError, move_into_place, partial_dir, remove_stale, terminations_as_exit

RELEASE_FORMAT = "inpaintbench-release"
RELEASE_FORMAT_VERSION = 2  # 2: sample index, features, image sizes, duplicates, build options
DEFAULT_MAX_SHARD_BYTES = 256 * 1024 * 1024  # the Hub's viewer and streaming work best with shards well < 1 GB
ROW_GROUP_SIZE = 32  # rows hold three PNGs each: small row groups make streaming's first sample fast
# Files per split, at least (fewer only when the split has fewer rows): DataLoader(num_workers=8) keeps every worker
# busy on a streamed split. 8 is a common worker count on one GPU node; more files cost only a few KB each.
MIN_FILES_PER_SPLIT = 8
# Columns pass 1 reads: enough to assign splits, filter configs and fill the card's tables.
IDENTITY_COLUMNS = (
    "sample_id", "label", "source", "source_image_id", "backend", "category", "strategy", "action", "mask_variant",
    "width", "height",
)
# Columns an example row in the card leaves out: images (shown by the Hub's viewer) and long JSON.
EXAMPLE_ROW_SKIPS = tuple(name for name, feature in FEATURES.items() if getattr(feature, "_type", "") == "Image")


class ReleaseLayoutError(ValueError):
    """The release cannot be written; the message names the file and the problem."""


def shard_name(split: str, index: int, total: int) -> str:
    return f"{split}-{index:05d}-of-{total:05d}.parquet"


@dataclass
class ReleasePlan:
    """Pass 1's result: the split of every row (in generator order) and what each config will hold."""

    rows: list[dict[str, Any]]  # identity columns + "split" (+ "ugda_outcome"), one per input row, generator order
    bytes_per_row: float
    max_shard_bytes: int
    min_files_per_split: int
    scanned: ScannedShards
    groups: PhotoGroups
    config_split_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    configs: tuple[ReleaseConfigSpec, ...] = ()  # the split config's, plus "deceiving" when assessments come along
    # Rows left out of the release (splits.EXCLUDED: held-out backends' edits of train photos), per the
    # out-of-domain split they would have gone to. They are in no file and no count of ``rows``.
    excluded: dict[str, int] = field(default_factory=dict)

    def files_for(self, rows: int) -> list[int]:
        """Rows of each file of a split of ``rows`` rows: under ``max_shard_bytes`` each, at least
        ``min(min_files_per_split, rows)`` files, sizes differing by at most one row."""
        by_bytes = math.ceil(rows * self.bytes_per_row / self.max_shard_bytes)
        files = min(rows, max(1, by_bytes, self.min_files_per_split)) if rows else 1
        base, extra = divmod(rows, files)
        return [base + 1] * extra + [base] * (files - extra)


def release_configs(split_config: SplitConfig, assessment: ReleaseAssessment | None) -> tuple[ReleaseConfigSpec, ...]:
    """The split config's configs, plus the UGDA filter ``deceiving`` when the release carries assessments."""
    if assessment is None:
        return split_config.configs
    if any(spec.name == DECEIVING_CONFIG for spec in split_config.configs):
        raise ReleaseLayoutError(
            f"{split_config.source_file}: config name {DECEIVING_CONFIG!r} is reserved for the assessed release's "
            "UGDA filter"
        )
    deceiving = ReleaseConfigSpec(
        DECEIVING_CONFIG, DECEIVING_CONFIG_DESCRIPTION, {"ugda_outcome": DECEIVED_OUTCOMES}, include_pristine=True
    )
    return (*split_config.configs, deceiving)


def plan_release(
    generated: GeneratorOutput,
    split_config: SplitConfig,
    max_shard_bytes: int,
    assessment: ReleaseAssessment | None = None,
    min_files_per_split: int = MIN_FILES_PER_SPLIT,
) -> ReleasePlan:
    configs = release_configs(split_config, assessment)
    known = COLUMNS + (ASSESSMENT_COLUMNS if assessment is not None else [])
    for spec in configs:
        for column in spec.where:
            if column not in known:
                raise ReleaseLayoutError(
                    f"{split_config.source_file}: config {spec.name!r} filters on unknown column {column!r}"
                )
    # Identity columns plus whatever the configs filter on, so config counts are exact before pass 2
    # (assessment columns come from the assessments file, not the shards).
    filtered = [c for spec in configs for c in spec.where if c in COLUMNS]
    wanted = list(dict.fromkeys(list(IDENTITY_COLUMNS) + filtered))
    scanned = scan_shards(shard.path for shard in generated.shards)
    groups = group_photos(scanned.photos)
    rows: list[dict[str, Any]] = []
    excluded: Counter = Counter()
    seen: dict[str, str] = {}
    for shard in tqdm(generated.shards, desc="release: assigning splits", unit="shard"):
        table = pq.read_table(shard.path, columns=wanted)
        columns = {name: table.column(name).to_pylist() for name in wanted}
        splits = split_config.assign_many(columns["source"], columns["source_image_id"], columns["backend"], groups)
        for i, split in enumerate(splits):
            row = {name: columns[name][i] for name in wanted}
            _check_unique(generated, seen, row["sample_id"], shard.path.name)
            if split is EXCLUDED:
                excluded[split_config.held_out_split(row["source"], row["backend"])] += 1
                continue
            row["split"] = split
            row["label"] = LABEL_NAMES[row["label"]]  # names, not ClassLabel ints, in counts and the card
            row["_shard"] = shard.path.name
            if assessment is not None:
                row["ugda_outcome"] = assessment.score(row["sample_id"]).outcome
            rows.append(row)

    if assessment is not None:
        check_covers(assessment, set(seen))

    # From the released rows' own image bytes (not the input files' sizes): the same rows give the same files.
    bytes_per_row = max(sum(scanned.image_bytes[r["sample_id"]] for r in rows) / max(len(rows), 1), 1.0)
    plan = ReleasePlan(rows, bytes_per_row, max_shard_bytes, min_files_per_split, scanned, groups, configs=configs,
                       excluded=dict(sorted(excluded.items())))
    for spec in configs:
        counts = Counter(row["split"] for row in rows if spec.keeps(row))
        # Empty splits are left out: datasets' Parquet reader fails on a zero-row file ("BatchSize must be
        # greater than 0"), so a split a version has no sample for is simply absent (the card says so).
        plan.config_split_counts[spec.name] = {s: counts[s] for s in split_config.split_names if counts[s]}
    return plan


def _check_unique(generated: GeneratorOutput, seen: dict[str, str], sample_id: str, shard: str) -> None:
    if sample_id in seen:
        raise ReleaseLayoutError(
            f"{generated.root}: sample_id {sample_id!r} appears twice ({seen[sample_id]} and {shard}); ids must be "
            "unique for splits and versions to be stable"
        )
    seen[sample_id] = shard


def _filter_mask(spec: ReleaseConfigSpec, table: pa.Table) -> pa.ChunkedArray | None:
    """Pass 2's twin of ``spec.keeps`` (pass 1): the same rule on a whole table."""
    mask = None
    for column, allowed in spec.where.items():
        keep = pc.is_in(pc.cast(table.column(column), pa.string()), value_set=pa.array(list(allowed), pa.string()))
        mask = keep if mask is None else pc.and_(mask, keep)
    if spec.include_pristine and mask is not None:
        mask = pc.or_(mask, pc.equal(table.column("label"), LABEL_NAMES.index("pristine")))
    return mask


class _SplitWriter:
    """Buffers one split's rows and writes ``<split>-NNNNN-of-MMMMM.parquet`` files of the planned sizes."""

    def __init__(self, folder: Path, split: str, file_rows: list[int], schema: pa.Schema):
        self.folder, self.split, self.schema = folder, split, schema
        self.file_rows = file_rows
        self.total_files = len(file_rows)
        self.expected_rows = sum(file_rows)
        self.buffer: list[pa.Table] = []
        self.buffered = 0
        self.written_files: list[Path] = []
        self.written_rows = 0

    def add(self, table: pa.Table) -> None:
        self.buffer.append(table)
        self.buffered += table.num_rows
        while len(self.written_files) < self.total_files and self.buffered >= self.file_rows[len(self.written_files)]:
            self._flush(self.file_rows[len(self.written_files)])

    def close(self) -> None:
        if self.buffered:
            self._flush(self.buffered)
        if self.written_rows != self.expected_rows or len(self.written_files) != self.total_files:
            raise ReleaseLayoutError(
                f"{self.folder}: split {self.split!r} wrote {self.written_rows} rows in {len(self.written_files)} "
                f"files, planned {self.expected_rows} in {self.total_files} (did the input change during the build?)"
            )

    def _flush(self, n: int) -> None:
        combined = pa.concat_tables(self.buffer)
        head, rest = combined.slice(0, n), combined.slice(n)
        path = self.folder / shard_name(self.split, len(self.written_files), self.total_files)
        pq.write_table(head.combine_chunks(), path, row_group_size=ROW_GROUP_SIZE)
        self.written_files.append(path)
        self.written_rows += n
        self.buffer = [rest] if rest.num_rows else []
        self.buffered = rest.num_rows


def write_data_files(
    generated: GeneratorOutput,
    split_config: SplitConfig,
    plan: ReleasePlan,
    dest: Path,
    assessment: ReleaseAssessment | None = None,
) -> dict[str, dict[str, list[str]]]:
    """Pass 2. Returns {config: {split: [relative file paths]}}."""
    # Carries the "huggingface" metadata: load_dataset gets the release's features back exactly.
    schema = release_features(assessment is not None).arrow_schema
    split_of = {row["sample_id"]: row["split"] for row in plan.rows}
    layout: dict[str, dict[str, list[str]]] = {}
    for spec in plan.configs:
        folder = dest / "data" / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        counts = plan.config_split_counts[spec.name]
        writers = {s: _SplitWriter(folder, s, plan.files_for(n), schema) for s, n in counts.items()}
        for shard in tqdm(generated.shards, desc=f"release: writing config {spec.name}", unit="shard"):
            table = pq.read_table(shard.path, columns=COLUMNS)
            try:
                table = table.cast(FEATURES.arrow_schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise ReleaseLayoutError(
                    f"{shard.path}: columns do not match inpaintbench.schema.FEATURES ({exc})"
                ) from None
            if assessment is not None:
                for name, values in assessment.columns(table.column("sample_id").to_pylist()).items():
                    table = table.append_column(name, values)
                table = table.cast(schema)
            mask = _filter_mask(spec, table)
            if mask is not None:
                table = table.filter(mask)
            # Excluded rows have no split (null): pc.equal gives null for them and filter drops them.
            splits = pa.array([split_of.get(i) for i in table.column("sample_id").to_pylist()], pa.string())
            for split, writer in writers.items():
                part = table.filter(pc.equal(splits, split))
                if part.num_rows:
                    writer.add(part)
        layout[spec.name] = {}
        for split, writer in writers.items():
            writer.close()
            layout[spec.name][split] = [p.relative_to(dest).as_posix() for p in writer.written_files]
    return layout


def count_by(rows: list[dict[str, Any]], column: str) -> dict[str, dict[str, int]]:
    """{value: {split: n, ..., "total": n}}, values sorted by total (descending) then name."""
    table: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        value = str(row[column])
        table[value][row["split"]] += 1
        table[value]["total"] += 1
    return {v: dict(c) for v, c in sorted(table.items(), key=lambda kv: (-kv[1]["total"], kv[0]))}


def release_summary(
    generated: GeneratorOutput, split_config: SplitConfig, plan: ReleasePlan, layout, version: str, repo_id: str | None,
    assessment: ReleaseAssessment | None = None,
) -> dict[str, Any]:
    rows = plan.rows
    in_domain_photos = {(r["source"], r["source_image_id"]) for r in rows if r["split"] in split_config.fractions}
    ood_splits = [o.split for o in split_config.out_of_domain]
    manifest = generated.manifest
    summary = {
        "format": RELEASE_FORMAT,
        "format_version": RELEASE_FORMAT_VERSION,
        "version": version,
        "repo_id": repo_id,
        "generator": {
            "inpaintbench_version": manifest.get("inpaintbench_version"),
            "config_hash": manifest.get("config_hash"),
            "seed": manifest.get("seed"),
            "manifest_sha256": generated.manifest_sha256,
            **_skipped(manifest),
        },
        "split_config": {
            "file": Path(split_config.source_file).name,
            "digest": split_config.digest,
            "salt": split_config.salt,
            "fractions": dict(split_config.fractions),
            "out_of_domain": [
                {"split": o.split, "backends": list(o.backends), "sources": list(o.sources)}
                for o in split_config.out_of_domain
            ],
        },
        "configs": {
            spec.name: {
                "description": spec.description,
                "where": {k: list(v) for k, v in spec.where.items()},
                **({"include_pristine": True} if spec.include_pristine else {}),
                "splits": {
                    s: {"num_samples": n, "files": layout[spec.name][s]}
                    for s, n in plan.config_split_counts[spec.name].items()
                },
            }
            for spec in plan.configs
        },
        "num_samples": len(rows),
        "num_source_photos": len({(r["source"], r["source_image_id"]) for r in rows}),
        "counts": {
            "split": {
                s: c
                for s, c in sorted(
                    count_by(rows, "split").items(), key=lambda kv: split_config.split_names.index(kv[0])
                )
            },
            **{
                column: count_by(rows, column)
                for column in ("label", "backend", "source", "category", "strategy", "action", "mask_variant")
            },
        },
        # Out-of-domain samples whose photo also appears in an in-domain split: the generator is unseen, the photo
        # may not be. The card states this number so OOD results are read for what they are.
        # Held-out backends' edits of train photos, left out so that no test split shares a photo with train.
        "excluded_ood_samples_on_train_photos": dict(plan.excluded),
        "ood_samples_with_in_domain_photo": {
            split: sum(
                1 for r in rows if r["split"] == split and (r["source"], r["source_image_id"]) in in_domain_photos
            )
            for split in ood_splits
        },
    }
    summary["features"] = release_features(assessment is not None).to_dict()
    summary["image_sizes"] = image_sizes(rows)
    summary["duplicates"] = plan.groups.summary()
    summary["index"] = {"path": INDEX_PATH, "num_samples": len(rows)}
    if assessment is not None:  # absent (not null) without assessments: such a release.json is unchanged
        by_split = deceiving_shares(rows, "split")
        summary["assessment"] = {
            **assessment.record(),
            "share_deceived": {
                "overall": deceiving_shares(rows, "label").get("inpainted"),
                "by_backend": deceiving_shares(rows, "backend"),
                "by_split": {s: by_split[s] for s in split_config.split_names if s in by_split},
            },
        }
    return summary


def build_options(max_shard_bytes: int, min_files_per_split: int, allow_shortcut: str | None) -> dict[str, Any]:
    """What, besides the inputs, decides a release's bytes: a staged release built with others is rebuilt."""
    return {
        "max_shard_bytes": max_shard_bytes,
        "min_files_per_split": min_files_per_split,
        "allow_shortcut": allow_shortcut,
    }


def image_sizes(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Range and frequency of image sizes: what a DataLoader user must know before batching."""
    sizes = Counter(f"{r['width']}x{r['height']}" for r in rows)
    widths, heights = [r["width"] for r in rows] or [0], [r["height"] for r in rows] or [0]
    return {
        "width": {"min": min(widths), "max": max(widths)},
        "height": {"min": min(heights), "max": max(heights)},
        "sizes": dict(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def example_row(dest: Path, layout: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """The non-image columns of the first row of the default config's first split (the card shows it)."""
    first_split = next(iter(layout["default"].values()))
    table = pq.read_table(dest / first_split[0]).slice(0, 1)
    row = {k: v for k, v in table.to_pylist()[0].items() if k not in EXAMPLE_ROW_SKIPS}
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}  # JSON has no NaN


def split_bytes(dest: Path, summary: dict[str, Any]) -> None:
    """Each split's ``num_bytes``: the size of its Parquet files (the card's dataset_info needs it)."""
    for config in summary["configs"].values():
        for split in config["splits"].values():
            split["num_bytes"] = sum((dest / f).stat().st_size for f in split["files"])


def _skipped(manifest: dict[str, Any]) -> dict[str, Any]:
    """Skip counts from either manifest shape: {total, by_reason, ...} (builder.manifest) or a plain list."""
    skipped = manifest.get("skipped") or []
    if isinstance(skipped, dict):
        return {"skipped": int(skipped.get("total", 0)), "skipped_by_reason": dict(skipped.get("by_reason") or {})}
    return {"skipped": len(skipped), "skipped_by_reason": dict(manifest.get("skipped_by_reason") or {})}


def file_table(dest: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and p.name != RELEASE_SUMMARY_NAME):
        out[path.relative_to(dest).as_posix()] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def build_release(
    generated: GeneratorOutput,
    split_config: SplitConfig,
    dest: str | Path,
    version: str,
    repo_id: str | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    assessment: ReleaseAssessment | None = None,
    min_files_per_split: int = MIN_FILES_PER_SPLIT,
    replace: bool = False,
    allow_shortcut: str | None = None,
) -> dict[str, Any]:
    """Write the release folder ``dest`` (which must not exist, or be empty, unless ``replace``: then the release
    there is swapped for the new one once it is complete). Returns the release summary.
    With ``assessment``, every sample gets its deceptiveness columns and the ``deceiving`` config is added.
    The file-level shortcut audit (``audit``) runs on the written files; a config above its bound stops the build
    unless ``allow_shortcut`` gives the reason to release anyway (recorded in release.json and the card)."""
    from .audit import ShortcutAuditError, audit_release_files, check_audit
    from .card import write_card  # card imports matplotlib: only when a release is really written

    dest = Path(dest)
    if not replace and dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ReleaseLayoutError(f"{dest}: exists and is not an empty folder; refusing to write a release over it")
    try:
        remove_stale(dest)
    except StagingError as exc:
        raise ReleaseLayoutError(str(exc)) from None
    licenses_missing = sorted({s for s in _sources(generated)} - set(split_config.licenses))
    if licenses_missing:
        raise ReleaseLayoutError(
            f"{split_config.source_file}: no license stated for source(s) {licenses_missing}; add them under 'licenses'"
        )
    plan = plan_release(generated, split_config, max_shard_bytes, assessment, min_files_per_split)
    with terminations_as_exit():  # a SIGTERM mid-build removes the partial folder like Ctrl-C does
        staging = partial_dir(dest)
        staging.mkdir(parents=True)
        try:
            layout = write_data_files(generated, split_config, plan, staging, assessment)
            summary = release_summary(generated, split_config, plan, layout, version, repo_id, assessment)
            files_by_config = {
                name: [staging / f for files in splits.values() for f in files] for name, splits in layout.items()
            }
            try:
                summary["shortcut_audit"] = check_audit(audit_release_files(files_by_config), allow_shortcut)
            except ShortcutAuditError as exc:
                raise ReleaseLayoutError(
                    f"{generated.root}: {exc} Fix the generator output, or publish with --allow-shortcut \"REASON\""
                ) from None
            configs_of = {
                row["sample_id"]: [spec.name for spec in plan.configs if spec.keeps(row)] for row in plan.rows
            }
            write_index(index_table(plan.rows, configs_of, plan.scanned.pixels), staging)
            split_bytes(staging, summary)
            summary["example_row"] = example_row(staging, layout)
            summary["build_options"] = build_options(max_shard_bytes, min_files_per_split, allow_shortcut)
            write_card(staging, summary, split_config)
            summary["files"] = file_table(staging)
            (staging / RELEASE_SUMMARY_NAME).write_text(
                json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
            move_into_place(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return summary


def _sources(generated: GeneratorOutput) -> set[str]:
    found: set[str] = set()
    for shard in generated.shards:
        found.update(pq.read_table(shard.path, columns=["source"]).column("source").to_pylist())
    return found
