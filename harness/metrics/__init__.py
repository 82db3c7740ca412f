"""Path of the ``evaluate`` metric module, for ``evaluate.load(METRIC_PATH)``, and its input columns."""

from pathlib import Path

METRIC_PATH = str(Path(__file__).resolve().parent / "inpaintbench_detection")


def summaries_as_inputs(summaries) -> dict[str, list]:
    """``reduce.ImageSummary`` list -> the keyword arguments of ``metric.compute`` (one list per column)."""
    rows = [s.as_example() for s in summaries]
    columns = rows[0].keys() if rows else ()
    return {c: [r[c] for r in rows] for c in columns}
