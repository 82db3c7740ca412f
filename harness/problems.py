"""Per-sample problems of a submission, and the check every prediction passes before it is scored.

Nothing is skipped silently: every problem names its sample, and the run either stops with the full list
(policy "strict") or scores the sample as a miss and lists it in the results (policy "penalize").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

# The aspect rule lives with the reducer (summarize_prediction applies it on every entry point); ASPECT_TOLERANCE is
# re-exported for older imports.
from inpaintbench.harness.reduce import ASPECT_TOLERANCE, check_aspect  # noqa: F401

POLICIES = ("strict", "penalize")
# A map may be larger than its image, but not without bound: a map file's header can claim any size (a 30-byte
# PNG can claim 20000 x 20000), so a folder map is refused from its header, before any pixel is decoded, above
# min(MAP_MAX_FACTOR x the image's pixels, MAP_MAX_PIXELS). A map the image's own size always passes (its
# ground truth is that big already). MAP_MAX_PIXELS stays below PIL's own bomb limit (Image.MAX_IMAGE_PIXELS,
# 89.5 M) so that ours, with its message, is the one that refuses.
MAP_MAX_FACTOR = 64
MAP_MAX_PIXELS = 1 << 26  # 67,108,864 pixels = 8192 x 8192: 256 MB as float32


@dataclass(frozen=True)
class Problem:
    sample_id: str
    # missing, extra, duplicate, unreadable, wrong_shape, wrong_dtype, nan, out_of_range, too_large, symlink,
    # crash, timeout, error
    kind: str
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


def map_pixel_limit(image_hw: tuple[int, int]) -> int:
    """The most pixels a map of an image of this size may have (see MAP_MAX_FACTOR)."""
    image_pixels = int(image_hw[0]) * int(image_hw[1])
    return max(image_pixels, min(MAP_MAX_FACTOR * image_pixels, MAP_MAX_PIXELS))


def check_map_shape(shape, image_hw: tuple[int, int]) -> tuple[int, int]:
    """The rules on a map's shape alone: H x W (or H x W x 1), not too large, the image's aspect ratio.

    Takes a shape, not an array, so a map file is judged from its header before its data are read; ``check_map``
    applies the same function to arrays, so a folder's map and a detector's map meet one rule and one message."""
    shape = tuple(int(n) for n in shape)
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    h, w = image_hw
    if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise PredictionProblem("wrong_shape", f"map must be H x W (image is {h} x {w}), got shape {shape}")
    ph, pw = shape
    limit = map_pixel_limit(image_hw)
    if ph * pw > limit:
        raise PredictionProblem("too_large", f"map is {ph} x {pw} = {ph * pw:,} pixels, over the limit of {limit:,} "
                                f"for a {h} x {w} image (the larger of the image's pixels and min({MAP_MAX_FACTOR} x "
                                f"them, {MAP_MAX_PIXELS:,}))")
    reason = check_aspect((ph, pw), image_hw)
    if reason:
        raise PredictionProblem("wrong_shape", reason)
    return ph, pw


def check_map(pred, image_hw: tuple[int, int]) -> np.ndarray | None:
    """Shape, size, dtype, NaN and range of a map; any size with the image's aspect ratio is accepted (it gets
    resized) up to ``map_pixel_limit``."""
    if pred is None:
        return None
    arr = np.asarray(pred)
    check_map_shape(arr.shape, image_hw)
    if arr.ndim == 3:
        arr = arr[:, :, 0]
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
        raise PredictionProblem(
            "wrong_dtype", f"predict must return a dict with 'score' and 'map', got {type(output).__name__}"
        )
    score = check_score(output.get("score"))
    pred = check_map(output.get("map"), image_hw)
    if score is None and pred is None:
        raise PredictionProblem("error", "predict returned neither a score nor a map")
    return score, pred
