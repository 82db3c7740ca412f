"""InpaintBench evaluation harness: reduce predicted maps to per-image histograms, score them with fixed,
stated conventions, run submitted detectors in a sandbox, and merge results into a leaderboard.

One evaluation from Python: ``from inpaintbench.harness import evaluate`` (harness/api.py). It is imported on
first use, so ``import inpaintbench.harness`` stays light (no ``datasets``, no ``torch``).
"""

# harness/ sits at the repository root but is the package ``inpaintbench.harness`` (setup.py). Imported under a second
# name (``import harness`` from the root) it would load a second copy of every module and so of every registry:
# detectors registered in one copy would be missing from the other. Refuse that with the way to import it.
if __name__ != "inpaintbench.harness":
    raise ImportError(f"{__name__!r} is the package inpaintbench.harness: import it as `import inpaintbench.harness` "
                      "(install the project first: bash scripts/setup.sh, or pip install -e .)")

_API = ("evaluate", "EvaluationError", "SubmissionRefused")


def __getattr__(name: str):
    if name in _API:
        from inpaintbench.harness import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
