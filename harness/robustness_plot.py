"""The robustness figure: each detector's metric on clean images and under each perturbation, with its 95%
bootstrap interval (``inpaintbench leaderboard ... --robustness-plot FILE``; docs/img/robustness.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from inpaintbench.harness.leaderboard import CLEAN, DATA_KEYS

PLOTTED = ("pixel_f1_mean", "pixel_auc_pooled", "image_auc")
CHANCE = {"pixel_auc_pooled": 0.5, "image_auc": 0.5}  # a random detector's level, drawn for reference


def _order(specs) -> list[str]:
    """Clean first, then the perturbations by name (a chain after its first step: resize:0.5, resize:0.5+...)."""
    return [CLEAN] * (CLEAN in set(specs)) + sorted(s for s in set(specs) if s != CLEAN)


def plot_robustness(robust: pd.DataFrame, path: str | Path, metrics=PLOTTED) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    path = Path(path)
    data_keys = list(DATA_KEYS)
    if not robust.empty:
        # A robustness plot compares clean with perturbed: data scored only clean (e.g. a release's test split for
        # the trained baseline) has nothing to show here and would only crowd the legend.
        perturbed = robust[robust["perturbation"] != CLEAN][data_keys].drop_duplicates()
        robust = robust.merge(perturbed, on=data_keys, how="inner") if not perturbed.empty else robust
    several_data = robust[data_keys].drop_duplicates().shape[0] > 1 if not robust.empty else False
    specs = _order(robust["perturbation"]) if not robust.empty else [CLEAN]
    x = np.arange(len(specs))
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), dpi=110, squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        part = robust[robust["metric"] == metric] if not robust.empty else robust
        groups = part.groupby(["detector", *data_keys], sort=True, dropna=False) if not part.empty else []
        for k, (key, group) in enumerate(groups):
            values = group.set_index("perturbation").reindex(specs)
            offset = (k - (len(groups) - 1) / 2) * 0.06  # side by side, so intervals do not hide each other
            y = values["value"].to_numpy(dtype=float)
            low = y - values["ci_low"].to_numpy(dtype=float)
            high = values["ci_high"].to_numpy(dtype=float) - y
            label = key[0] if not several_data else f"{key[0]} ({key[1]})"
            axis.errorbar(x + offset, y, yerr=np.nan_to_num(np.vstack([low, high])), marker="o", capsize=3, label=label)
        if metric in CHANCE:
            axis.axhline(CHANCE[metric], color="grey", linestyle=":", linewidth=1, label="chance")
        axis.set_xticks(x, ["clean" if s == CLEAN else s for s in specs], rotation=20, ha="right")
        axis.set_title(metric)
        axis.set_ylim(0, 1)
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize="small", loc="upper right")
    figure.suptitle("Detectors under post-processing (95% bootstrap intervals over images)", fontsize="medium")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
