"""The InpaintBench generator: sources -> object selection -> edit plan -> inpainting backends -> Parquet shards."""

# builder/ sits at the repository root but is the package ``inpaintbench.builder`` (setup.py). Imported under a second
# name (``import builder`` from the root) it would load a second copy of every module and so of every registry:
# plug-ins registered in one copy would be missing from the other. Refuse that with the way to import it.
if __name__ != "inpaintbench.builder":
    raise ImportError(f"{__name__!r} is the package inpaintbench.builder: import it as `import inpaintbench.builder` "
                      "(install the project first: bash scripts/setup.sh, or pip install -e .)")
