"""A COCO-format source: a folder of photos plus a COCO JSON (COCO itself, or OpenImages/LVIS converted to it).

Annotation frame. COCO gives each image a ``width``/``height``; masks are rasterised in that frame. A phone photo
often stores a landscape bitmap plus an EXIF tag saying "turn it upright", and annotation tools disagree on which
frame they annotate in (labelme, Label Studio and CVAT use the upright one; tools reading pixels with OpenCV or old
browsers used the stored one). So the frame is told by size: if the JSON size equals the upright size, masks are
used as they are; if it equals the stored size only, masks get the same transpose as the photo. When both sizes
agree (a flip, a 180-degree turn, or a square photo) size cannot tell: ``annotation_frame="auto"`` then assumes
the upright frame and says so in the scene's record; set ``"raw"`` or ``"oriented"`` to decide it. A size
matching neither frame makes the image unusable (its annotations belong to some other version of the file).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..image_io import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    check_pixel_budget,
    normalize_image,
    open_image,
    transpose_like_exif,
)
from ..scene import Scene, SceneObject, SkippedInput
from .base import Source, SourceConfigError, register_source_type
from .coco_masks import DegenerateObject, rasterize_segmentation

ANNOTATION_FRAMES = ("auto", "oriented", "raw")
IMAGE_ID_KEYS = ("id", "file_name")

# What a custom loader may raise for a bad photo; anything else is a bug in the loader and should surface.
_BAD_PHOTO_ERRORS = (OSError, ValueError, LookupError, SyntaxError, EOFError)


@register_source_type("coco")
class CocoSource(Source):
    def __init__(
        self,
        annotations: str | Path,
        images: str | Path | None = None,
        name: str = "coco",
        image_loader: Callable[[str], Image.Image] | None = None,
        max_side: int | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        annotation_frame: str = "auto",
        image_ids: str = "id",
        keep_images_without_objects: bool = False,
    ) -> None:
        """
        annotations: COCO JSON. images: folder that ``file_name`` is relative to (needed unless ``image_loader``
        is given). image_loader: ``file_name -> PIL image`` (not yet oriented; decoding may be lazy) replacing
        file reading. image_ids: ``"id"`` (COCO's numeric id) or ``"file_name"`` (its stem, readable in sample
        ids). keep_images_without_objects: yield scenes with no usable object instead of skipping them.
        """
        self.name = str(name)
        self.annotations_path = Path(annotations)
        self.images_dir = Path(images) if images is not None else None
        if image_loader is None and self.images_dir is None:
            raise SourceConfigError(f"source {self.name!r}: give 'images' (a folder) or an image_loader")
        if self.images_dir is not None and not self.images_dir.is_dir():
            raise SourceConfigError(f"source {self.name!r}: images folder {self.images_dir} does not exist")
        if annotation_frame not in ANNOTATION_FRAMES:
            raise SourceConfigError(f"source {self.name!r}: annotation_frame must be one of {ANNOTATION_FRAMES}")
        if image_ids not in IMAGE_ID_KEYS:
            raise SourceConfigError(f"source {self.name!r}: image_ids must be one of {IMAGE_ID_KEYS}")
        self.image_loader = image_loader
        self.max_side = max_side
        self.max_pixels = max_pixels
        self.annotation_frame = annotation_frame
        self.keep_images_without_objects = keep_images_without_objects
        self._coco = _read_coco(self.annotations_path)
        self._images, self._licenses = _index_images(self._coco, image_ids, self.annotations_path)

    def list_image_ids(self) -> list[str]:
        return sorted(self._images)

    def fingerprint(self) -> str:
        """sha256 of the annotation file: a resumed run refuses annotations edited in place under the same path."""
        return hashlib.sha256(self.annotations_path.read_bytes()).hexdigest()

    def photo_state(self) -> str | None:
        """sha256 of every listed photo's (file_name, size, mtime): a resumed run refuses photos replaced in place.
        Stat, not content: a 95k-photo source is stat-ed in seconds, where hashing would read every byte at each
        resume. Machine-local (mtimes differ between copies), so the claim compares it but the manifest omits it."""
        if self.images_dir is None or self.image_loader is not None:
            return None
        digest = hashlib.sha256()
        for image_id in sorted(self._images):
            file_name = str(self._images[image_id]["file_name"])
            path = self._photo_path(file_name)
            try:
                stat = path.stat() if path is not None else None
            except (OSError, ValueError):  # ValueError: a NUL byte in the name (load skips it)
                stat = None  # missing now: the load says so; the state still changes if it appears
            state = "missing" if stat is None else f"{stat.st_size}:{stat.st_mtime_ns}"
            digest.update(f"{file_name}\x1e{state}\x1f".encode())
        return digest.hexdigest()

    def _photo_path(self, file_name: str) -> Path | None:
        """``images_dir / file_name`` if it stays inside ``images_dir`` (lexically, so symlinked folders work),
        else None: a ``file_name`` with ``..`` or an absolute path elsewhere must not read files outside it."""
        root = os.path.normpath(self.images_dir)
        candidate = os.path.normpath(os.path.join(root, file_name))
        if os.path.commonpath([root, candidate]) != root:
            return None
        return Path(candidate)

    def load(self, image_id: str) -> Scene | SkippedInput:
        try:
            info = self._images[image_id]
        except KeyError:
            raise KeyError(f"source {self.name!r} has no image {image_id!r}") from None
        file_name = str(info["file_name"])
        label = str(self.images_dir / file_name) if self.images_dir is not None else file_name

        def skip(reason: str) -> SkippedInput:
            return SkippedInput(source=self.name, image_id=image_id, path=label, reason=reason)

        width, height = _positive_int(info.get("width")), _positive_int(info.get("height"))
        if width is None or height is None:
            return skip(
                f"{label}: image entry in {self.annotations_path} lacks a valid width/height "
                f"({info.get('width')!r} x {info.get('height')!r})"
            )
        if self.image_loader is None and "\x00" in file_name:
            # No file system takes a NUL in a name (os.stat raises ValueError, not OSError): say so, read nothing.
            return skip(f"{label}: file_name {file_name!r} in {self.annotations_path} contains a NUL byte: not read")
        if self.image_loader is None and self.images_dir is not None and self._photo_path(file_name) is None:
            return skip(
                f"{label}: file_name {file_name!r} in {self.annotations_path} points outside the images folder "
                f"{self.images_dir} ('..' or an absolute path): not read"
            )
        try:
            raw = self._open(file_name, label)
            photo = None
            try:
                photo = normalize_image(raw, max_side=self.max_side, path=label)
            finally:
                _close_unless_kept(raw, photo)
        except ImageLoadError as error:
            return skip(str(error))
        except Image.DecompressionBombError as error:  # a custom loader opening under PIL's global guard
            return skip(f"{label}: over PIL's pixel limit, possible decompression bomb ({error})")
        except _BAD_PHOTO_ERRORS as error:
            return skip(f"{label}: cannot load ({type(error).__name__}: {error})")

        frame = self._annotation_frame(photo.raw_size, photo.oriented_size, (width, height), photo.exif_orientation)
        if frame is None:
            return skip(
                f"{label}: photo is {_wh(photo.raw_size)} ({_wh(photo.oriented_size)} upright, EXIF orientation "
                f"{photo.exif_orientation}) but {self.annotations_path.name} says {width}x{height}"
            )
        objects, skipped_objects = self._objects(info["id"], width, height, frame, photo)
        record = {"annotation_frame": frame, **photo.record}
        if frame == "oriented" and photo.exif_orientation != 1 and photo.raw_size == photo.oriented_size:
            record["annotation_frame_assumed"] = True  # sizes cannot tell; see module docstring
        if not objects and not self.keep_images_without_objects:
            detail = "; ".join(f"object {s['object_id']}: {s['reason']}" for s in skipped_objects) or "none annotated"
            return skip(f"{label}: no usable object ({detail})")
        return Scene(
            source=self.name,
            image_id=image_id,
            image=photo.image,
            objects=objects,
            license=self._licenses.get(info.get("license"), str(info.get("license", "") or "")),
            caption=str(info.get("caption", "") or ""),
            extra={"file_name": file_name, "normalisation": record, "skipped_objects": skipped_objects},
        )

    def _open(self, file_name: str, label: str) -> Image.Image:
        if self.image_loader is not None:
            image = self.image_loader(file_name)
            if not isinstance(image, Image.Image):
                raise ImageLoadError(label, f"image loader returned {type(image).__name__}, not a PIL image")
            try:
                check_pixel_budget(image, self.max_pixels, label)
            except ImageLoadError:
                image.close()
                raise
            return image
        return open_image(self._photo_path(file_name), max_pixels=self.max_pixels)

    def _annotation_frame(self, raw_size, oriented_size, json_size, orientation) -> str | None:
        if self.annotation_frame != "auto":
            expected = oriented_size if self.annotation_frame == "oriented" else raw_size
            return self.annotation_frame if json_size == expected else None
        if json_size == oriented_size:
            return "oriented"
        if json_size == raw_size:
            return "raw"
        return None

    def _objects(self, coco_image_id, width, height, frame, photo) -> tuple[list[SceneObject], list[dict]]:
        objects, skipped = [], []
        ann_ids = sorted(self._coco.getAnnIds(imgIds=[coco_image_id]))
        for ann in self._coco.loadAnns(ann_ids):
            object_id = str(ann["id"])
            category = self._coco.cats.get(ann.get("category_id"), {}).get("name")
            if not category:
                skipped.append({"object_id": object_id, "reason": f"unknown category_id {ann.get('category_id')!r}"})
                continue
            try:
                mask = rasterize_segmentation(ann.get("segmentation"), width, height)
            except DegenerateObject as error:
                skipped.append({"object_id": object_id, "reason": f"degenerate segmentation: {error}"})
                continue
            if frame == "raw":
                mask = transpose_like_exif(mask, photo.exif_orientation)
            if mask.shape != (photo.image.height, photo.image.width):
                mask = _resize_mask(mask, photo.image.size)
                if not mask.any():
                    skipped.append({"object_id": object_id, "reason": "mask vanishes when downscaled"})
                    continue
            objects.append(
                SceneObject(
                    object_id=object_id,
                    category=str(category),
                    mask=mask,
                    bbox=_mask_bbox(mask),
                    iscrowd=bool(ann.get("iscrowd", 0)),
                )
            )
        return objects, skipped


def _read_coco(path: Path):
    # pycocotools' COCO(path) prints progress and raises bare errors; read and check the JSON ourselves.
    from pycocotools.coco import COCO

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise SourceConfigError(f"{path}: annotation file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SourceConfigError(f"{path}: cannot read annotation file ({error})") from None
    except json.JSONDecodeError as error:
        raise SourceConfigError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise SourceConfigError(f"{path}: COCO JSON must be an object with images/annotations/categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise SourceConfigError(f"{path}: COCO JSON lacks a '{key}' list")
    for key, required in (("images", ("id", "file_name")), ("annotations", ("id", "image_id")),
                          ("categories", ("id", "name"))):
        for index, entry in enumerate(data[key]):
            missing = [k for k in required if not isinstance(entry, dict) or k not in entry]
            if missing:
                raise SourceConfigError(f"{path}: {key}[{index}] lacks {', '.join(missing)}")
    for key in ("annotations", "categories"):
        # pycocotools indexes by id and would silently keep only the last of two entries sharing one.
        seen: set = set()
        for entry in data[key]:
            if entry["id"] in seen:
                raise SourceConfigError(f"{path}: two {key} have the id {entry['id']!r}")
            seen.add(entry["id"])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _index_images(coco, image_ids: str, path: Path) -> tuple[dict[str, dict], dict[Any, str]]:
    images: dict[str, dict] = {}
    for info in coco.dataset["images"]:
        key = str(info["id"]) if image_ids == "id" else Path(str(info["file_name"])).stem
        if key in images:
            raise SourceConfigError(f"{path}: two images have the id {key!r} (image_ids={image_ids!r})")
        images[key] = info
    licenses = {}
    for entry in coco.dataset.get("licenses", []) or []:
        if isinstance(entry, dict) and "id" in entry:
            licenses[entry["id"]] = " ".join(str(entry.get(k, "")) for k in ("name", "url") if entry.get(k))
    return images, licenses


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    # Box filter = fraction of each output pixel covered; >= half covered counts as inside. Same geometry as the
    # photo's resize (both map the whole frame onto the whole frame), so mask and pixels stay aligned.
    coverage = Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BOX)
    return np.asarray(coverage) >= 128


def _mask_bbox(mask: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)


def _close_unless_kept(raw: Image.Image, photo) -> None:
    # normalize_image hands back the very same object when nothing needed changing; closing it would break it.
    if photo is None or photo.image is not raw:
        raw.close()


def _positive_int(value: Any) -> int | None:
    # Converters (OpenImages, Label Studio) sometimes write sizes as 640.0; accept integral floats only.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value <= 0:
        return None
    return int(value)


def _wh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"
