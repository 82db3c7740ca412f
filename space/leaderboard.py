"""The Leaderboard tab's logic: the harness's results as a sortable table with per-backend columns, and a plot.

Results are read by ``inpaintbench.harness.leaderboard.load_leaderboard(path)``, whose default "long" shape has
one row per detector, data identity and backend ("all" included) with the headline metrics as columns. For the
chosen metric the table pivots backends into columns ("all" first, best first); a frame without a ``backend``
column is shown as it is. Results under a perturbation (``inpaintbench evaluate --perturb``: JPEG, resize, ...)
are shown one perturbation at a time, clean images (``none``) by default: mixing them would rank a detector's
laundered run against others' clean ones. (``gradio_leaderboard`` is broken on Gradio 6, so this is a plain ``gr.Dataframe``,
sortable by clicking a header, plus a matplotlib chart.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on a Space; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LEADERBOARD_MODULE = "inpaintbench.harness.leaderboard"
BACKEND = "backend"
PERTURBATION = "perturbation"
CLEAN = "none"  # the harness's perturbation value for unperturbed images
OVERALL = "all"  # the harness's row for all backends together
PREFERRED_METRIC = "pixel_f1_mean"
RANKED = "ranked"


@dataclass
class Leaderboard:
    frame: pd.DataFrame | None
    message: str  # why there is no table, or where it came from

    @property
    def long(self) -> bool:
        return self.frame is not None and BACKEND in self.frame.columns

    def metrics(self) -> list[str]:
        if self.frame is None:
            return []
        names = [c for c in self.frame.columns if c != BACKEND and pd.api.types.is_numeric_dtype(self.frame[c])
                 and not pd.api.types.is_bool_dtype(self.frame[c]) and not c.startswith("n_")]
        return sorted(names, key=lambda c: c != PREFERRED_METRIC)  # the headline metric first, else file order

    def ranked(self) -> "Leaderboard":
        """Only results the harness ranks (current conventions, a sandboxed detector); results files written
        before the ``ranked`` column read as ranked."""
        if self.frame is None or RANKED not in self.frame.columns:
            return self
        keep = self.frame[RANKED].fillna(False).astype(bool)
        return Leaderboard(self.frame[keep].drop(columns=[RANKED]).reset_index(drop=True), self.message)

    def unranked_note(self) -> str:
        if self.frame is None or RANKED not in self.frame.columns:
            return ""
        left_out = self.frame[~self.frame[RANKED].fillna(False).astype(bool)]
        names = sorted(set(left_out["detector"].astype(str))) if "detector" in left_out else []
        if not names:
            return ""
        return (f"Not ranked here ({', '.join(names)}): scored under older conventions, without the OS sandbox, "
                "or self-reported maps; leaderboard.md lists them with the reason.")

    def perturbations(self) -> list[str]:
        """The perturbations results exist for, clean first; empty when the results predate the field."""
        if self.frame is None or PERTURBATION not in self.frame.columns:
            return []
        found = set(self.frame[PERTURBATION].fillna(CLEAN).astype(str))
        return sorted(found, key=lambda p: (p != CLEAN, p))

    def under(self, perturbation: str | None) -> "Leaderboard":
        """The ranked rows of one perturbation (clean by default)."""
        if not self.perturbations():
            return self.ranked()
        chosen = perturbation or CLEAN
        rows = self.frame[self.frame[PERTURBATION].fillna(CLEAN).astype(str) == chosen]
        return Leaderboard(rows.reset_index(drop=True), self.message).ranked()

    def row_keys(self) -> list[str]:
        """What identifies a leaderboard row: the detector and its data identity (every non-metric column)."""
        metrics = set(self.metrics())
        return [c for c in self.frame.columns if c != BACKEND and c not in metrics]


def load(path: str | None, module_name: str = LEADERBOARD_MODULE) -> Leaderboard:
    if not path:
        return Leaderboard(
            None,
            "No leaderboard results configured: set INPAINTBENCH_LEADERBOARD or --leaderboard "
            "(a leaderboard.json, a CSV, or a folder of `inpaintbench evaluate` results).",
        )
    try:
        module = importlib.import_module(module_name)
        loader = module.load_leaderboard
    except (ImportError, AttributeError) as exc:
        return Leaderboard(None, f"The leaderboard needs {module_name}, which cannot be used ({exc}).")
    try:
        frame = loader(path)
    except Exception as exc:  # the harness names the file and the problem; show it rather than crash the Space
        return Leaderboard(None, f"The leaderboard at `{path}` could not be read: {exc}")
    return Leaderboard(frame, f"Results from `{path}`. Pick a metric; click a column header to sort.")


def definitions(metrics: list[str]) -> str:
    """Markdown: what each metric on the board means (harness.conventions.METRIC_DEFINITIONS)."""
    try:
        from inpaintbench.harness.conventions import METRIC_DEFINITIONS
    except ImportError:
        return ""
    lines = [f"- `{m}`: {METRIC_DEFINITIONS[m]}" for m in metrics if m in METRIC_DEFINITIONS]
    return "**Metrics.** Pixel metrics are exact (every distinct map value counted, ties averaged). " \
           "Intervals: 95% bootstrap over images, in the results files.\n\n" + "\n".join(lines) if lines else ""


def _pivot(board: Leaderboard, metric: str) -> pd.DataFrame:
    keys = board.row_keys()
    frame = board.frame.assign(**{k: board.frame[k].fillna("").astype(str) for k in keys})
    wide = frame.pivot_table(index=keys, columns=BACKEND, values=metric, aggfunc="first", dropna=False)
    order = ([OVERALL] if OVERALL in wide.columns else []) + sorted(c for c in wide.columns if c != OVERALL)
    wide = wide[order]
    return wide.sort_values(order[0], ascending=False, na_position="last") if order else wide


def table(board: Leaderboard, metric: str | None, perturbation: str | None = None) -> pd.DataFrame:
    board = board.under(perturbation)
    if board.frame is None:
        return pd.DataFrame()
    if not board.long or metric not in board.metrics():
        return board.frame
    wide = _pivot(board, metric)
    constant = [k for k in wide.index.names if wide.index.get_level_values(k).nunique() <= 1 and k != "detector"]
    wide = wide.reset_index().drop(columns=constant)  # columns equal on every row say nothing: keep it narrow
    return wide.rename(columns={b: f"{metric} [{b}]" for b in wide.columns if b not in board.row_keys()}).round(4)


def plot(board: Leaderboard, metric: str | None, perturbation: str | None = None):
    """Grouped bars: one group per leaderboard row, one bar per backend (or the metric alone, without backends)."""
    board = board.under(perturbation)
    figure, axis = plt.subplots(figsize=(9, 3.6), dpi=100)
    if board.frame is None or metric not in board.metrics():
        axis.text(0.5, 0.5, "no results to plot", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    if board.long:
        wide = _pivot(board, metric)
        varying = [k for k in wide.index.names if wide.index.get_level_values(k).nunique() > 1] or ["detector"]
        labels = [
            " / ".join(str(dict(zip(wide.index.names, key if isinstance(key, tuple) else (key,)))[k]) for k in varying)
            for key in wide.index
        ]
    else:
        wide = board.frame[[metric]]
        labels = [str(v) for v in (board.frame["detector"] if "detector" in board.frame else board.frame.index)]
    positions = np.arange(len(wide.index))
    width = 0.8 / max(1, len(wide.columns))
    for k, column in enumerate(wide.columns):
        axis.bar(positions + k * width - 0.4 + width / 2, wide[column].to_numpy(dtype=float), width, label=str(column))
    axis.set_xticks(positions, labels, rotation=15, ha="right")
    axis.set_ylabel(metric)
    axis.set_ylim(0, max(1.0, float(np.nanmax(wide.to_numpy(dtype=float), initial=0.0))))
    axis.grid(axis="y", alpha=0.3)
    if len(wide.columns) > 1:
        axis.legend(title=BACKEND, fontsize="small", ncols=min(4, len(wide.columns)), loc="upper right")
    figure.tight_layout()
    return figure
