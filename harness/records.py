"""Turn predictions into per-sample records: the only thing kept per sample (histogram, score, metadata).

A record is small (one sparse histogram), picklable (gathered across processes) and self-sufficient: it keeps
the ground truth's pixel counts so a failed sample can be scored as a miss later without reading it again.
``EntryBudget`` keeps the histograms held in memory within a budget, spilling the rest to disk (``hist_store``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from inpaintbench.gt_mask import binarize_gt
from inpaintbench.harness.conventions import DEFAULT_ENTRY_BUDGET
from inpaintbench.harness.exact_hist import SparseHist, values_to_keys
from inpaintbench.harness.pixel_metrics import image_pixel_metrics
from inpaintbench.harness.problems import PredictionProblem, Problem
from inpaintbench.harness.reduce import ImageSummary, summarize_prediction

META_COLUMNS = ("sample_id", "label", "source", "category", "backend", "strategy", "mask_area_fraction")


@dataclass
class SampleRecord:
    index: int
    meta: dict
    gt_pos: int  # ground-truth inpainted pixels
    gt_neg: int
    summary: ImageSummary | None  # None when the sample failed
    has_map: bool = False
    problem: Problem | None = None
    seconds: float = 0.0
    process: int = 0  # the accelerate process that scored it

    @property
    def sample_id(self) -> str:
        return self.meta["sample_id"]


class Predictor(Protocol):
    needs_image: bool

    def predict(
        self, sample_id: str, image: np.ndarray | None, image_hw: tuple[int, int]
    ) -> tuple[float | None, np.ndarray | None, float]:
        """(score, map, seconds); raises PredictionProblem."""


def rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image)


class GroundTruthError(ValueError):
    """A dataset row's mask cannot be read as ground truth (the message names the sample)."""


class EntryBudget:
    """Keeps at most ``budget`` histogram rows (24 bytes each) of the summaries it admits in memory: past it,
    every in-memory histogram moves to a scratch file (``hist_store.SpillStore``), exactly. Resident memory then
    stays flat in the number of images; the spilled rows cost disk, and time when scored (read back by key
    range). ``budget`` None: never spill."""

    def __init__(self, budget: int | None = DEFAULT_ENTRY_BUDGET) -> None:
        self.budget = budget
        self.store = None
        self.resident: list[ImageSummary] = []  # admitted summaries whose histogram is still in memory
        self.in_memory = 0

    def admit(self, summary: ImageSummary | None) -> None:
        from inpaintbench.harness.hist_store import SpilledHist

        if summary is None or isinstance(summary.hist, SpilledHist) or not len(summary.hist):
            return
        self.resident.append(summary)
        self.in_memory += len(summary.hist)
        if self.budget is not None and self.in_memory > self.budget:
            self.spill()

    def admit_records(self, records: list[SampleRecord]) -> None:
        for r in records:
            self.admit(r.summary)

    def spill(self) -> None:
        from inpaintbench.harness.hist_store import SpillStore

        if self.store is None:
            self.store = SpillStore()
        for summary in self.resident:
            summary.hist = self.store.append(summary.hist)
        self.resident, self.in_memory = [], 0


def make_records(dataset, indices: Iterable[int], predictor: Predictor, desc: str = "scoring",
                 progress: bool = True, process: int = 0, perturbation=None,
                 budget: int | None = DEFAULT_ENTRY_BUDGET) -> list[SampleRecord]:
    """``perturbation`` (a ``perturbations.Chain``): what the detector sees instead of the stored image. The
    ground truth is never perturbed: maps are scored at its native size whatever size the detector saw.
    ``budget``: most histogram rows kept in memory (``EntryBudget``); None for no limit."""
    if perturbation is not None and not perturbation.is_identity and not predictor.needs_image:
        raise ValueError(f"perturbation {perturbation.spec!r} needs a predictor that reads images "
                         "(a folder of maps was made from the unperturbed images)")
    columns = list(META_COLUMNS) + ["mask"] + (["image"] if predictor.needs_image else [])
    view = dataset.select_columns(columns)
    records: list[SampleRecord] = []
    fit = EntryBudget(budget)
    indices = list(indices)
    for index in tqdm(indices, desc=desc, disable=not progress, unit="img"):
        row = view[int(index)]
        meta = {k: row[k] for k in META_COLUMNS}
        meta["label"] = int(meta["label"])
        gt = read_ground_truth(row["mask"], meta)
        gt_pos = int(gt.sum())
        record = SampleRecord(int(index), meta, gt_pos, int(gt.size - gt_pos), None, process=process)
        image = rgb_array(row["image"]) if predictor.needs_image else None
        try:
            if image is not None and image.shape[:2] != gt.shape:
                raise PredictionProblem(
                    "error", f"dataset row: image {image.shape[:2]} and mask {gt.shape} sizes differ"
                )
            if image is not None and perturbation is not None:
                image = perturbation.apply(image, meta["sample_id"])
            # A map is checked against the size the detector saw; ``summarize_prediction`` resizes it to the GT's size.
            seen_hw = gt.shape if image is None else image.shape[:2]
            score, pred, record.seconds = predictor.predict(meta["sample_id"], image, seen_hw)
            record.summary = summarize_prediction(pred, gt, score=score, label=meta["label"])
            record.has_map = pred is not None
        except PredictionProblem as exc:
            record.problem = Problem(meta["sample_id"], exc.kind, exc.detail)
        except ValueError as exc:  # the reducer's own checks
            record.problem = Problem(meta["sample_id"], "error", str(exc))
        records.append(record)
        fit.admit(record.summary)
    return records


def read_ground_truth(mask, meta: dict) -> np.ndarray:
    """The row's mask as bool, consistent with its label; a clear error naming the sample otherwise (the
    dataset is wrong, not the detector, so this stops the run in every policy)."""
    try:
        gt = binarize_gt(mask)
    except ValueError as exc:
        raise GroundTruthError(f"sample {meta['sample_id']}: {exc}") from None
    if meta["label"] == 1 and not gt.any():
        raise GroundTruthError(f"sample {meta['sample_id']}: labelled inpainted but its mask is empty")
    if meta["label"] == 0 and gt.any():
        raise GroundTruthError(f"sample {meta['sample_id']}: labelled pristine but its mask marks "
                               f"{int(gt.sum())} pixels")
    return gt


def miss_summary(record: SampleRecord, with_map: bool) -> ImageSummary:
    """Policy "penalize": score 0 and, in runs with maps, an all-zero map (every pixel at score 0)."""
    label = int(record.meta["label"])
    if not with_map:
        return ImageSummary(SparseHist.empty(), 0.0, label, n_pixels=record.gt_pos + record.gt_neg)
    hist = SparseHist(values_to_keys(np.zeros(1)), np.array([record.gt_pos], np.int64),
                      np.array([record.gt_neg], np.int64))
    return ImageSummary(hist, 0.0, label, has_map=True, n_pixels=record.gt_pos + record.gt_neg,
                        n_pos=record.gt_pos, n_neg=record.gt_neg, metrics=image_pixel_metrics(hist))


class DetectorPredictor:
    """Images go to a sandboxed detector process."""

    needs_image = True

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox

    def predict(self, sample_id, image, image_hw):
        from inpaintbench.harness.problems import check_prediction

        outcome = self.sandbox.predict(image)
        if not outcome.ok:
            raise PredictionProblem(outcome.kind, outcome.detail)
        score, pred = check_prediction(outcome.output, image_hw)
        return score, pred, outcome.seconds


class FolderPredictor:
    needs_image = False

    def __init__(self, submission) -> None:
        self.submission = submission

    def predict(self, sample_id, image, image_hw):
        score, pred = self.submission.prediction(sample_id, image_hw)
        return score, pred, 0.0
