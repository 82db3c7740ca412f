"""The Leaderboard tab's logic: the harness's results as a ranked table per track, a chart, and what each metric means.

Results are read by ``inpaintbench.harness.leaderboard.load_leaderboard(path)`` twice: the "long" shape (one row per
detector, data identity, perturbation and backend, "all" included) gives the per-backend columns; the "wide" shape
(one row per results file) gives the number of images and the 95% bootstrap interval of each headline metric.

A *track* is one data identity (build or release version, config, split) under one perturbation. Rows are only
ever ranked against rows of the same track: a detector scored on 2 test images, or on JPEG-laundered images, is
not comparable with one scored on the 29 images of the whole build. Within a track, rows are ranked by the chosen
metric over all images, best first (lowest first for the false-alarm metrics).

With no path configured, the results committed with the code (``harness/results``) are shown, so a plain local
launch has a leaderboard. (``gradio_leaderboard`` is broken on Gradio 6, so this is a plain ``gr.Dataframe``.)
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

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
TRACK_COLUMNS = ("dataset_version", "config", "split", PERTURBATION)
IMAGES = "images"  # column of the shown table: n_images of the results file
INTERVAL = "95% interval"
# Same set as harness.leaderboard.LOWER_IS_BETTER (false alarms), kept here so a CSV-only board needs no harness.
LOWER_IS_BETTER = frozenset({"pristine_pixel_fpr_pooled", "pristine_pixel_fpr_mean", "pristine_map_mean",
                             "pristine_images_flagged"})


def committed_results() -> Path | None:
    """``harness/results`` next to the harness code (found without importing it), when it holds results."""
    spec = importlib.util.find_spec("inpaintbench.harness")
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(root) / "results"
        if any(folder.glob("*.json")):
            return folder
    return None


@dataclass
class Leaderboard:
    frame: pd.DataFrame | None  # long: one row per detector, data, perturbation and backend
    message: str  # why there is no table, or where it came from
    wide: pd.DataFrame | None = None  # one row per results file: n_images and the "<metric>_ci" intervals

    @property
    def long(self) -> bool:
        return self.frame is not None and BACKEND in self.frame.columns

    def metrics(self) -> list[str]:
        if self.frame is None:
            return []
        names = [c for c in self.frame.columns if c != BACKEND and pd.api.types.is_numeric_dtype(self.frame[c])
                 and not pd.api.types.is_bool_dtype(self.frame[c]) and not c.startswith("n_")]
        return sorted(names, key=lambda c: c != PREFERRED_METRIC)  # the headline metric first, else file order

    def ranked(self) -> Leaderboard:
        """Only results the harness ranks (current conventions, a sandboxed detector); results files written
        before the ``ranked`` column read as ranked."""
        if self.frame is None or RANKED not in self.frame.columns:
            return self
        keep = self.frame[RANKED].fillna(False).astype(bool)
        return Leaderboard(self.frame[keep].drop(columns=[RANKED]).reset_index(drop=True), self.message, self.wide)

    def unranked_note(self) -> str:
        if self.frame is None or RANKED not in self.frame.columns:
            return ""
        left_out = self.frame[~self.frame[RANKED].fillna(False).astype(bool)]
        names = sorted(set(left_out["detector"].astype(str))) if "detector" in left_out else []
        if not names:
            return ""
        return (f"Not ranked here ({', '.join(names)}): scored under older conventions, without the OS sandbox, "
                "or self-reported maps; leaderboard.md lists them with the reason.")

    def _track_columns(self) -> list[str]:
        return [c for c in TRACK_COLUMNS if self.frame is not None and c in self.frame.columns]

    def _track_keys(self) -> pd.Series:
        columns = self._track_columns()
        filled = self.frame[columns].fillna("").astype(str)
        if PERTURBATION in filled:
            filled[PERTURBATION] = filled[PERTURBATION].replace("", CLEAN)
        return filled.apply(tuple, axis=1)

    def tracks(self) -> list[str]:
        """Labels of the tracks with ranked rows: clean ones first, then the one with most detectors first."""
        board = self.ranked()
        if board.frame is None or board.frame.empty or not self._track_columns():
            return []
        keys = board._track_keys()
        detectors = board.frame.assign(_key=keys).groupby("_key")["detector"].nunique()
        columns = self._track_columns()
        order = sorted(
            detectors.index,
            key=lambda k: (dict(zip(columns, k, strict=False)).get(PERTURBATION, CLEAN) != CLEAN, -detectors[k], k),
        )
        return [self._label(dict(zip(columns, k, strict=False))) for k in order]

    def _label(self, key: dict[str, str]) -> str:
        perturbation = key.get(PERTURBATION, CLEAN)
        images = "clean images" if perturbation == CLEAN else f"images after {perturbation}"
        if key.get("split"):
            data = f"release {key.get('dataset_version', '?')} {key.get('config') or 'default'}/{key['split']}"
        else:
            data = f"build {key.get('dataset_version') or '?'} (every sample)"
        n = self._images(key)
        return f"{data} · {images}" + (f" · {n} images" if n is not None else "")

    def _images(self, key: dict[str, str]) -> int | None:
        if self.wide is None or "n_images" not in self.wide.columns:
            return None
        match = pd.Series(True, index=self.wide.index)
        for column, value in key.items():
            if column in self.wide.columns:
                match &= self.wide[column].fillna("").astype(str).replace("", CLEAN if column == PERTURBATION
                                                                             else "") == value
        counts = set(self.wide.loc[match, "n_images"].dropna().astype(int))
        return counts.pop() if len(counts) == 1 else None

    def in_track(self, label: str | None) -> Leaderboard:
        """The ranked rows of one track (by default the first of ``tracks()``); a frame without data identity
        columns is one track."""
        board = self.ranked()
        tracks = self.tracks()
        if board.frame is None or not tracks:
            return board
        label = label or tracks[0]
        if label not in tracks:
            raise ValueError(f"no results for {label!r}; choose one of: {'; '.join(tracks)}")
        keys = board._track_keys()
        columns = self._track_columns()
        wanted = next(k for k in set(keys) if self._label(dict(zip(columns, k, strict=False))) == label)
        return Leaderboard(board.frame[keys == wanted].reset_index(drop=True), self.message, self.wide)

    def row_keys(self) -> list[str]:
        """What identifies a leaderboard row: the detector and its data identity (every non-metric column)."""
        metrics = set(self.metrics())
        return [c for c in self.frame.columns if c != BACKEND and c not in metrics]


def load(path: str | None, module_name: str = LEADERBOARD_MODULE) -> Leaderboard:
    if not path:
        committed = committed_results()
        if committed is None:
            return Leaderboard(
                None,
                "No leaderboard results configured: set INPAINTBENCH_LEADERBOARD or --leaderboard "
                "(a leaderboard.json, a CSV, or a folder of `inpaintbench evaluate` results).",
            )
        path = str(committed)
    try:
        module = importlib.import_module(module_name)
        loader = module.load_leaderboard
    except (ImportError, AttributeError) as exc:
        return Leaderboard(None, f"The leaderboard needs {module_name}, which cannot be used ({exc}).")
    try:
        frame = loader(path)
        wide = None if Path(path).suffix == ".csv" else loader(path, shape="wide")
    except Exception as exc:  # the harness names the file and the problem; show it rather than crash the Space
        return Leaderboard(None, f"The leaderboard at `{path}` could not be read: {exc}")
    return Leaderboard(frame, f"Results from `{path}`.", wide)


def better(metric: str) -> str:
    return "lower is better" if metric in LOWER_IS_BETTER else "higher is better"


def _metric_definitions() -> dict[str, str]:
    try:
        from inpaintbench.harness.conventions import METRIC_DEFINITIONS
    except ImportError:
        return {}
    return METRIC_DEFINITIONS


def metric_note(metric: str | None) -> str:
    """Markdown above the table: how rows are ordered and what the chosen metric means."""
    if not metric:
        return ""
    meaning = _metric_definitions().get(metric, "")
    return (f"**Ranked by `{metric}`** over all images, best first ({better(metric)}); pick another metric to "
            f"re-rank. `{metric}`: {meaning or 'no definition in the harness'}.")


def definitions(metrics: list[str]) -> str:
    """Markdown below the table: what every metric on the board means (harness.conventions.METRIC_DEFINITIONS)."""
    known = _metric_definitions()
    lines = [f"- `{m}` ({better(m)}): {known[m]}" for m in metrics if m in known]
    if not lines:
        return ""
    return ("**Metrics.** Pixel metrics are exact (every distinct map value counted, ties averaged). "
            f"*{IMAGES}*: images scored. *{INTERVAL}*: 95% bootstrap over images of the value on all images. "
            "Columns after it: the metric on one backend's forgeries only.\n\n" + "\n".join(lines))


def _pivot(board: Leaderboard, metric: str) -> pd.DataFrame:
    keys = board.row_keys()
    frame = board.frame.assign(**{k: board.frame[k].fillna("").astype(str) for k in keys})
    wide = frame.pivot_table(index=keys, columns=BACKEND, values=metric, aggfunc="first", dropna=False)
    order = ([OVERALL] if OVERALL in wide.columns else []) + sorted(c for c in wide.columns if c != OVERALL)
    return wide[order]


def _best_first(frame: pd.DataFrame, column: str, metric: str) -> pd.DataFrame:
    by = [column] + (["detector"] if "detector" in frame.columns else [])
    return frame.sort_values(by, ascending=[metric in LOWER_IS_BETTER] + [True] * (len(by) - 1),
                             na_position="last", kind="stable").reset_index(drop=True)


def _with_counts(table: pd.DataFrame, board: Leaderboard, metric: str) -> pd.DataFrame:
    """n_images and the metric's interval, from the results file each row came from."""
    wide = board.wide
    if wide is None or "detector" not in wide.columns:
        return table
    joins = [c for c in table.columns if c in wide.columns and c not in (metric, BACKEND)]
    extra = [c for c in ("n_images", f"{metric}_ci") if c in wide.columns]
    if not extra:
        return table
    side = wide[joins + extra].assign(**{c: wide[c].fillna("").astype(str) for c in joins})
    if PERTURBATION in joins:
        side[PERTURBATION] = side[PERTURBATION].replace("", CLEAN)
    merged = table.merge(side.drop_duplicates(joins), on=joins, how="left")
    renamed = merged.rename(columns={"n_images": IMAGES, f"{metric}_ci": INTERVAL})
    if IMAGES in renamed:
        renamed[IMAGES] = renamed[IMAGES].astype("Int64")
    return renamed


def table(board: Leaderboard, metric: str | None, track: str | None = None) -> pd.DataFrame:
    """The ranked rows of one track: rank, detector, images, the metric over all images, its interval, then the
    metric per backend."""
    board = board.in_track(track)
    if board.frame is None:
        return pd.DataFrame()
    if metric not in board.metrics():
        return board.frame
    if not board.long:
        return _best_first(board.frame, metric, metric).round(4)
    wide = _pivot(board, metric).reset_index()
    wide = _with_counts(wide, board, metric)
    overall = OVERALL if OVERALL in wide.columns else next(c for c in wide.columns if c not in board.row_keys())
    wide = _best_first(wide, overall, metric)
    # Columns equal on every row (the track's identity, shown in the track's label) say nothing: keep it narrow.
    constant = [k for k in board.row_keys() if k != "detector" and k in wide and wide[k].nunique() <= 1]
    backends = [c for c in wide.columns if c not in board.row_keys() and c not in (IMAGES, INTERVAL, overall)]
    front = [k for k in board.row_keys() if k not in constant] + [c for c in (IMAGES,) if c in wide]
    shown = wide[front + [overall] + [c for c in (INTERVAL,) if c in wide] + backends].round(3)
    shown = shown.rename(columns={overall: metric})
    shown.insert(0, "rank", range(1, len(shown) + 1))
    return shown


def plot(board: Leaderboard, metric: str | None, track: str | None = None):
    """Horizontal grouped bars, best detector on top, one bar per backend: labels stay legible on a phone,
    where the chart is shrunk to the screen's width."""
    board = board.in_track(track)
    rows = table(board, metric) if board.frame is not None and metric in board.metrics() else pd.DataFrame()
    if rows.empty:
        figure, axis = plt.subplots(figsize=(6, 2), dpi=100)
        axis.text(0.5, 0.5, "no results to plot", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    labels = [str(v) for v in rows["detector"]] if "detector" in rows else [str(i) for i in rows.index]
    series = [c for c in rows.columns if c == metric or c not in ("rank", IMAGES, INTERVAL, "detector",
                                                                  *board.row_keys())]
    values = rows[series].apply(pd.to_numeric, errors="coerce")
    height = 0.8 / len(series)
    figure, axis = plt.subplots(figsize=(4.4, 1.9 + 0.32 * len(rows) * len(series)), dpi=100,
                                  layout="constrained")
    positions = np.arange(len(rows))
    for k, column in enumerate(series):
        name = f"{OVERALL} backends" if column == metric and board.long else str(column)
        axis.barh(positions + k * height - 0.4 + height / 2, values[column].to_numpy(dtype=float), height, label=name)
    # 4.4 inches at 13-14 pt: a phone shows the chart at about 3/4 size, so text stays near 10 px.
    axis.set_yticks(positions, labels, fontsize=14)
    axis.invert_yaxis()  # rank 1 on top, as in the table
    axis.set_xlabel(f"{metric}\n({better(metric)})", fontsize=13)
    axis.set_title("per detector: all images, then each backend", fontsize=12)
    axis.set_xlim(0, max(1.0, float(np.nanmax(values.to_numpy(dtype=float), initial=0.0))))
    axis.tick_params(axis="x", labelsize=12)
    axis.grid(axis="x", alpha=0.3)
    if len(series) > 1:
        figure.legend(fontsize=12, ncols=min(2, len(series)), loc="outside lower center", frameon=False)
    return figure
