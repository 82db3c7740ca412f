"""The backend interface and its registry.

A backend turns (image, mask, prompt, seed) into an image. Classical backends ignore the prompt; diffusion
backends use it. ``params`` is recorded verbatim in each sample's ``backend_params`` so a sample can be
regenerated; ``strategy`` says whether pixels outside the mask are the original's (see inpaintbench.schema).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from inpaintbench.registry import Registry


@dataclass
class InpaintRequest:
    image: Image.Image  # RGB
    mask: Image.Image  # "L", 255 = fill
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0


@dataclass
class InpaintResult:
    image: Image.Image  # RGB, same size as the request's image
    strategy: str  # one of inpaintbench.schema.STRATEGIES (not "none")
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the sample's "extra" JSON
    # The same call's output under the other strategy (backend param ``strategy: both``): a second sample, linked
    # to this one by its edit id.
    also: InpaintResult | None = None


class InpaintBackend(abc.ABC):
    """Subclasses set ``name`` (via the registry) and implement ``inpaint``."""

    name: str = ""
    # Keys of ``params`` the backend records about itself (found out while loading), not constructor arguments:
    # ``inpaintbench regenerate`` drops them before building the backend again from a row's ``backend_params``.
    recorded_params: tuple[str, ...] = ()
    # Whether the prompt steers the fill. A backend that ignores it (classical hole filling) can only *remove*
    # an object: the generator then asks for a removal plan, so no sample claims a replacement it never got.
    follows_prompt: bool = True

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abc.abstractmethod
    def inpaint(self, request: InpaintRequest) -> InpaintResult: ...

    def inpaint_batch(self, requests: list[InpaintRequest]) -> list[InpaintResult]:
        """Several requests, results in the same order. Backends that batch on a GPU (the diffusion ones)
        override this; the default is one ``inpaint`` call each, so callers can use it with any backend."""
        return [self.inpaint(request) for request in requests]

    def describe(self) -> dict[str, Any]:
        """What goes into ``backend_params``: everything needed to reproduce a call."""
        return {"backend": self.name, **self.params}

    def recipe(self) -> dict[str, Any]:
        """What made this backend's pixels beyond its params (``builder.recipes``): its class, the libraries,
        and for model backends the checkpoints' revisions, pipeline and scheduler. Computed once."""
        if getattr(self, "_recipe", None) is None:
            from ..recipes import library_versions

            cls = type(self)
            self._recipe = {"backend_class": f"{cls.__module__}.{cls.__qualname__}", "device": "cpu",
                            "libraries": library_versions(), **self._model_recipe()}
        return self._recipe

    def _model_recipe(self) -> dict[str, Any]:
        return {}

    # ---- residency (builder.residency): only backends that hold a model on a device override these -----------

    # Whether the backend holds model weights that count against ``max_resident_models``.
    holds_model: bool = False

    @property
    def on_accelerator(self) -> bool:
        return False

    def to_accelerator(self) -> None:  # noqa: B027 - an optional hook: a no-op unless a backend holds weights
        """Put the weights (back) on the backend's device; cheap when they are there already."""

    def offload_to_cpu(self) -> None:  # noqa: B027 - an optional hook: a no-op unless a backend holds weights
        """Move the weights to CPU memory, to be brought back by ``to_accelerator``."""

    def enable_model_cpu_offload(self) -> None:
        raise NotImplementedError(f"{self.name} holds no model to offload")

    def close(self) -> None:  # noqa: B027 - an optional hook: a no-op unless a backend holds weights
        """Drop the weights: the backend is not used again."""


# Backends whose module is heavy to import (diffusers, transformers) register only when first asked for.
BACKENDS: Registry[InpaintBackend] = Registry(
    "inpainting backend",
    lazy={
        "sd_inpaint": "inpaintbench.builder.backends.sd",
        "sdxl_inpaint": "inpaintbench.builder.backends.sdxl",
        "sd3_inpaint": "inpaintbench.builder.backends.sd3",
        "kandinsky22_inpaint": "inpaintbench.builder.backends.kandinsky",
        "flux_fill": "inpaintbench.builder.backends.flux",
        "controlnet_inpaint": "inpaintbench.builder.backends.controlnet",
        "auto_inpaint": "inpaintbench.builder.backends.auto",
        "learned_inpaint": "inpaintbench.builder.backends.learned",
    },
)
LAZY_BACKENDS = BACKENDS.lazy  # the same dict, not a copy
register_backend = BACKENDS.register


def create_backend(name: str, **params: Any) -> InpaintBackend:
    return BACKENDS.create(name, **params)
