"""InpaintBench: a reproducible benchmark of AI-inpainted image forgeries.

Subpackages: ``inpaintbench.builder`` (generator), ``inpaintbench.harness`` (evaluation),
``inpaintbench.space`` (Gradio app). The single CLI lives in ``inpaintbench.cli``.
"""

__version__ = "0.1.0"
