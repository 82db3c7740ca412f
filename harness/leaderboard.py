"""Merge results JSONs into a leaderboard: CSV + Markdown + JSON, and ``load_leaderboard`` for the Space.

Two tables: ``wide`` (one row per results file: detector x dataset, headline metrics and their 95% intervals)
and ``by_backend`` (long: one row per detector and backend, "all" included), the shape the Space pivots.
Results scored under different conventions versions are refused, never mixed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from inpaintbench.harness.results import ResultsError, read_results, write_json_atomic
from inpaintbench.harness.scoring import HEADLINE_METRICS

ID_COLUMNS = ("detector", "dataset_version", "config", "split")
LEADERBOARD_FILES = ("leaderboard.csv", "leaderboard.md", "leaderboard.json", "leaderboard_by_backend.csv")


class LeaderboardError(ValueError):
    pass


def _is_results_candidate(path: Path) -> bool:
    return path.suffix == ".json" and path.name not in LEADERBOARD_FILES and not path.name.endswith(".problems.json")


def find_results(paths) -> list[Path]:
    found: list[Path] = []
    for raw in [paths] if isinstance(paths, (str, Path)) else paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.json") if _is_results_candidate(p))
        elif path.is_file():
            found.append(path)
        else:
            raise LeaderboardError(f"{path}: no such file or directory")
    if not found:
        raise LeaderboardError(f"no results JSON under {', '.join(map(str, [paths] if isinstance(paths, (str, Path)) else paths))}")
    return found


def _identity(results: dict) -> dict:
    dataset = results["dataset"]
    return {
        "detector": results["detector"].get("name") or results["detector"].get("spec"),
        "dataset_version": dataset.get("version"),
        "config": dataset.get("config") or "",
        "split": dataset.get("split") or "",
    }


def build_tables(files: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    wide_rows, long_rows, seen, versions = [], [], {}, {}
    for path in files:
        try:
            results = read_results(path)
        except ResultsError as exc:
            raise LeaderboardError(str(exc)) from None
        ident = _identity(results)
        key = tuple(ident[c] for c in ID_COLUMNS)
        if key in seen:
            raise LeaderboardError(f"{path} and {seen[key]} score the same detector on the same data {key}; keep one")
        seen[key] = path
        versions.setdefault(str(results["conventions"].get("version")), []).append(path.name)
        metrics = results["metrics"]
        overall = (results.get("intervals") or {}).get("overall") or {}
        row = {**ident, "n_images": metrics.get("n_images"), "failures": (results.get("failures") or {}).get("count", 0)}
        for m in HEADLINE_METRICS:
            row[m] = metrics.get(m)
            ci = overall.get(m)
            row[f"{m}_ci"] = f"[{ci['low']:.3f}, {ci['high']:.3f}]" if ci else ""
        for part in ("in_domain", "out_of_domain"):
            domain = (results.get("domain") or {}).get(part) or {}
            row[f"pixel_f1_mean_{part}"] = domain.get("pixel_f1_mean")
        row["manifest_sha256"] = results["dataset"].get("manifest_sha256") or ""
        row["results_file"] = path.name
        wide_rows.append(row)
        long_rows.append({**ident, "backend": "all", **{m: metrics.get(m) for m in HEADLINE_METRICS}})
        for backend, values in ((results.get("breakdowns") or {}).get("backend") or {}).items():
            long_rows.append({**ident, "backend": backend, **{m: values.get(m) for m in HEADLINE_METRICS}})
    if len(versions) > 1:
        raise LeaderboardError(f"results use different conventions versions, not comparable: {versions}")
    wide = pd.DataFrame(wide_rows)
    long = pd.DataFrame(long_rows)
    for frame in (wide, long):
        for m in HEADLINE_METRICS:
            frame[m] = pd.to_numeric(frame[m], errors="coerce")
    return wide, long


def sort_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    if metric not in frame.columns:
        raise LeaderboardError(f"cannot sort by {metric!r}; columns: {list(frame.columns)}")
    return frame.sort_values([metric, "detector"], ascending=[False, True], na_position="last").reset_index(drop=True)


def to_markdown(frame: pd.DataFrame, columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value:.3f}" if isinstance(value, float) else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_leaderboard(paths, out_dir: str | Path, sort_by: str = "pixel_f1_mean") -> dict[str, Path]:
    files = find_results(paths)
    wide, long = build_tables(files)
    wide = sort_table(wide, sort_by)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    written["csv"] = out / "leaderboard.csv"
    wide.to_csv(written["csv"], index=False)
    written["by_backend_csv"] = out / "leaderboard_by_backend.csv"
    long.to_csv(written["by_backend_csv"], index=False)
    shown = list(ID_COLUMNS) + ["n_images"] + [c for m in HEADLINE_METRICS for c in (m, f"{m}_ci")]
    intro = (f"Sorted by {sort_by}. Intervals: 95% bootstrap over images. Conventions: docs/evaluation.md.\n\n")
    written["md"] = out / "leaderboard.md"
    written["md"].write_text("# InpaintBench leaderboard\n\n" + intro + to_markdown(wide, shown), encoding="utf-8")
    payload = {
        "sorted_by": sort_by,
        "sources": [p.name for p in files],
        "columns": {"wide": list(wide.columns), "long": list(long.columns)},  # JSON objects lose column order
        "leaderboard": json.loads(wide.to_json(orient="records")),
        "by_backend": json.loads(long.to_json(orient="records")),
    }
    written["json"] = write_json_atomic(payload, out / "leaderboard.json")
    return written


def load_leaderboard(path: str | Path, shape: str = "long") -> pd.DataFrame:
    """A leaderboard as a DataFrame. ``path``: a leaderboard.json, a CSV, a results JSON, or a directory of
    results. ``shape="long"`` (default): one row per detector and backend ("all" included), the Space's shape;
    ``"wide"``: one row per results file."""
    if shape not in ("long", "wide"):
        raise ValueError(f"shape must be 'long' or 'wide', got {shape!r}")
    path = Path(path)
    if path.is_file() and path.suffix == ".csv":
        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise LeaderboardError(f"{path}: cannot read CSV ({exc})") from None
    if path.is_file() and path.name == "leaderboard.json":
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            frame = pd.DataFrame(payload["by_backend" if shape == "long" else "leaderboard"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LeaderboardError(f"{path}: not a leaderboard.json ({exc})") from None
        order = payload.get("columns", {}).get(shape) or list(frame.columns)
        return frame[[c for c in order if c in frame.columns]]
    if path.is_dir() and (path / "leaderboard.json").is_file() and not any(
        _is_results_candidate(p) for p in path.rglob("*.json")
    ):
        return load_leaderboard(path / "leaderboard.json", shape)
    wide, long = build_tables(find_results(path))
    return long if shape == "long" else sort_table(wide, "pixel_f1_mean")
