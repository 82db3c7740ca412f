"""The InpaintBench Gradio Space: browse the benchmark, run a detector, read the leaderboard, take the human test.

``inpaintbench.space.app.build_app(config)`` builds the app; ``inpaintbench space`` runs it locally.
"""
