"""The InpaintBench generator: sources -> object selection -> edit plan -> inpainting backends -> Parquet shards."""

from inpaintbench.package_guard import require_package_name

require_package_name(__name__, "inpaintbench.builder")  # never a second copy under the bare name "builder"
