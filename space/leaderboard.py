"""The Leaderboard tab's logic: the harness's results as a sortable table with per-backend columns, and a plot.

Results are read by ``inpaintbench.harness.leaderboard.load_leaderboard(path) -> DataFrame``. Two shapes are
accepted: long (one row per detector and backend, metrics as columns) is pivoted so each backend becomes a
column of the chosen metric; wide (one row per detector) is shown as it is. (``gradio_leaderboard`` is broken on
Gradio 6, so this is a plain ``gr.Dataframe``, sortable by clicking a header, plus a matplotlib chart.)
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
ROW_KEY = "detector"
COLUMN_KEY = "backend"


@dataclass
class Leaderboard:
    frame: pd.DataFrame | None
    message: str  # why there is no table, or where it came from

    @property
    def long(self) -> bool:
        return self.frame is not None and ROW_KEY in self.frame.columns and COLUMN_KEY in self.frame.columns

    def metrics(self) -> list[str]:
        if self.frame is None:
            return []
        return [c for c in self.frame.columns if c not in (ROW_KEY, COLUMN_KEY) and pd.api.types.is_numeric_dtype(self.frame[c])]


def load(path: str | None, module_name: str = LEADERBOARD_MODULE) -> Leaderboard:
    if not path:
        return Leaderboard(None, "No leaderboard results configured: set INPAINTBENCH_LEADERBOARD or --leaderboard.")
    try:
        module = importlib.import_module(module_name)
        module.load_leaderboard  # noqa: B018 (present, with the agreed interface?)
    except (ImportError, AttributeError) as exc:
        return Leaderboard(None, f"The leaderboard needs {module_name}, which cannot be imported ({exc}).")
    try:
        frame = module.load_leaderboard(path)
    except Exception as exc:  # the harness names the file and the problem; show it rather than crash the Space
        return Leaderboard(None, f"The leaderboard at {path} could not be read: {exc}")
    return Leaderboard(frame, f"Results from `{path}`: {len(frame)} rows. Click a column header to sort.")


def table(board: Leaderboard, metric: str | None) -> pd.DataFrame:
    if board.frame is None:
        return pd.DataFrame()
    if not board.long or metric not in board.metrics():
        return board.frame
    wide = board.frame.pivot_table(index=ROW_KEY, columns=COLUMN_KEY, values=metric, aggfunc="first")
    wide.columns = [f"{metric} [{c}]" for c in wide.columns]
    return wide.reset_index()


def plot(board: Leaderboard, metric: str | None):
    """Grouped bars: one group per detector, one bar per backend (long) or the chosen metric alone (wide)."""
    figure, axis = plt.subplots(figsize=(8, 3.6), dpi=100)
    if board.frame is None or metric not in board.metrics():
        axis.text(0.5, 0.5, "no results to plot", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    if board.long:
        wide = board.frame.pivot_table(index=ROW_KEY, columns=COLUMN_KEY, values=metric, aggfunc="first")
    else:
        labels = board.frame[ROW_KEY] if ROW_KEY in board.frame.columns else board.frame.index.astype(str)
        wide = pd.DataFrame({metric: board.frame[metric].to_numpy()}, index=list(labels))
    positions = np.arange(len(wide.index))
    width = 0.8 / max(1, len(wide.columns))
    for k, column in enumerate(wide.columns):
        axis.bar(positions + k * width - 0.4 + width / 2, wide[column].to_numpy(dtype=float), width, label=str(column))
    axis.set_xticks(positions, [str(i) for i in wide.index], rotation=20, ha="right")
    axis.set_ylabel(metric)
    axis.grid(axis="y", alpha=0.3)
    if len(wide.columns) > 1:
        axis.legend(title=COLUMN_KEY, fontsize="small", ncols=min(4, len(wide.columns)))
    figure.tight_layout()
    return figure
