"""The embedded sample set: real photos read from installed packages, with hand-checked COCO polygon annotations.

``EMBEDDED_ANNOTATIONS`` is a COCO JSON whose ``file_name`` fields are catalogue names (``"skimage/astronaut"``);
read it as a COCO source whose image loader is ``load_photo``.
"""

from __future__ import annotations

from pathlib import Path

from .catalog import CATALOG, CatalogPhoto, PhotoUnavailableError, list_photos, load_photo, photo_path

# Shipped as package data (pyproject's package-data includes *.json), so the path holds in a wheel too.
EMBEDDED_ANNOTATIONS: Path = Path(__file__).resolve().parent / "annotations.json"

__all__ = [
    "CATALOG",
    "CatalogPhoto",
    "EMBEDDED_ANNOTATIONS",
    "PhotoUnavailableError",
    "list_photos",
    "load_photo",
    "photo_path",
]
