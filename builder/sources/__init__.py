"""Photo sources: what the generator reads scenes from. See ``base`` for the protocol and the type registry.

Built-in types: ``"coco"`` (a folder + COCO JSON), ``"embedded"`` (the default set shipped with the repo),
``"folder"`` (photos without annotations, segmented by a model), ``"openimages"`` (Open Images V7 segmentation:
photos, mask PNGs, the masks CSV and the class names CSV).
"""

from __future__ import annotations

from .base import (
    SOURCE_TYPES,
    Source,
    SourceConfigError,
    build_sources,
    create_source,
    known_source_types,
    register_source_type,
)

DEFAULT_SOURCE_SPECS: list[dict] = [{"type": "embedded"}]

__all__ = [
    "DEFAULT_SOURCE_SPECS",
    "SOURCE_TYPES",
    "Source",
    "SourceConfigError",
    "build_sources",
    "create_source",
    "known_source_types",
    "register_source_type",
]
