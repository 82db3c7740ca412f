"""The generation config: one dataclass, loadable from YAML/JSON, overridable from the CLI, hashed for resume.

Everything that changes what ends up in the shards lives here, so that ``config_hash`` (a sha256 of the
canonical JSON of those fields) identifies a build. ``out_dir`` is deliberately *not* hashed: moving or renaming
an output directory must not invalidate it. A different hash in an existing output directory is refused by the
generator (never silently mixed).

Every per-sample choice (mask variant, dilation, backend, seed, pristine or not) is drawn from
``inpaintbench.ids.derive_seed(seed, <sample identity>)`` by ``builder.draws``, never from work order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MASK_VARIANTS = ("object", "bbox", "convex_hull")
# Keys that say where and how a build runs, not what it makes: changing them resumes the same build.
EXECUTION_KEYS = ("out_dir", "max_resident_models", "offload")
CONFIG_FORMAT_VERSION = 1


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file (when there is one) and what is wrong."""


@dataclass
class BackendSpec:
    """One entry of the weighted backend mix: ``create_backend(name, **params)`` drawn with ``weight``."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


def _default_backends() -> list[BackendSpec]:
    # What runs on any CPU with nothing to download: three classical fills and the learned inpainter whose weights
    # ship in the package (docs/learned_inpainter.md), so the default benchmark has an AI generator in it too.
    # Diffusion backends join the same list from a config file.
    return [
        BackendSpec("opencv_telea"),
        BackendSpec("opencv_ns"),
        BackendSpec("patchmatch"),
        BackendSpec("learned_inpaint"),
    ]


@dataclass
class GenerateConfig:
    # Where images come from: specs for builder.sources.build_sources, in this order.
    sources: list[dict[str, Any]] = field(default_factory=lambda: [{"type": "embedded"}])
    seed: int = 0
    # Use only the first N images of the (sorted) work plan; None = all. For smoke runs and benchmarks.
    max_images: int | None = None
    # Object selection bounds (fraction of the image's pixels), crowd annotations skipped.
    min_area_fraction: float = 0.005
    max_area_fraction: float = 0.5
    min_object_pixels: int = 32 * 32  # COCO's own "small object" bound
    skip_crowd: bool = True
    objects_per_image: int = 2
    edits_per_object: int = 1
    # Mask shape variants and their weights; dilation drawn uniformly in [lo, hi] percent of the mask's area.
    mask_variants: dict[str, float] = field(
        default_factory=lambda: {"object": 0.5, "bbox": 0.25, "convex_hull": 0.25}
    )
    dilation_pct: tuple[float, float] = (0.0, 10.0)
    planner: str = "simple"
    planner_params: dict[str, Any] = field(default_factory=dict)
    backends: list[BackendSpec] = field(default_factory=_default_backends)
    # Target fraction of pristine samples among all samples (at most one pristine per image: see builder.draws).
    pristine_ratio: float = 0.25
    samples_per_shard: int = 16
    max_image_side: int = 512
    out_dir: str = "runs/embedded"
    # How the run executes, not what it makes (hence not hashed, and kept out of the manifest: builder.residency
    # makes the output byte-identical for every value). At most this many models on the accelerator at once;
    # the rest offloaded to CPU memory, unloaded, or run with diffusers' model CPU offload (OFFLOAD_CHOICES).
    max_resident_models: int = 1
    offload: str = "auto"

    # ---- derived -------------------------------------------------------------------------------------------

    @property
    def max_samples_per_image(self) -> int:
        return self.objects_per_image * self.edits_per_object + 1  # + the pristine one

    @property
    def images_per_shard(self) -> int:
        """Images per chunk, so that a shard can never exceed ``samples_per_shard`` samples."""
        return max(1, self.samples_per_shard // self.max_samples_per_image)

    # ---- (de)serialisation ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["dilation_pct"] = list(self.dilation_pct)
        return data

    def content_dict(self) -> dict[str, Any]:
        """The keys that decide what the shards hold (the manifest records these)."""
        data = self.to_dict()
        for key in EXECUTION_KEYS:
            data.pop(key)
        return data

    def hashed_dict(self) -> dict[str, Any]:
        """What identifies a build: everything but the output location and the execution settings."""
        data = self.content_dict()
        data["config_format_version"] = CONFIG_FORMAT_VERSION
        return data

    @property
    def config_hash(self) -> str:
        canonical = json.dumps(self.hashed_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "config") -> GenerateConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: expected a mapping of config keys, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        data = dict(data)
        if "backends" in data:
            data["backends"] = [
                _backend_spec(entry, origin) for entry in _as_list(data["backends"], "backends", origin)
            ]
        if "dilation_pct" in data:
            data["dilation_pct"] = tuple(_as_list(data["dilation_pct"], "dilation_pct", origin))
        if "sources" in data:
            data["sources"] = [
                dict(s) if isinstance(s, dict) else s for s in _as_list(data["sources"], "sources", origin)
            ]
        try:
            config = cls(**data)
        except TypeError as error:
            raise ConfigError(f"{origin}: {error}") from None
        config.validate(origin)
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> GenerateConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{path}: cannot read config file ({error.strerror or error})") from None
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:  # YAML is a superset of JSON, so anything else is parsed as YAML
                import yaml

                data = yaml.safe_load(text)
        except Exception as error:  # noqa: BLE001 - any parse error is reported the same way
            raise ConfigError(
                f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {error}"
            ) from None
        return cls.from_dict({} if data is None else data, origin=str(path))

    def replace(self, origin: str = "command line", **changes: Any) -> GenerateConfig:
        """A copy with ``changes`` applied (e.g. CLI overrides), validated again."""
        return GenerateConfig.from_dict({**self.to_dict(), **changes}, origin=origin)

    # ---- validation ----------------------------------------------------------------------------------------

    def validate(self, origin: str = "config") -> None:
        def fail(message: str) -> None:
            raise ConfigError(f"{origin}: {message}")

        if not self.sources:
            fail("no sources: give at least one (the default is the embedded set)")
        for spec in self.sources:
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
                fail(f"each source must be a mapping with a 'type' string, got {spec!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            fail(f"seed must be an integer, got {self.seed!r}")
        if self.max_images is not None and (not isinstance(self.max_images, int) or self.max_images < 1):
            fail(f"max_images must be a positive integer or null, got {self.max_images!r}")
        if not 0.0 <= self.min_area_fraction < self.max_area_fraction <= 1.0:
            fail(
                f"need 0 <= min_area_fraction < max_area_fraction <= 1, got "
                f"{self.min_area_fraction!r} and {self.max_area_fraction!r}"
            )
        if not isinstance(self.min_object_pixels, int) or self.min_object_pixels < 0:
            fail(f"min_object_pixels must be an integer >= 0, got {self.min_object_pixels!r}")
        for name in ("objects_per_image", "edits_per_object", "samples_per_shard", "max_image_side"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(f"{name} must be a positive integer, got {value!r}")
        if not self.mask_variants:
            fail("mask_variants is empty")
        for variant, weight in self.mask_variants.items():
            if variant not in MASK_VARIANTS:
                fail(f"unknown mask variant {variant!r}; known: {', '.join(MASK_VARIANTS)}")
            _check_weight(weight, f"mask_variants.{variant}", fail)
        if sum(self.mask_variants.values()) <= 0:
            fail("mask_variants weights sum to zero")
        if len(self.dilation_pct) != 2 or not all(_is_number(v) for v in self.dilation_pct):
            fail(f"dilation_pct must be [low, high] percent, got {list(self.dilation_pct)!r}")
        low, high = self.dilation_pct
        if not 0 <= low <= high:
            fail(f"dilation_pct needs 0 <= low <= high, got {list(self.dilation_pct)!r}")
        if not isinstance(self.planner, str) or not self.planner:
            fail(f"planner must be a registered planner name, got {self.planner!r}")
        if not self.backends:
            fail("backends is empty: give at least one {name, weight, params}")
        for spec in self.backends:
            _check_weight(spec.weight, f"backends.{spec.name}.weight", fail)
        if sum(spec.weight for spec in self.backends) <= 0:
            fail("backend weights sum to zero")
        if not _is_number(self.pristine_ratio) or not 0.0 <= self.pristine_ratio < 1.0:
            fail(f"pristine_ratio must be in [0, 1), got {self.pristine_ratio!r}")
        if not isinstance(self.max_resident_models, int) or isinstance(self.max_resident_models, bool) \
                or self.max_resident_models < 1:
            fail(f"max_resident_models must be an integer >= 1, got {self.max_resident_models!r}")
        from .residency import OFFLOAD_CHOICES

        if self.offload not in OFFLOAD_CHOICES:
            fail(f"offload must be one of {', '.join(OFFLOAD_CHOICES)}, got {self.offload!r}")
        if self.samples_per_shard < self.max_samples_per_image:
            fail(
                f"samples_per_shard ({self.samples_per_shard}) is smaller than one image's samples "
                f"(objects_per_image * edits_per_object + 1 = {self.max_samples_per_image})"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_weight(weight: Any, what: str, fail) -> None:
    if not _is_number(weight) or weight < 0:
        fail(f"{what} must be a finite number >= 0, got {weight!r}")


def _as_list(value: Any, key: str, origin: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{origin}: {key} must be a list, got {type(value).__name__}")
    return list(value)


def _backend_spec(entry: Any, origin: str) -> BackendSpec:
    if isinstance(entry, BackendSpec):
        return entry
    if isinstance(entry, str):
        return BackendSpec(entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"{origin}: each backend must be a name or {{name, weight, params}}, got {entry!r}")
    unknown = sorted(set(entry) - {"name", "weight", "params"})
    if unknown:
        raise ConfigError(f"{origin}: backend {entry['name']!r} has unknown key(s) {', '.join(unknown)}")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{origin}: backend {entry['name']!r} params must be a mapping, got {params!r}")
    return BackendSpec(entry["name"], entry.get("weight", 1.0), dict(params))


def parse_backend_option(text: str) -> BackendSpec:
    """CLI form ``name`` or ``name:weight`` (params come from a config file)."""
    name, _, weight = text.partition(":")
    if not name:
        raise ConfigError(f"--backend {text!r}: expected NAME or NAME:WEIGHT")
    try:
        return BackendSpec(name, float(weight) if weight else 1.0)
    except ValueError:
        raise ConfigError(f"--backend {text!r}: weight {weight!r} is not a number") from None
