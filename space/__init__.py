"""The InpaintBench Gradio Space: browse the benchmark, run a detector, read the leaderboard, take the human test.

``inpaintbench.space.app.build_app(config)`` builds the app; ``inpaintbench space`` runs it locally.
"""

from inpaintbench.package_guard import require_package_name

require_package_name(__name__, "inpaintbench.space")  # never a second copy under the bare name "space"
