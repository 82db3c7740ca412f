"""``learned_inpaint``: the small inpainting network trained here (builder.learned_inpainter), on the CPU.

Prompt-free like the classical backends (it continues the surroundings into the hole, so it can only remove an
object), paste-back (only the hole's pixels change) and seed-free: the network draws no noise, so the fill depends
on the weights, the image and the mask only, and ``request.seed`` is not used. ``holds_model`` stays False: 3.3 M
parameters (under 15 MB in fp32) on the CPU are no accelerator residency to manage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from .classical import _as_arrays
from .registry import InpaintBackend, InpaintRequest, InpaintResult, register_backend

SHIPPED_WEIGHTS_NAME = "package:inpaintbench.builder.learned_inpainter/learned_inpaint.safetensors"


@register_backend("learned_inpaint")
class LearnedInpaintBackend(InpaintBackend):
    follows_prompt = False

    def __init__(self, weights: str | None = None) -> None:
        """``weights``: a safetensors file with its sidecar beside it; default the ones shipped in the package.
        A missing or corrupt file raises ``InpainterWeightsError`` naming it, here rather than at the first fill."""
        from ..learned_inpainter.weights import SHIPPED_WEIGHTS, load

        super().__init__(**({"weights": str(weights)} if weights else {}))
        self.weights_path = Path(weights) if weights else SHIPPED_WEIGHTS
        self.net, self.sidecar = load(self.weights_path)

    def inpaint(self, request: InpaintRequest) -> InpaintResult:
        from ..learned_inpainter.infer import fill

        image, mask = _as_arrays(request)
        filled = fill(self.net, image, mask > 0)
        return InpaintResult(Image.fromarray(filled), strategy="paste_back",
                             extra={"weights_sha256": self.sidecar["weights_sha256"]})

    def _model_recipe(self) -> dict[str, Any]:
        from ..learned_inpainter.infer import THREADS

        return {
            "model_version": self.sidecar.get("model_version"),
            # The shipped file by its package name, not its path: a path names the checkout (/tmp/ci/..., a
            # site-packages), so two machines building the same samples wrote different recipe bytes. The
            # sha256 is what identifies the weights either way.
            "weights": SHIPPED_WEIGHTS_NAME if self.params.get("weights") is None else self.params["weights"],
            "weights_sha256": self.sidecar["weights_sha256"],
            "weights_code": self.sidecar.get("code"),
            "torch_threads": THREADS,
        }
