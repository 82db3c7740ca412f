"""InpaintBench evaluation harness: reduce predicted maps to per-image histograms, score them with fixed,
stated conventions, run submitted detectors in a sandbox, and merge results into a leaderboard.

One evaluation from Python: ``from inpaintbench.harness import evaluate`` (harness/api.py). It is imported on
first use, so ``import inpaintbench.harness`` stays light (no ``datasets``, no ``torch``).
"""

from inpaintbench.package_guard import require_package_name

require_package_name(__name__, "inpaintbench.harness")  # never a second copy under the bare name "harness"

_API = ("evaluate", "EvaluationError", "SubmissionRefused")


def __getattr__(name: str):
    if name in _API:
        from inpaintbench.harness import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
