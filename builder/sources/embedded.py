"""The embedded default source: photos that ship inside installed packages, with the repo's hand-made COCO polygons.

It is the COCO source with ``builder.embedded.load_photo`` as its image loader, so the embedded set and a user's
own COCO folder go through exactly the same code (rasterisation, frame checks, normalisation, skip reasons).
"""

from __future__ import annotations

from ..image_io import DEFAULT_MAX_PIXELS
from .base import register_source_type
from .coco import CocoSource


@register_source_type("embedded")
def embedded_source(
    name: str = "embedded", max_side: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> CocoSource:
    # Imported here: the catalogue finds packages' files at call time, and nothing else needs it loaded.
    from ..embedded import EMBEDDED_ANNOTATIONS, load_photo

    # file_name is a catalogue name ("skimage/astronaut"); its stem makes readable sample ids.
    return CocoSource(
        annotations=EMBEDDED_ANNOTATIONS,
        name=name,
        image_loader=load_photo,
        max_side=max_side,
        max_pixels=max_pixels,
        image_ids="file_name",
    )
