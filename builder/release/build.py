"""Build a release folder, or reuse one already built from the same inputs.

Publishing re-runs after an interruption must not rebuild (or worse, silently replace) what is on disk: a
folder whose ``release.json`` says it was built from the same manifest, split config, version and repo, and
whose files still match their recorded sha256, is reused as is. Anything else in the way is an error.
The deceptiveness assessments (judge setup and sidecar sha256) are inputs too: a release staged from other
assessments, or without them, is never reused for this one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .assessments import load_assessment
from ..shards import sha256_file
from .inputs import load_generator_output
from .layout import DEFAULT_MAX_SHARD_BYTES, RELEASE_SUMMARY_NAME, ReleaseLayoutError, build_release
from .splits import SplitConfig


def default_staging_dir(out_dir: str | Path, version: str, repo_id: str | None) -> Path:
    """``<out>/release/<org>__<name>/v<version>``: one staged folder per repo and version (cards name the repo)."""
    return Path(out_dir) / "release" / (repo_id or "local").replace("/", "__") / f"v{version}"


def _reusable(dest: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    summary_path = dest / RELEASE_SUMMARY_NAME
    if not summary_path.is_file():
        return None
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    actual = {
        "version": summary.get("version"),
        "repo_id": summary.get("repo_id"),
        "manifest_sha256": summary.get("generator", {}).get("manifest_sha256"),
        "split_digest": summary.get("split_config", {}).get("digest"),
        "assessment": _assessment_identity(summary.get("assessment")),
    }
    if actual != expected:
        return None
    for rel, meta in summary.get("files", {}).items():
        path = dest / rel
        if not path.is_file() or path.stat().st_size != meta["bytes"] or sha256_file(path) != meta["sha256"]:
            return None
    return summary


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
) -> tuple[Path, dict[str, Any], bool]:
    """Returns (release folder, summary, reused?). ``assessment_key`` picks the judge setup of the output dir's
    ``assessments/deceptiveness.parquet`` (needed only when it holds several)."""
    generated = load_generator_output(out_dir)
    assessment = load_assessment(out_dir, assessment_key)
    dest = Path(dest) if dest is not None else default_staging_dir(out_dir, version, repo_id)
    expected = {
        "version": version,
        "repo_id": repo_id,
        "manifest_sha256": generated.manifest_sha256,
        "split_digest": split_config.digest,
        "assessment": None if assessment is None else (assessment.judge_key, assessment.sidecar_sha256),
    }
    if dest.exists() and dest.is_dir() and any(dest.iterdir()):
        summary = _reusable(dest, expected)
        if summary is None:
            raise ReleaseLayoutError(
                f"{dest}: holds a different or damaged release (other inputs, assessments, version or repo); it is left untouched. "
                "Remove it, or write elsewhere with --to."
            )
        return dest, summary, True
    return dest, build_release(generated, split_config, dest, version, repo_id, max_shard_bytes, assessment), False
