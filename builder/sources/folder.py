"""The "folder" source: a directory of photos without annotations, objects found by a segmentation model
(``builder.saor.segmenter``; captions by ``builder.saor.captioner``).

Spec: ``{"type": "folder", "images": DIR, "segmenter": ID_OR_PATH, "captioner": ID_OR_PATH (optional)}``.
Photos go through the same ``image_io`` normalisation as every other source. Models are loaded on the first
``load`` (not in ``__init__``), so listing is cheap and each worker process loads its own copy. A photo that
cannot be read, or in which the model finds no usable object, comes back as ``SkippedInput`` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..image_io import DEFAULT_MAX_PIXELS, ImageLoadError, load_image_with_record
from ..scene import Scene, SkippedInput
from .base import Source, SourceConfigError, register_source_type

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


@register_source_type("folder")
class FolderSource(Source):
    def __init__(
        self,
        images: str | Path,
        segmenter: str,
        name: str = "folder",
        captioner: str | None = None,
        segmenter_params: dict[str, Any] | None = None,
        captioner_params: dict[str, Any] | None = None,
        max_side: int | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        recursive: bool = True,
    ) -> None:
        self.name = str(name)
        self.images_dir = Path(images)
        if not self.images_dir.is_dir():
            raise SourceConfigError(f"source {self.name!r}: images folder {self.images_dir} does not exist")
        if not segmenter:
            raise SourceConfigError(f"source {self.name!r}: a folder source needs a 'segmenter' model id or path")
        self.segmenter_name = str(segmenter)
        self.captioner_name = str(captioner) if captioner else None
        self.segmenter_params = dict(segmenter_params or {})
        self.captioner_params = dict(captioner_params or {})
        self.max_side = max_side
        self.max_pixels = max_pixels
        pattern = "**/*" if recursive else "*"
        self._ids = sorted(
            p.relative_to(self.images_dir).as_posix()
            for p in self.images_dir.glob(pattern)
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        self._segmenter = None
        self._captioner = None

    def list_image_ids(self) -> list[str]:
        return list(self._ids)

    def _models(self):
        if self._segmenter is None:
            from ..saor.segmenter import Segmenter

            self._segmenter = Segmenter(self.segmenter_name, **self.segmenter_params)
            if self.captioner_name:
                from ..saor.captioner import Captioner

                self._captioner = Captioner(self.captioner_name, **self.captioner_params)
        return self._segmenter, self._captioner

    def load(self, image_id: str) -> Scene | SkippedInput:
        if image_id not in self._ids:
            raise KeyError(f"source {self.name!r} has no image {image_id!r}")
        path = self.images_dir / image_id

        def skip(reason: str) -> SkippedInput:
            return SkippedInput(source=self.name, image_id=image_id, path=str(path), reason=reason)

        try:
            photo = load_image_with_record(path, max_side=self.max_side, max_pixels=self.max_pixels)
        except ImageLoadError as error:
            return skip(str(error))
        except Image.DecompressionBombError as error:
            return skip(f"{path}: over PIL's pixel limit, possible decompression bomb ({error})")
        # Model errors (ModelNotFound) are configuration errors, not bad photos: they propagate and stop the run.
        segmenter, captioner = self._models()
        objects = segmenter.segment(photo.image)
        if not objects:
            return skip(f"{path}: segmentation model {self.segmenter_name!r} found no usable object")
        caption = captioner.caption(photo.image) if captioner is not None else ""
        return Scene(
            source=self.name,
            image_id=image_id,
            image=photo.image,
            objects=objects,
            caption=caption,
            extra={
                "file_name": image_id,
                "normalisation": photo.record,
                "segmenter": self.segmenter_name,
                "captioner": self.captioner_name or "",
            },
        )
