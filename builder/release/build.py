"""Build a release folder, or reuse one already built from the same inputs and options.

Publishing re-runs after an interruption must not rebuild what is already on disk: a folder whose
``release.json`` says it was built from the same manifest, split config, assessments, version, repo and build
options, by the same release format, and whose files still match their recorded sha256, is reused as is.
A release folder built from anything else (other options, inputs or format, or damaged) is rebuilt and swapped
in whole (``staging``). A folder that is not a release is never touched: that is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inpaintbench.digests import sha256_file
from inpaintbench.folders import ReleaseFolderError, read_release_summary

from .assessments import load_assessment
from .inputs import load_generator_output
from .layout import (
    DEFAULT_MAX_SHARD_BYTES,
    MIN_FILES_PER_SPLIT,
    RELEASE_FORMAT,
    RELEASE_FORMAT_VERSION,
    ReleaseLayoutError,
    build_options,
    build_release,
)
from .splits import SplitConfig


def default_staging_dir(out_dir: str | Path, version: str, repo_id: str | None) -> Path:
    """``<out>/release/<org>__<name>/v<version>``: one staged folder per repo and version (cards name the repo)."""
    return Path(out_dir) / "release" / (repo_id or "local").replace("/", "__") / f"v{version}"


def _staged_summary(dest: Path) -> dict[str, Any] | None:
    """The release.json of a release folder this tool wrote, or None for anything else."""
    try:
        summary = read_release_summary(dest)
    except ReleaseFolderError:
        return None
    return summary if isinstance(summary, dict) and summary.get("format") == RELEASE_FORMAT else None


def _reusable(summary: dict[str, Any], dest: Path, expected: dict[str, Any]) -> bool:
    actual = {
        "format_version": summary.get("format_version"),
        "version": summary.get("version"),
        "repo_id": summary.get("repo_id"),
        "manifest_sha256": summary.get("generator", {}).get("manifest_sha256"),
        "split_digest": summary.get("split_config", {}).get("digest"),
        "assessment": _assessment_identity(summary.get("assessment")),
        "build_options": summary.get("build_options"),
    }
    if actual != expected:
        return False
    for rel, meta in summary.get("files", {}).items():
        path = dest / rel
        if not path.is_file() or path.stat().st_size != meta["bytes"] or sha256_file(path) != meta["sha256"]:
            return False
    return True


def _assessment_identity(record: dict[str, Any] | None) -> tuple[str, str] | None:
    return None if record is None else (record.get("judge_key"), record.get("sidecar_sha256"))


def prepare_release(
    out_dir: str | Path,
    split_config: SplitConfig,
    version: str,
    repo_id: str | None,
    dest: str | Path | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    assessment_key: str | None = None,
    min_files_per_split: int = MIN_FILES_PER_SPLIT,
    allow_shortcut: str | None = None,
) -> tuple[Path, dict[str, Any], bool]:
    """Returns (release folder, summary, reused?). ``assessment_key`` picks the judge setup of the output dir's
    ``assessments/deceptiveness.parquet`` (needed only when it holds several)."""
    generated = load_generator_output(out_dir)
    assessment = load_assessment(out_dir, assessment_key)
    dest = Path(dest) if dest is not None else default_staging_dir(out_dir, version, repo_id)
    expected = {
        "format_version": RELEASE_FORMAT_VERSION,
        "version": version,
        "repo_id": repo_id,
        "manifest_sha256": generated.manifest_sha256,
        "split_digest": split_config.digest,
        "assessment": None if assessment is None else (assessment.judge_key, assessment.file_sha256),
        "build_options": build_options(max_shard_bytes, min_files_per_split, allow_shortcut),
    }
    replace = False
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        summary = _staged_summary(dest) if dest.is_dir() else None
        if summary is None:
            raise ReleaseLayoutError(
                f"{dest}: exists and is not a release folder written by inpaintbench publish; it is left untouched. "
                "Remove it, or write elsewhere with --to."
            )
        if _reusable(summary, dest, expected):
            return dest, summary, True
        replace = True  # ours, but built from other inputs or options, or damaged: rebuilt and swapped in whole
    summary = build_release(
        generated, split_config, dest, version, repo_id, max_shard_bytes, assessment, min_files_per_split,
        replace=replace, allow_shortcut=allow_shortcut,
    )
    return dest, summary, False
