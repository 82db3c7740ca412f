"""Per-sample problems of a submission, and the check every prediction passes before it is scored.

Nothing is skipped silently: every problem names its sample, and the run either stops with the full list
(policy "strict") or scores the sample as a miss and lists it in the results (policy "penalize").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

POLICIES = ("strict", "penalize")
ASPECT_TOLERANCE = 0.02  # a map may be smaller or larger than the image, but not another shape


@dataclass(frozen=True)
class Problem:
    sample_id: str
    kind: str  # missing, extra, duplicate, unreadable, wrong_shape, wrong_dtype, nan, out_of_range, crash, timeout, error
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


class PredictionProblem(ValueError):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class SubmissionError(RuntimeError):
    """Scoring refused (policy strict): carries every problem found."""

    def __init__(self, problems: list[Problem], where: str = "") -> None:
        self.problems = problems
        super().__init__(format_problems(problems, where))


def format_problems(problems: list[Problem], where: str = "", limit: int = 20) -> str:
    by_kind: dict[str, list[Problem]] = {}
    for p in problems:
        by_kind.setdefault(p.kind, []).append(p)
    lines = [f"{len(problems)} problem(s){' in ' + where if where else ''}:"]
    for kind, items in sorted(by_kind.items()):
        lines.append(f"  {kind}: {len(items)} sample(s)")
        for p in items[:limit]:
            lines.append(f"    {p.sample_id}: {p.detail}")
        if len(items) > limit:
            lines.append(f"    ... and {len(items) - limit} more (all listed in the problems report)")
    return "\n".join(lines)


def check_score(score) -> float | None:
    if score is None:
        return None
    if isinstance(score, (bool, np.bool_)) or not isinstance(score, (int, float, np.integer, np.floating)):
        if isinstance(score, np.ndarray) and score.size == 1:
            score = score.item()
        else:
            raise PredictionProblem("wrong_dtype", f"score must be a number, got {type(score).__name__} {score!r:.60}")
    value = float(score)
    if math.isnan(value) or math.isinf(value):
        raise PredictionProblem("nan", f"score is {value}")
    if not 0.0 <= value <= 1.0:
        raise PredictionProblem("out_of_range", f"score {value:.6g} is outside [0, 1]")
    return value


def check_map(pred, image_hw: tuple[int, int]) -> np.ndarray | None:
    """Shape, dtype, NaN and range of a map; any size with the image's aspect ratio is accepted (it gets resized)."""
    if pred is None:
        return None
    arr = np.asarray(pred)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    h, w = image_hw
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise PredictionProblem("wrong_shape", f"map must be H x W (image is {h} x {w}), got shape {arr.shape}")
    ph, pw = arr.shape
    if (ph, pw) != (h, w):
        expected_h = pw * h / w  # the height a same-aspect map of this width would have
        if abs(ph - expected_h) > max(1.0, ASPECT_TOLERANCE * expected_h):
            raise PredictionProblem("wrong_shape", f"map is {ph} x {pw} but the image is {h} x {w} (different aspect ratio)")
    if arr.dtype == np.bool_ or arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise PredictionProblem("wrong_dtype", f"map must be uint8 or float in [0, 1], got dtype {arr.dtype}")
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise PredictionProblem("nan", f"map contains NaN or infinite values ({int((~np.isfinite(arr)).sum())} pixels)")
    if lo < 0.0 or hi > 1.0:
        raise PredictionProblem("out_of_range", f"map values span [{lo:.4g}, {hi:.4g}], outside [0, 1]")
    return arr


def check_prediction(output, image_hw: tuple[int, int]) -> tuple[float | None, np.ndarray | None]:
    """A detector's ``predict`` output -> (score, map); at least one must be present."""
    if not isinstance(output, dict):
        raise PredictionProblem("wrong_dtype", f"predict must return a dict with 'score' and 'map', got {type(output).__name__}")
    score = check_score(output.get("score"))
    pred = check_map(output.get("map"), image_hw)
    if score is None and pred is None:
        raise PredictionProblem("error", "predict returned neither a score nor a map")
    return score, pred
