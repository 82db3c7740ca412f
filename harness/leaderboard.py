"""Merge results JSONs into a leaderboard: CSV + Markdown + JSON, and ``load_leaderboard`` for the Space.

Two tables: ``wide`` (one row per results file: detector x dataset x perturbation, headline metrics and their
95% intervals) and ``by_backend`` (long: one row per detector and backend, "all" included), the shape the Space
pivots. A third, ``robustness`` (``leaderboard_robustness.csv/.md``), sets each perturbed result beside the same
detector's clean one on the same data: the metric, the clean metric and the drop. Results files written before
the robustness track have no perturbation field and read as clean (``none``).
Only results scored under the current conventions version, by a detector that ran under OS isolation, are
ranked. The others (older conventions, an unisolated sandbox, a folder of self-reported maps, which nothing
stops from being the ground truth itself) are listed apart with the reason, never ranked among them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from inpaintbench.atomic_io import atomic_write_json
from inpaintbench.harness.conventions import CONVENTIONS_VERSION, METRIC_DEFINITIONS
from inpaintbench.harness.results import ResultsError, read_results
from inpaintbench.harness.scoring import HEADLINE_METRICS

ID_COLUMNS = ("detector", "dataset_version", "config", "split", "perturbation")
DATA_COLUMNS = ID_COLUMNS[:-1]  # a detector on one data identity: its clean row and its perturbed rows
CLEAN = "none"  # perturbations.IDENTITY, without importing OpenCV for a leaderboard
LEADERBOARD_FILES = ("leaderboard.csv", "leaderboard.md", "leaderboard.json", "leaderboard_by_backend.csv",
                     "leaderboard_robustness.csv", "leaderboard_robustness.md")
SHAPES = {"long": "by_backend", "wide": "leaderboard", "robustness": "robustness"}  # shape -> leaderboard.json key
# The robustness Markdown shows these (the CSV has every headline metric): localisation and detection, one each
# of thresholded and threshold-free.
ROBUSTNESS_SHOWN = ("pixel_f1_mean", "pixel_auc_pooled", "image_auc", "balanced_accuracy")


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
        raise LeaderboardError(
            f"no results JSON under {', '.join(map(str, [paths] if isinstance(paths, (str, Path)) else paths))}"
        )
    return found


def _identity(results: dict) -> dict:
    dataset = results["dataset"]
    return {
        "detector": results["detector"].get("name") or results["detector"].get("spec"),
        "dataset_version": dataset.get("version"),
        "config": dataset.get("config") or "",
        "split": dataset.get("split") or "",
        "perturbation": dataset.get("perturbation") or CLEAN,
    }


def rank_status(results: dict) -> tuple[bool, str]:
    """(ranked, reason when not): the rule that keeps incomparable or unverifiable numbers off the ranking."""
    version = str(results["conventions"].get("version"))
    if version != CONVENTIONS_VERSION:
        return False, f"scored under conventions v{version} (current v{CONVENTIONS_VERSION}): rerun to rank"
    isolation = results["detector"].get("isolation") or {}
    if str(results["detector"].get("spec", "")).startswith("folder:") or isolation.get("method") == "folder":
        return False, "self-reported maps (a submission folder): the harness did not run the detector"
    if not isolation.get("isolated"):
        return False, "the detector ran without OS isolation (it could have read the answers)"
    return True, ""


def build_all_tables(files: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(wide, long, robustness) from results files."""
    wide_rows, long_rows, robust_rows, seen = [], [], [], {}
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
        ranked, reason = rank_status(results)
        metrics = results["metrics"]
        overall = (results.get("intervals") or {}).get("overall") or {}
        row = {**ident, "ranked": ranked, "unranked_reason": reason,
               "conventions_version": str(results["conventions"].get("version")),
               "n_images": metrics.get("n_images"), "n_pixel_images": metrics.get("n_pixel_images"),
               "n_pristine_map_images": metrics.get("n_pristine_map_images"),
               "pixel_pooled_exact": metrics.get("pixel_pooled_exact"),
               "failures": (results.get("failures") or {}).get("count", 0)}
        for m in HEADLINE_METRICS:
            row[m] = metrics.get(m)
            ci = overall.get(m)
            row[f"{m}_ci"] = f"[{ci['low']:.3f}, {ci['high']:.3f}]" if ci else ""
            robust_rows.append({**ident, "metric": m, "value": metrics.get(m),
                                "ci_low": ci["low"] if ci else None, "ci_high": ci["high"] if ci else None})
        for part in ("in_domain", "out_of_domain"):
            domain = (results.get("domain") or {}).get(part) or {}
            row[f"pixel_f1_mean_{part}"] = domain.get("pixel_f1_mean")
        row["manifest_sha256"] = results["dataset"].get("manifest_sha256") or ""
        row["results_file"] = path.name
        wide_rows.append(row)
        long_rows.append({**ident, "ranked": ranked, "backend": "all", **{m: metrics.get(m) for m in HEADLINE_METRICS}})
        for backend, values in ((results.get("breakdowns") or {}).get("backend") or {}).items():
            long_rows.append({**ident, "ranked": ranked, "backend": backend,
                              **{m: values.get(m) for m in HEADLINE_METRICS}})
    wide = pd.DataFrame(wide_rows)
    long = pd.DataFrame(long_rows)
    for frame in (wide, long):
        for m in HEADLINE_METRICS:
            frame[m] = pd.to_numeric(frame[m], errors="coerce")
    return wide, long, robustness_table(pd.DataFrame(robust_rows))


def robustness_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per detector, data and metric: every perturbation's value beside the clean value and the drop
    (clean - perturbed: positive = the perturbation hurt). Clean rows are kept (drop 0) so the table stands
    alone; a perturbed result without a clean one on the same data has no drop (NaN), never a guessed one."""
    columns = list(ID_COLUMNS) + ["metric", "value", "ci_low", "ci_high", "clean", "drop"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    for c in ("value", "ci_low", "ci_high"):
        rows[c] = pd.to_numeric(rows[c], errors="coerce")
    keys = list(DATA_COLUMNS) + ["metric"]
    clean = rows[rows["perturbation"] == CLEAN][keys + ["value"]].rename(columns={"value": "clean"})
    merged = rows.merge(clean, on=keys, how="left")
    merged["drop"] = merged["clean"] - merged["value"]
    merged["_metric_order"] = merged["metric"].map({m: i for i, m in enumerate(HEADLINE_METRICS)})
    merged["_perturbed"] = merged["perturbation"] != CLEAN
    merged = merged.sort_values(["_metric_order", *DATA_COLUMNS, "_perturbed", "perturbation"], kind="stable")
    return merged[columns].reset_index(drop=True)


# Metrics where lower is better (false alarms): sorting by one of them puts the lowest first.
LOWER_IS_BETTER = frozenset({"pristine_pixel_fpr_pooled", "pristine_pixel_fpr_mean", "pristine_map_mean",
                             "pristine_images_flagged"})


def sort_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Ranked rows first, then unranked ones; within each, clean rows first (the ranking), then each
    perturbation's rows together; best first within each (highest, or lowest for a false-alarm metric)."""
    if metric not in frame.columns:
        raise LeaderboardError(f"cannot sort by {metric!r}; columns: {list(frame.columns)}")
    best_first = metric not in LOWER_IS_BETTER
    keys, ascending = [metric, "detector"], [not best_first, True]
    extra = {}
    if "perturbation" in frame.columns:
        extra["_perturbed"] = frame["perturbation"] != CLEAN
        keys, ascending = ["_perturbed", "perturbation", *keys], [True, True, *ascending]
    if "ranked" in frame.columns:
        extra["_unranked"] = ~frame["ranked"].astype(bool)
        keys, ascending = ["_unranked", *keys], [True, *ascending]
    return (frame.assign(**extra).sort_values(keys, ascending=ascending, na_position="last", kind="stable")
            .drop(columns=list(extra)).reset_index(drop=True))


def to_markdown(frame: pd.DataFrame, columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value:.3f}" if isinstance(value, float) else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def robustness_markdown(robust: pd.DataFrame, metrics=ROBUSTNESS_SHOWN) -> str:
    """One table per metric: a row per detector and data, the clean value, then each perturbation's value with
    its drop from clean (↓ lower than clean, ↑ higher)."""
    lines = ["# InpaintBench robustness\n",
             "Each perturbed evaluation beside the same detector's clean one on the same data (`--perturb`, "
             "docs/evaluation.md#robustness). ↓d: the metric is d lower than on clean images, ↑d: higher. "
             "Every headline metric, with 95% bootstrap intervals, is in leaderboard_robustness.csv.\n"]
    perturbed = robust[robust["perturbation"] != CLEAN] if not robust.empty else robust
    if perturbed.empty:
        lines.append("No perturbed results yet (`inpaintbench evaluate ... --perturb jpeg:75`).\n")
        return "\n".join(lines)
    specs = sorted(set(perturbed["perturbation"]))
    for metric in metrics:
        part = robust[robust["metric"] == metric]
        if part.empty:
            continue
        rows = []
        for key, group in part.groupby(list(DATA_COLUMNS), sort=True, dropna=False):
            row = dict(zip(DATA_COLUMNS, key, strict=True))
            by_spec = {r.perturbation: r for r in group.itertuples()}
            clean = by_spec.get(CLEAN)
            row["clean"] = _fmt(clean.value) if clean is not None else "–"
            for spec in specs:
                r = by_spec.get(spec)
                row[spec] = "–" if r is None else _fmt(r.value) + _fmt_drop(r.drop)
            rows.append(row)
        lines.append(f"## {metric}\n")
        lines.append(to_markdown(pd.DataFrame(rows), list(DATA_COLUMNS) + ["clean"] + specs))
    return "\n".join(lines)


def _fmt(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.3f}"


def _fmt_drop(drop) -> str:
    if drop is None or pd.isna(drop):
        return ""
    return f" ↓{drop:.3f}" if drop > 0 else (f" ↑{-drop:.3f}" if drop < 0 else " ±0")


DATA_KEYS = tuple(c for c in ID_COLUMNS if c not in ("detector", "perturbation"))  # which data a row scored


def _ranked_by_data(frame: pd.DataFrame, shown: list[str]) -> str:
    """One ranking per data set (version, config, split): numbers on 2 test images and on 29 images of a whole
    build are not one ranking. Largest data first; one table without a heading when there is only one."""
    keys = [k for k in DATA_KEYS if k in frame.columns]
    if frame.empty or not keys:
        return to_markdown(frame, shown)
    groups = list(frame.groupby(keys, sort=False, dropna=False))
    if len(groups) == 1:
        return to_markdown(frame, shown)
    groups.sort(key=lambda kv: (-int(kv[1]["n_images"].max()), str(kv[0])))
    parts = []
    for key, group in groups:
        name = " / ".join(str(v) for v in key if isinstance(v, str) and v)
        parts.append(f"### Data: {name} ({int(group['n_images'].max())} images)\n\n" + to_markdown(group, shown))
    return "\n".join(parts)


def write_leaderboard(paths, out_dir: str | Path, sort_by: str = "pixel_f1_mean",
                      robustness_plot: str | Path | None = None) -> dict[str, Path]:
    files = find_results(paths)
    wide, long, robust = build_all_tables(files)
    wide = sort_table(wide, sort_by)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    written["csv"] = out / "leaderboard.csv"
    wide.to_csv(written["csv"], index=False)
    written["by_backend_csv"] = out / "leaderboard_by_backend.csv"
    long.to_csv(written["by_backend_csv"], index=False)
    written["robustness_csv"] = out / "leaderboard_robustness.csv"
    robust.to_csv(written["robustness_csv"], index=False)
    shown = list(ID_COLUMNS) + ["n_images"] + [c for m in HEADLINE_METRICS for c in (m, f"{m}_ci")]
    intro = (f"Sorted by {sort_by}. Intervals: 95% bootstrap over images. Conventions v{CONVENTIONS_VERSION} and "
             "metric definitions: docs/evaluation.md. Only detectors that ran in the OS sandbox under the current "
             "conventions are ranked; the others are listed below the ranking with the reason.\n\n")
    ranked = wide["ranked"].astype(bool) if "ranked" in wide.columns else pd.Series(True, index=wide.index)
    clean = wide["perturbation"] == CLEAN
    body = _ranked_by_data(wide[clean & ranked], shown)
    if (~clean & ranked).any():  # perturbed rows below the clean ranking, never ranked among it
        body += ("\n## Under perturbation\n\nThe same detectors on post-processed images (`--perturb`); clean vs "
                 "perturbed side by side: leaderboard_robustness.md.\n\n" + to_markdown(wide[~clean & ranked], shown))
    if (~ranked).any():
        body += ("\n## Not ranked\n\nThese numbers are not comparable with the ranking above, for the reason "
                 "given.\n\n" + to_markdown(wide[~ranked], list(ID_COLUMNS) + ["unranked_reason", "n_images"]
                                             + list(HEADLINE_METRICS)))
    body += "\n## Metrics\n\n" + "\n".join(f"- `{m}`: {METRIC_DEFINITIONS[m]}" for m in HEADLINE_METRICS
                                           if m in METRIC_DEFINITIONS) + "\n"
    written["md"] = out / "leaderboard.md"
    written["md"].write_text("# InpaintBench leaderboard\n\n" + intro + body, encoding="utf-8")
    written["robustness_md"] = out / "leaderboard_robustness.md"
    written["robustness_md"].write_text(robustness_markdown(robust), encoding="utf-8")
    payload = {
        "sorted_by": sort_by,
        "sources": [p.name for p in files],
        # JSON objects lose column order
        "columns": {"wide": list(wide.columns), "long": list(long.columns), "robustness": list(robust.columns)},
        "leaderboard": json.loads(wide.to_json(orient="records")),
        "by_backend": json.loads(long.to_json(orient="records")),
        "robustness": json.loads(robust.to_json(orient="records")),
    }
    written["json"] = atomic_write_json(out / "leaderboard.json", payload)
    if robustness_plot is not None:
        from inpaintbench.harness.robustness_plot import plot_robustness

        written["robustness_plot"] = plot_robustness(robust, robustness_plot)
    return written


def load_leaderboard(path: str | Path, shape: str = "long") -> pd.DataFrame:
    """A leaderboard as a DataFrame. ``path``: a leaderboard.json, a CSV, a results JSON, or a directory of
    results. ``shape="long"`` (default): one row per detector and backend ("all" included), the Space's shape;
    ``"wide"``: one row per results file; ``"robustness"``: one row per results file and headline metric, with
    the clean value and the drop."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    path = Path(path)
    if path.is_file() and path.suffix == ".csv":
        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise LeaderboardError(f"{path}: cannot read CSV ({exc})") from None
    if path.is_file() and path.name == "leaderboard.json":
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if shape == "robustness" and isinstance(payload, dict) and "leaderboard" in payload \
                    and "robustness" not in payload:
                raise LeaderboardError(f"{path}: written before the robustness track (no 'robustness' table); "
                                       "rebuild it with inpaintbench leaderboard, or pass the results folder")
            frame = pd.DataFrame(payload[SHAPES[shape]])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, LeaderboardError):
                raise
            raise LeaderboardError(f"{path}: not a leaderboard.json ({exc})") from None
        order = payload.get("columns", {}).get(shape) or list(frame.columns)
        return frame[[c for c in order if c in frame.columns]]
    if path.is_dir() and (path / "leaderboard.json").is_file() and not any(
        _is_results_candidate(p) for p in path.rglob("*.json")
    ):
        return load_leaderboard(path / "leaderboard.json", shape)
    wide, long, robust = build_all_tables(find_results(path))
    return {"long": long, "wide": sort_table(wide, "pixel_f1_mean"), "robustness": robust}[shape]
