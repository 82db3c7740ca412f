"""Turn predictions into per-sample records: the only thing kept per sample (histograms, score, metadata).

A record is small (two histograms), picklable (gathered across processes) and self-sufficient: it keeps the
ground truth's pixel counts so a failed sample can be scored as a miss later without reading it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from inpaintbench.harness.problems import PredictionProblem, Problem
from inpaintbench.harness.reduce import ImageSummary, binarize_gt, summarize

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

    def predict(self, sample_id: str, image: np.ndarray | None, image_hw: tuple[int, int]) -> tuple[float | None, np.ndarray | None, float]:
        """(score, map, seconds); raises PredictionProblem."""


def rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image)


def make_records(dataset, indices: Iterable[int], predictor: Predictor, n_bins: int, desc: str = "scoring",
                 progress: bool = True, process: int = 0, perturbation=None) -> list[SampleRecord]:
    """``perturbation`` (a ``perturbations.Chain``): what the detector sees instead of the stored image. The
    ground truth is never perturbed: maps are scored at its native size whatever size the detector saw."""
    if perturbation is not None and not perturbation.is_identity and not predictor.needs_image:
        raise ValueError(f"perturbation {perturbation.spec!r} needs a predictor that reads images "
                         "(a folder of maps was made from the unperturbed images)")
    columns = list(META_COLUMNS) + ["mask"] + (["image"] if predictor.needs_image else [])
    view = dataset.select_columns(columns)
    records = []
    indices = list(indices)
    for index in tqdm(indices, desc=desc, disable=not progress, unit="img"):
        row = view[int(index)]
        meta = {k: row[k] for k in META_COLUMNS}
        meta["label"] = int(meta["label"])
        gt = binarize_gt(row["mask"])
        gt_pos = int(gt.sum())
        record = SampleRecord(int(index), meta, gt_pos, int(gt.size - gt_pos), None, process=process)
        image = rgb_array(row["image"]) if predictor.needs_image else None
        try:
            if image is not None and image.shape[:2] != gt.shape:
                raise PredictionProblem("error", f"dataset row: image {image.shape[:2]} and mask {gt.shape} sizes differ")
            if image is not None and perturbation is not None:
                image = perturbation.apply(image, meta["sample_id"])
            # A map is checked against the size the detector saw; ``summarize`` resizes it to the GT's size.
            seen_hw = gt.shape if image is None else image.shape[:2]
            score, pred, record.seconds = predictor.predict(meta["sample_id"], image, seen_hw)
            record.summary = summarize(pred, gt, score=score, label=meta["label"], n_bins=n_bins)
            record.has_map = pred is not None
        except PredictionProblem as exc:
            record.problem = Problem(meta["sample_id"], exc.kind, exc.detail)
        except ValueError as exc:  # the reducer's own checks
            record.problem = Problem(meta["sample_id"], "error", str(exc))
        records.append(record)
    return records


def miss_summary(record: SampleRecord, n_bins: int, with_map: bool) -> ImageSummary:
    """Policy "penalize": score 0 and, in runs with maps, an all-zero map (every pixel in the lowest bin)."""
    pos, neg = np.zeros(n_bins, np.int64), np.zeros(n_bins, np.int64)
    if with_map:
        pos[0], neg[0] = record.gt_pos, record.gt_neg
    return ImageSummary(pos, neg, 0.0, int(record.meta["label"]))


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
