"""Subgroup metrics (backend, source, category, strategy, mask size; in- vs out-of-domain) and bootstrap
intervals, all as image weights over one ``Scorer``: no pixel is read again.

A group holds its own images. Groups that contain no pristine image (a backend, a strategy, a mask-size bin)
also get every pristine image of the run, so image-level AUC / balanced accuracy stay defined and compare
"this generator's fakes vs the same reals"; pixel metrics only ever see forged images anyway.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from inpaintbench.harness.conventions import mask_size_bin
from inpaintbench.harness.scoring import HEADLINE_METRICS, Scorer

BREAKDOWN_COLUMNS = ("backend", "source", "category", "strategy", "mask_size")


def group_value(meta: dict, column: str) -> str:
    if column == "mask_size":
        return mask_size_bin(float(meta.get("mask_area_fraction") or 0.0)) if int(meta["label"]) == 1 else "none"
    return str(meta.get(column, ""))


def _with_pristine(members: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if not (labels[members] == 0).any():
        members = members | (labels == 0)
    return members.astype(np.float64)


def breakdowns(scorer: Scorer, metas: list[dict]) -> dict[str, dict[str, dict]]:
    labels = scorer.labels
    wanted: list[tuple[str, str, np.ndarray]] = []
    for column in BREAKDOWN_COLUMNS:
        values = np.array([group_value(m, column) for m in metas], dtype=object)
        for value in sorted(set(values[labels == 1])):  # groups without any forged image say nothing
            wanted.append((column, value, _with_pristine(values == value, labels)))
    out: dict[str, dict[str, dict]] = {column: {} for column in BREAKDOWN_COLUMNS}
    # One pass over the histograms for every group (they may be read back from disk: hist_store).
    for (column, value, _), metrics in zip(wanted, scorer.compute_many([w for _, _, w in wanted]), strict=False):
        out[column][value] = metrics
    return out


def domain_weights(metas: list[dict], labels: np.ndarray, training_backends) -> dict[str, np.ndarray]:
    trained = {str(b) for b in training_backends}
    seen = np.array([m["backend"] in trained for m in metas])
    forged = labels == 1
    return {
        "in_domain": _with_pristine(forged & seen, labels),
        "out_of_domain": _with_pristine(forged & ~seen, labels),
    }


def domain_split(scorer: Scorer, metas: list[dict], training_backends) -> dict:
    weights = {name: w for name, w in domain_weights(metas, scorer.labels, training_backends).items()
               if (w * scorer.labels).sum() > 0}
    return {
        "training_backends": sorted(str(b) for b in training_backends),
        **dict(zip(weights, scorer.compute_many(list(weights.values())), strict=False)),
    }


def bootstrap_intervals(scorer: Scorer, n_resamples: int = 1000, seed: int = 0, base_weights: np.ndarray | None = None,
                        metrics=HEADLINE_METRICS, progress: bool = True, desc: str = "bootstrap") -> dict:
    """95% percentile intervals, resampling the images (those with base weight > 0) with replacement. Pooled pixel
    metrics inside resamples run on ``Scorer.for_resampling`` (at most 1024 levels, centred on the exact value)."""
    n = len(scorer.scores)
    scorer = scorer.for_resampling()
    population = np.arange(n) if base_weights is None else np.flatnonzero(np.asarray(base_weights) > 0)
    rng = np.random.default_rng(seed)
    draws = {m: [] for m in metrics}
    for _ in tqdm(range(n_resamples), desc=desc, disable=not progress, leave=False):
        pick = population[rng.integers(0, len(population), len(population))]
        values = scorer.compute(np.bincount(pick, minlength=n).astype(np.float64))
        for m in metrics:
            if values.get(m) is not None:
                draws[m].append(values[m])
    out = {"n_resamples": int(n_resamples), "seed": int(seed), "level": 0.95}
    for m in metrics:
        if draws[m]:
            lo, hi = np.percentile(draws[m], [2.5, 97.5])
            out[m] = {"low": float(lo), "high": float(hi), "n_defined": len(draws[m])}
        else:
            out[m] = None
    return out
