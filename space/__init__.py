"""The InpaintBench Gradio Space: browse the benchmark, run a detector, read the leaderboard, take the human test.

``inpaintbench.space.app.build_app(config)`` builds the app; ``inpaintbench space`` runs it locally.
"""

# space/ sits at the repository root but is the package ``inpaintbench.space`` (setup.py). Imported under a second
# name (``import space`` from the root) it would load a second copy of every module and so of every registry:
# plug-ins registered in one copy would be missing from the other. Refuse that with the way to import it.
if __name__ != "inpaintbench.space":
    raise ImportError(f"{__name__!r} is the package inpaintbench.space: import it as `import inpaintbench.space` "
                      "(install the project first: bash scripts/setup.sh, or pip install -e .)")
