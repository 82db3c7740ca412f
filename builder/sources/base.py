"""The source protocol the generator uses, and the registry of source types.

A source is a named collection of photos with annotated objects. The generator only ever calls
``list_image_ids()`` (to split work deterministically) and ``load(image_id)`` (per image, in any process).
``load`` never raises for bad data: a photo that cannot be used comes back as ``SkippedInput`` with a reason
that names the file, so a run goes on and the manifest can count it.

Source types are plug-ins like backends, planners, judges and detectors: an ``inpaintbench.registry.Registry``
(``SOURCE_TYPES``), joined with ``@register_source_type("coco")``. The built-in types are listed by module in its
``lazy`` map and imported on first use, so a run reads only the source modules it uses and nothing registers as
a side effect of importing this package.
"""

from __future__ import annotations

import abc
import inspect
from typing import Any

from inpaintbench.registry import Registry

from ..scene import Scene, SkippedInput


class SourceConfigError(ValueError):
    """A source cannot be set up (bad spec, unreadable annotation file): names the file/spec and the problem."""


class Source(abc.ABC):
    name: str  # set by the instance: it goes into every sample's ``source`` column and sample id

    @abc.abstractmethod
    def list_image_ids(self) -> list[str]:
        """All image ids, sorted; cheap (no pixel is read) and the same on every call and in every process."""

    @abc.abstractmethod
    def load(self, image_id: str) -> Scene | SkippedInput:
        """The normalised photo and its usable objects, or why it cannot be used. ``KeyError`` for an unknown id."""

    def __len__(self) -> int:
        return len(self.list_image_ids())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


SOURCE_TYPES: Registry[Source] = Registry(
    "source type",
    lazy={name: f"inpaintbench.builder.sources.{name}" for name in ("coco", "embedded", "folder", "openimages")},
    name_attribute="source_type",
)
# Class or factory decorator: ``build_sources`` calls it with the spec's keys (minus ``type``) as kwargs.
register_source_type = SOURCE_TYPES.register


def known_source_types() -> list[str]:
    return SOURCE_TYPES.known()


def create_source(spec: dict[str, Any], **defaults: Any) -> Source:
    """One source from a spec such as ``{"type": "coco", "name": "mine", "images": DIR, "annotations": FILE}``.

    ``defaults`` (e.g. ``max_side=1024``) apply where the spec does not say otherwise.
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise SourceConfigError(f"a source spec must be a mapping with a 'type' key, got {spec!r}")
    params = dict(spec)
    type_name = params.pop("type")
    if type_name not in known_source_types():
        raise SourceConfigError(
            f"unknown source type {type_name!r} in spec {spec!r}; known: {', '.join(known_source_types())}"
        )
    factory = SOURCE_TYPES.get_class(type_name)
    signature = inspect.signature(factory)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    # Run-wide defaults go only to types that take them: a type without e.g. max_pixels must still build.
    kwargs = {k: v for k, v in defaults.items() if takes_any or k in signature.parameters}
    kwargs.update(params)
    try:
        signature.bind(**kwargs)
    except TypeError as error:  # an unknown or missing key in the spec
        raise SourceConfigError(f"bad spec for source type {type_name!r}: {error} (spec: {spec!r})") from None
    return factory(**kwargs)


def build_sources(specs: list[dict[str, Any]], **defaults: Any) -> list[Source]:
    """Sources in spec order. Names must be unique: they prefix every sample id."""
    sources = [create_source(spec, **defaults) for spec in specs]
    seen: dict[str, dict] = {}
    for source, spec in zip(sources, specs, strict=False):
        if source.name in seen:
            raise SourceConfigError(
                f"two sources are named {source.name!r} ({seen[source.name]!r} and {spec!r}); "
                "give one a different 'name'"
            )
        seen[source.name] = spec
    return sources
