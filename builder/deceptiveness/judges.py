"""The judge interface of the protocol, and the registry of judges.

A judge answers two questions, using only the ``rng`` it is given for any randomness (so a trial's answers
are a function of the trial's seed):

- ``answer_single(image, rng)``: is this photo real? -> ``"real"``, ``"edited"``, or ``None`` (no usable answer);
- ``answer_pair(first, second, rng)``: which of the two was edited? -> ``"first"``, ``"second"`` or ``None``.

Images are H x W x 3 uint8 RGB arrays. ``describe()`` is what identifies a judge's configuration in the
assessment sidecar: two runs with equal descriptions (and equal trials and seed) are the same assessment.
"""

from __future__ import annotations

import abc
import importlib
from typing import Any, Callable

import numpy as np

REAL, EDITED = "real", "edited"
FIRST, SECOND = "first", "second"


class Judge(abc.ABC):
    name: str = ""

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abc.abstractmethod
    def answer_single(self, image: np.ndarray, rng: np.random.Generator) -> str | None: ...

    @abc.abstractmethod
    def answer_pair(self, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> str | None: ...

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params}


JUDGES: dict[str, Callable[..., Judge]] = {}

# Judges whose modules are imported only when asked for: the VLM judge pulls in transformers.
_LAZY_MODULES = {
    "detector": "inpaintbench.builder.deceptiveness.detector_judge",
    "vlm": "inpaintbench.builder.deceptiveness.vlm_judge",
}


def register_judge(name: str):
    def decorator(cls):
        if name in JUDGES:
            raise ValueError(f"judge {name!r} is registered twice")
        cls.name = name
        JUDGES[name] = cls
        return cls

    return decorator


def create_judge(name: str, **params: Any) -> Judge:
    if name not in JUDGES and name in _LAZY_MODULES:
        importlib.import_module(_LAZY_MODULES[name])
    try:
        factory = JUDGES[name]
    except KeyError:
        known = sorted(set(JUDGES) | set(_LAZY_MODULES))
        raise ValueError(f"unknown judge {name!r}; known: {', '.join(known)}") from None
    return factory(**params)
