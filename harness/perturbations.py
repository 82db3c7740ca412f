"""Post-processing perturbations for the robustness track: what an image goes through on its way to a detector
after it leaves the forger (social-media laundering: recompression, downscaling, blur, noise).

A perturbation is parsed from a spec string: ``kind:param`` (``jpeg:75``, ``webp:80``, ``resize:0.5``,
``blur:1.0``, ``noise:5``), ``none`` (the clean image), or a chain ``resize:0.5+jpeg:75`` applied left to
right. Every kind is a ``Registry`` entry (``PERTURBATIONS``), so a new one is a class with ``@register``.

Each perturbation is a pure function of (image, sample id): the same input gives the same bytes on every run
and in every process. The only random one, ``noise``, draws from a generator seeded by the sample id (not by
work order), so a distributed evaluation perturbs exactly as a one-process one. Codecs and filters are
Pillow's and OpenCV's; nothing here re-implements them.
"""

from __future__ import annotations

import abc
import io
import math
from typing import Any

import cv2
import numpy as np
from PIL import Image

from inpaintbench.ids import derive_seed
from inpaintbench.registry import Registry

IDENTITY = "none"
CHAIN_SEPARATOR = "+"
LIST_SEPARATOR = ","  # several specs in one --perturb value: one evaluation each


class PerturbationSpecError(ValueError):
    """A spec that cannot be parsed; the message quotes the spec and says what is wrong."""


class Perturbation(abc.ABC):
    """One step. ``param_help`` is shown in errors; subclasses parse ``param`` in ``parse_param``."""

    name: str = ""  # set by the registry
    param_help: str = ""
    example: str = ""  # a valid parameter, quoted in the error for a missing one

    def __init__(self, param: str | None, spec: str) -> None:
        self.value = self.parse_param(param, spec)

    @abc.abstractmethod
    def parse_param(self, param: str | None, spec: str) -> Any: ...

    @abc.abstractmethod
    def apply(self, image: np.ndarray, sample_id: str) -> np.ndarray:
        """H x W x 3 uint8 RGB in, H' x W' x 3 uint8 RGB out (C-contiguous)."""

    @property
    def spec(self) -> str:
        """Canonical form (``resize:0.50`` and ``resize:.5`` both read back as ``resize:0.5``): results keyed by it."""
        return f"{self.name}:{_format_number(self.value)}"

    def steps(self) -> list[dict]:
        return [{"kind": self.name, "param": self.value}]


PERTURBATIONS: Registry[Perturbation] = Registry("perturbation")


def _format_number(value: float | int) -> str:  # ints (qualities) print as ints
    return str(value) if isinstance(value, int) else f"{value:g}"


def _number(kind: str, param: str | None, spec: str, help_text: str, example: str, *, integer: bool, low: float,
            high: float, low_open: bool = False) -> float | int:
    """The one numeric parameter of a step, range-checked; ``low_open``: ``low`` itself is out of range."""
    if param is None or param.strip() == "":
        raise PerturbationSpecError(f"perturbation {spec!r}: {kind!r} needs a parameter ({help_text}), "
                                    f"e.g. {kind}:{example}")
    text = param.strip()
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        expected = "an integer" if integer else "a number"
        raise PerturbationSpecError(f"perturbation {spec!r}: {kind} parameter {text!r} is not {expected} "
                                    f"({help_text})") from None
    if not integer and not math.isfinite(value):
        raise PerturbationSpecError(f"perturbation {spec!r}: {kind} parameter {text!r} is not finite ({help_text})")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise PerturbationSpecError(f"perturbation {spec!r}: {kind} parameter {_format_number(value)} is out of range "
                                    f"{bracket}{_format_number(low)}, {_format_number(high)}] ({help_text})")
    return value


def _rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"perturbations take an H x W x 3 uint8 RGB array, got shape {arr.shape} dtype {arr.dtype}")
    return arr


def _encode_decode(image: np.ndarray, fmt: str, **options: Any) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(_rgb(image), "RGB").save(buffer, format=fmt, **options)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.ascontiguousarray(np.asarray(decoded.convert("RGB")))


@PERTURBATIONS.register(IDENTITY)
class Identity(Perturbation):
    """The image as submitted: the clean track every perturbed one is compared with."""

    param_help = "takes no parameter"

    def parse_param(self, param, spec):
        if param is not None:
            raise PerturbationSpecError(f"perturbation {spec!r}: {IDENTITY!r} takes no parameter")

    @property
    def spec(self) -> str:
        return IDENTITY

    def steps(self) -> list[dict]:
        return []

    def apply(self, image, sample_id):
        return _rgb(image)


@PERTURBATIONS.register("jpeg")
class Jpeg(Perturbation):
    """Pillow (libjpeg) at the given quality, 4:2:0 chroma subsampling stated, not left to Pillow's default:
    what photo-sharing sites do, and the subsampling changes the bytes as much as the quality does."""

    param_help = "JPEG quality, an integer 1-100"
    example = "75"

    def parse_param(self, param, spec):
        return _number(self.name, param, spec, self.param_help, self.example, integer=True, low=1, high=100)

    def apply(self, image, sample_id):
        return _encode_decode(image, "JPEG", quality=self.value, subsampling="4:2:0", optimize=False)


@PERTURBATIONS.register("webp")
class Webp(Perturbation):
    """Lossy WebP through Pillow (libwebp), method 4 (Pillow's default, stated so it cannot drift)."""

    param_help = "WebP quality, an integer 1-100 (lossy)"
    example = "80"

    def parse_param(self, param, spec):
        return _number(self.name, param, spec, self.param_help, self.example, integer=True, low=1, high=100)

    def apply(self, image, sample_id):
        return _encode_decode(image, "WEBP", quality=self.value, method=4, lossless=False)


@PERTURBATIONS.register("resize")
class Resize(Perturbation):
    """Scale both sides by a factor (rounded, at least 1 px): OpenCV area averaging when shrinking (what a
    downscaler does without aliasing), bicubic when enlarging. The predicted map comes back at the new size
    and the harness resizes it to the ground truth's native size, like any other map."""

    param_help = "scale factor in (0, 4], e.g. 0.5 halves each side"
    example = "0.5"

    def parse_param(self, param, spec):
        return float(
            _number(
                self.name, param, spec, self.param_help, self.example, integer=False, low=0.0, high=4.0, low_open=True
            )
        )

    def apply(self, image, sample_id):
        arr = _rgb(image)
        h, w = arr.shape[:2]
        size = (max(1, round(w * self.value)), max(1, round(h * self.value)))  # cv2 wants (width, height)
        if size == (w, h):
            return arr
        interpolation = cv2.INTER_AREA if self.value < 1.0 else cv2.INTER_CUBIC
        return np.ascontiguousarray(cv2.resize(arr, size, interpolation=interpolation))


@PERTURBATIONS.register("blur")
class Blur(Perturbation):
    """Gaussian blur, sigma in pixels (OpenCV picks the kernel size from sigma; reflected borders)."""

    param_help = "gaussian sigma in pixels, in (0, 20]"
    example = "1.0"

    def parse_param(self, param, spec):
        return float(
            _number(
                self.name, param, spec, self.param_help, self.example, integer=False, low=0.0, high=20.0, low_open=True
            )
        )

    def apply(self, image, sample_id):
        return cv2.GaussianBlur(_rgb(image), (0, 0), sigmaX=self.value, sigmaY=self.value,
                                borderType=cv2.BORDER_REFLECT_101)


@PERTURBATIONS.register("noise")
class Noise(Perturbation):
    """Additive gaussian noise, std in 0-255 units, independent per pixel and channel, rounded and clipped.
    Seeded by the sample id alone: reruns and any process split give the same noise for a sample, and
    different samples get different noise."""

    param_help = "gaussian std in 0-255 units, in (0, 100]"
    example = "5"

    def parse_param(self, param, spec):
        return float(
            _number(
                self.name, param, spec, self.param_help, self.example, integer=False, low=0.0, high=100.0, low_open=True
            )
        )

    def apply(self, image, sample_id):
        arr = _rgb(image)
        rng = np.random.default_rng(derive_seed(0, "perturbation-noise", sample_id))
        noisy = arr.astype(np.float32) + rng.normal(0.0, self.value, arr.shape).astype(np.float32)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


class Chain:
    """Steps applied left to right; ``spec`` is the canonical chain (``none`` when there are no steps)."""

    def __init__(self, steps: list[Perturbation]) -> None:
        self.parts = [s for s in steps if not isinstance(s, Identity)]

    @property
    def spec(self) -> str:
        return CHAIN_SEPARATOR.join(p.spec for p in self.parts) or IDENTITY

    @property
    def is_identity(self) -> bool:
        return not self.parts

    def apply(self, image: np.ndarray, sample_id: str) -> np.ndarray:
        out = _rgb(image)
        for part in self.parts:
            out = part.apply(out, sample_id)
        return out

    def describe(self) -> dict:
        """What a results file records: the spec, its steps and the codec/filter library versions (a JPEG
        encoder upgrade can move scores, so the numbers name what produced the bytes)."""
        import PIL

        if self.is_identity:
            return {"spec": IDENTITY, "steps": []}
        return {"spec": self.spec, "steps": [s for p in self.parts for s in p.steps()],
                "libraries": {"pillow": PIL.__version__, "opencv": cv2.__version__, "numpy": np.__version__}}


def parse_perturbation(spec: str) -> Chain:
    """``jpeg:75``, ``resize:0.5+jpeg:75``, ``none``: a Chain, or PerturbationSpecError naming the problem."""
    if not isinstance(spec, str) or not spec.strip():
        raise PerturbationSpecError(f"perturbation {spec!r}: empty spec (use {IDENTITY!r} for the clean image, "
                                    f"or one of {', '.join(PERTURBATIONS.known())})")
    text = spec.strip()
    pieces = text.split(CHAIN_SEPARATOR)
    steps: list[Perturbation] = []
    for piece in pieces:
        kind, colon, param = piece.strip().partition(":")
        kind = kind.strip().lower()
        if not kind:
            raise PerturbationSpecError(f"perturbation {text!r}: empty step in the chain (steps are joined by "
                                        f"{CHAIN_SEPARATOR!r}, e.g. resize:0.5+jpeg:75)")
        if kind not in PERTURBATIONS:
            raise PerturbationSpecError(f"perturbation {text!r}: unknown kind {kind!r}; known: "
                                        f"{', '.join(PERTURBATIONS.known())}")
        if kind == IDENTITY and len(pieces) > 1:
            raise PerturbationSpecError(f"perturbation {text!r}: {IDENTITY!r} cannot be part of a chain")
        steps.append(PERTURBATIONS.get_class(kind)(param if colon else None, text))
    return Chain(steps)


def parse_perturbation_list(values: list[str] | None) -> list[str]:
    """``--perturb`` values (each may be a comma-separated list) -> canonical specs, in order, without repeats.
    No value at all means the clean image only."""
    specs: list[str] = []
    for value in values or [IDENTITY]:
        for item in str(value).split(LIST_SEPARATOR):
            spec = parse_perturbation(item).spec
            if spec not in specs:
                specs.append(spec)
    return specs


def spec_slug(spec: str) -> str:
    """A file-name part for a canonical spec: ``resize:0.5+jpeg:75`` -> ``resize-0.5_jpeg-75``."""
    return spec.replace(":", "-").replace(CHAIN_SEPARATOR, "_")
