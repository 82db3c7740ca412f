"""Path of the ``evaluate`` metric module, for ``evaluate.load(METRIC_PATH)``."""

from pathlib import Path

METRIC_PATH = str(Path(__file__).resolve().parent / "inpaintbench_detection")
