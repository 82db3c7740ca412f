"""One results JSON per evaluation run: what was scored (data identity), by what (detector), how (config and
conventions), and the numbers. Written atomically (``inpaintbench.atomic_io.atomic_write_json``), so a results
file exists complete or not at all."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS_FORMAT = "inpaintbench-results"
RESULTS_FORMAT_VERSION = 2  # 2: exact-histogram metrics, pristine false alarms, isolation


class ResultsError(ValueError):
    pass


def read_results(path: str | Path) -> dict:
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read results JSON ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != RESULTS_FORMAT:
        raise ResultsError(f"{path}: not an InpaintBench results file (no \"format\": \"{RESULTS_FORMAT}\")")
    for key in ("detector", "dataset", "metrics", "conventions"):
        if key not in payload:
            raise ResultsError(f"{path}: results file lacks {key!r}")
    return payload


def default_results_name(detector_name: str, identity: dict) -> str:
    """``<detector>__<version>[__config__split][__perturbation]``; clean runs keep the name they always had."""
    parts = [detector_name, identity.get("version") or "unversioned"]
    if identity.get("config"):
        parts.append(identity["config"])
    if identity.get("split"):
        parts.append(identity["split"])
    perturbation = identity.get("perturbation")
    if perturbation and perturbation != "none":
        from inpaintbench.harness.perturbations import spec_slug

        parts.append(spec_slug(perturbation))
    safe = "__".join("".join(c if c.isalnum() or c in "-_." else "_" for c in str(p)) for p in parts)
    return f"{safe}.json"
