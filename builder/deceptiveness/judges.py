"""The judge interface of the protocol, and the registry of judges.

A judge answers two questions, using only the ``rng`` it is given for any randomness (so a trial's answers
are a function of the trial's seed):

- ``answer_single(image, rng)``: is this photo real? -> ``"real"``, ``"edited"``, or ``None`` (no usable answer);
- ``answer_pair(first, second, rng)``: which of the two was edited? -> ``"first"``, ``"second"`` or ``None``.

Images are H x W x 3 uint8 RGB arrays. ``describe()`` is what identifies a judge's configuration in the
assessments file: two runs with equal descriptions (and equal trials and seed) are the same assessment.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from inpaintbench.registry import Registry

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


# Judges whose modules are imported only when asked for: the VLM judge pulls in transformers.
JUDGES: Registry[Judge] = Registry(
    "judge",
    lazy={
        "detector": "inpaintbench.harness.detector_judge",  # by name: builder/ never imports harness/
        "vlm": "inpaintbench.builder.deceptiveness.vlm_judge",
    },
)
register_judge = JUDGES.register


def create_judge(name: str, **params: Any) -> Judge:
    return JUDGES.create(name, **params)
