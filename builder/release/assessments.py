"""Deceptiveness scores (UGDA, ``inpaintbench assess``) carried into a release.

The generator output dir may hold ``assessments/deceptiveness.parquet`` (one row per sample and judge setup,
see builder/deceptiveness/runner.py). A release picks ONE judge setup (``judge_key``) and adds four columns to
every sample, defined once (``inpaintbench.schema.ASSESSMENT_FEATURES``), so the release writer, the card and the
builder class cannot disagree on them:

- ``deceptiveness``: the Beta posterior mean of the sample's deceptiveness (NaN: pristine, or not assessed);
- ``deceptiveness_ci_low`` / ``deceptiveness_ci_high``: its 95% interval (NaN likewise);
- ``ugda_outcome``: the majority outcome, as in the assessments file ("n/a" for pristine; "" when not assessed).

``schema.FEATURES`` is untouched: a release without assessments has exactly its columns, byte for byte as before.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

# builder.deceptiveness.runner's ASSESSMENTS_DIR/ASSESSMENTS_NAME. release.json names it under the key "sidecar" and
# its digest "sidecar_sha256": keys of a published format, kept.
ASSESSMENTS_FILE = "assessments/deceptiveness.parquet"
DECEIVING_CONFIG = "deceiving"
DECEIVING_CONFIG_DESCRIPTION = (
    "inpainted samples whose majority UGDA outcome is deceiving or uncertain (SAGI's filter), and all pristine photos"
)
# The paper counts an inconsistent (uncertain) verdict as deceiving: both pass its filter.
DECEIVED_OUTCOMES = ("deceiving", "uncertain")
NOT_JUDGED = ("", "n/a", "invalid")  # no verdict: unassessed, pristine, or every trial invalid



class AssessmentError(ValueError):
    """The assessments cannot be released; the message names the assessments file and the problem."""


@dataclass(frozen=True)
class SampleScore:
    deceptiveness: float
    ci_low: float
    ci_high: float
    outcome: str


UNASSESSED = SampleScore(math.nan, math.nan, math.nan, "")


@dataclass(frozen=True)
class ReleaseAssessment:
    """One judge setup's scores, read from an assessments file, plus what identifies it in release.json and the card."""

    assessments_file: Path
    file_sha256: str
    judge: str
    judge_key: str
    judge_config: dict[str, Any]  # {"judge": describe(), "trials": K, "seed": seed}
    scores: dict[str, SampleScore]

    def score(self, sample_id: str) -> SampleScore:
        return self.scores.get(sample_id, UNASSESSED)

    def record(self) -> dict[str, Any]:
        """The judge setup as release.json stores it (and the staging reuse check compares)."""
        return {
            "judge": self.judge,
            "params": self.judge_config.get("judge", {}),
            "trials": self.judge_config.get("trials"),
            "seed": self.judge_config.get("seed"),
            "judge_key": self.judge_key,
            "sidecar": ASSESSMENTS_FILE,
            "sidecar_sha256": self.file_sha256,
        }

    def columns(self, sample_ids: Iterable[str]) -> dict[str, pa.Array]:
        """The four release columns for ``sample_ids``, in that order."""
        scores = [self.score(i) for i in sample_ids]
        return {
            "deceptiveness": pa.array([s.deceptiveness for s in scores], pa.float32()),
            "deceptiveness_ci_low": pa.array([s.ci_low for s in scores], pa.float32()),
            "deceptiveness_ci_high": pa.array([s.ci_high for s in scores], pa.float32()),
            "ugda_outcome": pa.array([s.outcome for s in scores], pa.string()),
        }


def _setups(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{judge_key: {"judge", "config", "rows"}} in key order."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row["judge_key"], {"judge": row["judge"], "config": row["judge_config"], "rows": []})
        entry["rows"].append(row)
    return dict(sorted(out.items()))


def _describe_setups(setups: dict[str, dict[str, Any]]) -> str:
    parts = []
    for key, entry in setups.items():
        config = json.loads(entry["config"])
        parts.append(f"{key} (judge {entry['judge']}, K={config.get('trials')}, seed {config.get('seed')}, "
                     f"{len(entry['rows'])} rows)")
    return "; ".join(parts)


def load_assessment(run_dir: str | Path, judge_key: str | None = None) -> ReleaseAssessment | None:
    """The chosen judge setup of ``<run_dir>/assessments/deceptiveness.parquet``; None when there is none
    (and no setup was asked for). Several setups and none chosen is an error listing them."""
    from inpaintbench.digests import sha256_file

    from ..deceptiveness.runner import AssessError, read_assessments

    assessments_file = Path(run_dir) / ASSESSMENTS_FILE
    if not assessments_file.is_file():
        if judge_key is not None:
            raise AssessmentError(
                f"{assessments_file}: no assessments to take --assessment {judge_key} from "
                "(run inpaintbench assess first)"
            )
        return None
    try:
        rows = read_assessments(assessments_file)
    except AssessError as exc:
        raise AssessmentError(str(exc)) from None
    setups = _setups(rows)
    if not setups:
        raise AssessmentError(f"{assessments_file}: holds no assessment rows; remove it or run inpaintbench assess")
    if judge_key is None:
        if len(setups) > 1:
            raise AssessmentError(
                f"{assessments_file}: holds {len(setups)} judge setups; choose one with --assessment KEY: "
                f"{_describe_setups(setups)}"
            )
        judge_key = next(iter(setups))
    if judge_key not in setups:
        raise AssessmentError(f"{assessments_file}: no judge setup {judge_key!r}; it holds {_describe_setups(setups)}")
    chosen = setups[judge_key]
    try:
        config = json.loads(chosen["config"])
    except json.JSONDecodeError as exc:
        raise AssessmentError(f"{assessments_file}: judge_config of {judge_key} is not valid JSON ({exc})") from None
    scores = {
        row["sample_id"]: SampleScore(
            _float(row["deceptiveness_mean"]), _float(row["ci_low"]), _float(row["ci_high"]), row["outcome"] or ""
        )
        for row in chosen["rows"]
    }
    return ReleaseAssessment(assessments_file, sha256_file(assessments_file), chosen["judge"], judge_key, config,
                             scores)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def check_covers(assessment: ReleaseAssessment, sample_ids: set[str]) -> None:
    """Scores of samples the release does not hold mean the assessments file was made on another build: refuse it."""
    foreign = sorted(set(assessment.scores) - sample_ids)
    if foreign:
        raise AssessmentError(
            f"{assessment.assessments_file}: judge setup {assessment.judge_key} scores {len(foreign)} sample(s) this "
            f"generator output does not hold (e.g. {foreign[0]}); it was made on another run. Re-run inpaintbench "
            "assess."
        )


def deceiving_shares(rows: list[dict[str, Any]], column: str) -> dict[str, dict[str, Any]]:
    """Per value of ``column`` (inpainted rows only): judged samples, how many deceived, their share (None if
    none judged). ``rows`` are the release plan's rows (label names, ``ugda_outcome``)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["label"] == "inpainted":
            groups[str(row[column])].append(row["ugda_outcome"])
    out = {}
    for value in sorted(groups):
        outcomes = groups[value]
        judged = [o for o in outcomes if o not in NOT_JUDGED]
        deceived = sum(o in DECEIVED_OUTCOMES for o in judged)
        out[value] = {
            "inpainted": len(outcomes),
            "judged": len(judged),
            "deceived": deceived,
            "share_deceived": round(deceived / len(judged), 6) if judged else None,  # None: JSON has no NaN
        }
    return out
