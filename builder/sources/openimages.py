"""An Open Images V7 segmentation source: photos, per-object mask PNGs, the masks CSV and the class names CSV.

Spec: ``{"type": "openimages", "images": DIR, "masks": DIR or [DIR, ...], "masks_csv": FILE,
"class_descriptions": FILE}``, as Open Images ships them:

- ``masks_csv`` (``train-annotations-object-segmentation.csv``, ``validation-...``): header
  ``MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks``, one row per mask.
- ``masks``: the folders the mask zips unpack to (``train-masks-0`` .. ``train-masks-f`` are one folder each, split
  by the ImageID's first hex digit). A ``MaskPath`` is looked up in them in the order given; the first hit is used.
- ``class_descriptions``: ``oidv7-class-descriptions.csv`` (header ``LabelName,DisplayName``) or the older
  ``class-descriptions-boxable.csv`` (no header). The category is the DisplayName, lowercased like COCO's names.
- ``images``: ``<ImageID>.jpg``.

Mask geometry. A mask PNG is not at the photo's resolution (Open Images stores them reduced), so it is scaled to
the photo: nearest neighbour, each photo pixel taking the mask pixel that contains its centre (exact integer
arithmetic, so no rounding decides a tie differently on another machine). It is scaled to the photo's *stored*
size and then turned like the photo's EXIF orientation: Open Images annotated the pixels as stored (its images
carry no orientation, and the rotation it publishes turns "the image and boxes" together), so a copy that does
carry an EXIF tag is upright here and its masks follow. When ``max_side`` shrinks the photo, the mask follows with
the COCO source's box-coverage rule, so both sources align masks the same way.

Quality filter. ``min_predicted_iou`` (0 keeps every mask) drops masks whose PredictedIoU (the annotation tool's
own estimate of its quality) is lower, or unknown; an image left with no mask is not listed. The choice is in the
spec, hence in the build's config and manifest; each scene also records it with the count of masks it dropped.

Bad input: a malformed CSV stops the source at construction (``SourceConfigError`` naming the file and row); a
missing, unreadable or escaping photo skips the image, and a missing, unreadable, escaping or empty mask skips the
object, each with a reason naming the file. ``IsGroupOf`` lives in the boxes CSV, not here: no object is a crowd.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import sys
from pathlib import Path
from stat import S_ISREG
from typing import NamedTuple

import numpy as np
from PIL import Image

from inpaintbench.digests import sha256_file

from ..image_io import DEFAULT_MAX_PIXELS, ImageLoadError, normalize_image, open_image, transpose_like_exif
from ..scene import Scene, SceneObject, SkippedInput
from .base import Source, SourceConfigError, register_source_type

# Reused, not copied: an OpenImages mask shrunk for max_side must land where a COCO one would.
from .coco import _close_unless_kept, _mask_bbox, _resize_mask

MASK_COLUMNS = (
    "MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax", "PredictedIoU", "Clicks",
)
BOX_COLUMNS = ("BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax")
CLASS_HEADER = ("labelname", "displayname")
PHOTO_SUFFIX = ".jpg"
_SINGLE_CHANNEL_MODES = ("L", "I", "I;16", "I;16L", "I;16B", "I;16N")


class MaskRow(NamedTuple):
    line: int  # line of the masks CSV, for messages
    mask_path: str
    label: str  # LabelName, a MID such as /m/04yx4
    object_id: str
    predicted_iou: float | None


@register_source_type("openimages")
class OpenImagesSource(Source):
    def __init__(
        self,
        images: str | Path,
        masks: str | Path | list[str | Path],
        masks_csv: str | Path,
        class_descriptions: str | Path,
        name: str = "openimages",
        max_side: int | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        min_predicted_iou: float = 0.0,
    ) -> None:
        self.name = str(name)
        self.images_dir = Path(images)
        if not self.images_dir.is_dir():
            raise SourceConfigError(f"source {self.name!r}: images folder {self.images_dir} does not exist")
        mask_dirs = [masks] if isinstance(masks, (str, Path)) else masks
        if not isinstance(mask_dirs, (list, tuple)) or not mask_dirs or not all(
            isinstance(d, (str, Path)) for d in mask_dirs
        ):
            raise SourceConfigError(f"source {self.name!r}: 'masks' must be a folder or a non-empty list of folders")
        self.mask_dirs = [Path(d) for d in mask_dirs]
        self._mask_roots = [os.path.normpath(d) for d in self.mask_dirs]
        for folder in self.mask_dirs:
            if not folder.is_dir():
                raise SourceConfigError(f"source {self.name!r}: masks folder {folder} does not exist")
        if isinstance(min_predicted_iou, bool) or not isinstance(min_predicted_iou, (int, float)) or not (
            0.0 <= min_predicted_iou <= 1.0
        ):
            raise SourceConfigError(
                f"source {self.name!r}: min_predicted_iou must be a number in [0, 1], got {min_predicted_iou!r}"
            )
        self.masks_csv = Path(masks_csv)
        self.class_descriptions = Path(class_descriptions)
        self.max_side = max_side
        self.max_pixels = max_pixels
        self.min_predicted_iou = float(min_predicted_iou)
        self._classes = read_class_descriptions(self.class_descriptions)
        self._rows, self._dropped = read_masks_csv(self.masks_csv, self.min_predicted_iou)

    def list_image_ids(self) -> list[str]:
        return sorted(self._rows)

    def fingerprint(self) -> str:
        """sha256 over both CSVs: a resumed run refuses annotations or class names edited under the same path."""
        parts = f"{sha256_file(self.masks_csv)}\n{sha256_file(self.class_descriptions)}"
        return hashlib.sha256(parts.encode("ascii")).hexdigest()

    def photo_state(self) -> str | None:
        """sha256 of every listed photo's and mask's (path, size, mtime): a resumed run refuses either replaced in
        place. Stat, not content, like the COCO source; machine-local, so the manifest omits it."""
        digest = hashlib.sha256()
        for image_id in sorted(self._rows):
            digest.update(f"{image_id}{PHOTO_SUFFIX}\x1e{_stat_state(self._photo_path(image_id))}\x1f".encode())
            for row in self._rows[image_id]:
                found = _first_file(self._mask_candidates(row.mask_path))
                state = "missing" if found is None else f"{found[1].st_size}:{found[1].st_mtime_ns}"
                digest.update(f"{row.mask_path}\x1e{state}\x1f".encode())
        return digest.hexdigest()

    def _photo_path(self, image_id: str) -> Path | None:
        return _inside(self.images_dir, image_id + PHOTO_SUFFIX)

    def _mask_candidates(self, mask_path: str) -> list[str]:
        """Where ``mask_path`` may be, folder by folder; empty when it leaves them. The lexical check is done once,
        not per folder: a relative path stays inside any folder exactly when its normal form does not start with
        '..'. (Per folder, it cost 16 path normalisations per mask: most of photo_state's time on 16 folders.)"""
        if os.path.isabs(mask_path):
            return [str(path) for path in (_inside(folder, mask_path) for folder in self.mask_dirs) if path]
        relative = os.path.normpath(mask_path)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            return []
        return [os.path.join(root, relative) for root in self._mask_roots]

    def _locate_mask(self, mask_path: str) -> tuple[Path | None, str]:
        """The mask's file (the first folder holding it), or None and why not (outside the folders, or in none)."""
        candidates = self._mask_candidates(mask_path)
        if not candidates:
            return None, (
                f"MaskPath {mask_path!r} in {self.masks_csv} points outside the masks folder(s) "
                "('..' or an absolute path): not read"
            )
        found = _first_file(candidates)
        if found is not None:
            return Path(found[0]), ""
        where = candidates[0] if len(candidates) == 1 else f"{mask_path} (in none of {', '.join(self._mask_roots)})"
        return None, f"{where}: mask file not found"

    def load(self, image_id: str) -> Scene | SkippedInput:
        try:
            rows = self._rows[image_id]
        except KeyError:
            raise KeyError(f"source {self.name!r} has no image {image_id!r}") from None
        file_name = image_id + PHOTO_SUFFIX
        label = str(self.images_dir / file_name)

        def skip(reason: str) -> SkippedInput:
            return SkippedInput(source=self.name, image_id=image_id, path=label, reason=reason)

        photo_path = self._photo_path(image_id)
        if photo_path is None:
            return skip(
                f"{label}: ImageID {image_id!r} in {self.masks_csv} points outside the images folder "
                f"{self.images_dir}: not read"
            )
        try:
            raw = open_image(photo_path, max_pixels=self.max_pixels)
            photo = None
            try:
                photo = normalize_image(raw, max_side=self.max_side, path=label)
            finally:
                _close_unless_kept(raw, photo)
        except ImageLoadError as error:
            return skip(str(error))
        except Image.DecompressionBombError as error:
            return skip(f"{label}: over PIL's pixel limit, possible decompression bomb ({error})")

        objects, skipped_objects = self._objects(rows, photo)
        if not objects:
            detail = "; ".join(f"object {s['object_id']}: {s['reason']}" for s in skipped_objects)
            return skip(f"{label}: no usable object ({detail})")
        return Scene(
            source=self.name,
            image_id=image_id,
            image=photo.image,
            objects=objects,
            extra={
                "file_name": file_name,
                "normalisation": {"annotation_frame": "raw", **photo.record},
                "skipped_objects": skipped_objects,
                "min_predicted_iou": self.min_predicted_iou,
                "masks_below_min_predicted_iou": self._dropped.get(image_id, 0),
            },
        )

    def _objects(self, rows: list[MaskRow], photo) -> tuple[list[SceneObject], list[dict]]:
        objects, skipped = [], []
        width, height = photo.image.size
        for row in rows:
            category = self._classes.get(row.label)
            if category is None:
                reason = (
                    f"LabelName {row.label!r} (row {row.line} of {self.masks_csv}) is not in {self.class_descriptions}"
                )
                skipped.append({"object_id": row.object_id, "reason": reason})
                continue
            path, reason = self._locate_mask(row.mask_path)
            if path is None:
                skipped.append({"object_id": row.object_id, "reason": reason})
                continue
            try:
                stored = read_mask(path, self.max_pixels)
            except ImageLoadError as error:
                skipped.append({"object_id": row.object_id, "reason": str(error)})
                continue
            if not stored.any():
                skipped.append({"object_id": row.object_id, "reason": f"{path}: mask has no foreground pixel"})
                continue
            mask = transpose_like_exif(resize_nearest(stored, photo.raw_size), photo.exif_orientation)
            if mask.shape != (height, width):
                mask = _resize_mask(mask, (width, height))
            if not mask.any():
                reason = f"{path}: mask vanishes when resized to the photo's {width}x{height}"
                skipped.append({"object_id": row.object_id, "reason": reason})
                continue
            objects.append(SceneObject(object_id=row.object_id, category=category, mask=mask, bbox=_mask_bbox(mask)))
        return objects, skipped


def read_mask(path: Path, max_pixels: int | None) -> np.ndarray:
    """A mask PNG as bool (any non-zero pixel is inside: Open Images writes 0/255, converters also write 0/1)."""
    image = open_image(path, max_pixels=max_pixels)
    try:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise ImageLoadError(path, f"corrupt or truncated mask image ({error or type(error).__name__})") from None
        if image.mode == "1":
            return np.array(image, dtype=bool)
        if image.mode in _SINGLE_CHANNEL_MODES:
            return np.asarray(image) != 0
        return np.asarray(image.convert("L")) != 0  # palette or colour: through the colours, not the indices
    finally:
        image.close()


def resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` scaled to ``size`` (w, h): each output pixel takes the input pixel containing its centre, i.e.
    index ``floor((i + 1/2) * n_in / n_out)``, computed in integers (a centre on a boundary takes the later pixel)."""
    width, height = size
    rows = ((2 * np.arange(height, dtype=np.int64) + 1) * mask.shape[0]) // (2 * height)
    cols = ((2 * np.arange(width, dtype=np.int64) + 1) * mask.shape[1]) // (2 * width)
    return mask[rows[:, None], cols[None, :]]


def read_masks_csv(path: Path, min_predicted_iou: float) -> tuple[dict[str, list[MaskRow]], dict[str, int]]:
    """Rows by ImageID (images with no row kept are left out), and per ImageID how many the filter dropped."""
    rows: dict[str, list[MaskRow]] = {}
    dropped: dict[str, int] = {}
    for line, record in _csv_records(path, MASK_COLUMNS):
        image_id, mask_path = record["ImageID"], record["MaskPath"]
        for column in ("MaskPath", "ImageID", "LabelName", "BoxID"):
            if not record[column]:
                raise SourceConfigError(f"{path}: row {line}: empty {column}")
        for column in ("MaskPath", "ImageID"):  # they become file names, which cannot hold a NUL byte
            if "\x00" in record[column]:
                raise SourceConfigError(f"{path}: row {line}: {column} {record[column]!r} contains a NUL byte")
        for column in BOX_COLUMNS:
            _number(record[column], column, path, line)
        iou = _number(record["PredictedIoU"], "PredictedIoU", path, line) if record["PredictedIoU"] else None
        if min_predicted_iou > 0 and (iou is None or iou < min_predicted_iou):
            dropped[image_id] = dropped.get(image_id, 0) + 1
            continue
        # A few hundred labels over millions of rows: one string object per label, not one per row.
        label = sys.intern(record["LabelName"])
        rows.setdefault(image_id, []).append(MaskRow(line, mask_path, label, record["BoxID"], iou))
    return {image_id: _unique_ids(image_rows, path) for image_id, image_rows in rows.items()}, dropped


def _unique_ids(rows: list[MaskRow], path: Path) -> list[MaskRow]:
    """Object ids are BoxIDs, short and readable in sample ids. Should a BoxID repeat within one image, those rows
    use their MaskPath's stem instead (object ids must be unique per image; MaskPaths are file names, so they are).
    The same MaskPath twice for one image is the same mask listed twice: a broken file."""
    first_line: dict[str, int] = {}
    for row in rows:
        if row.mask_path in first_line:
            raise SourceConfigError(
                f"{path}: rows {first_line[row.mask_path]} and {row.line} both list MaskPath {row.mask_path!r}"
            )
        first_line[row.mask_path] = row.line
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.object_id] = counts.get(row.object_id, 0) + 1
    if all(count == 1 for count in counts.values()):
        return rows
    return [row if counts[row.object_id] == 1 else row._replace(object_id=Path(row.mask_path).stem) for row in rows]


def read_class_descriptions(path: Path) -> dict[str, str]:
    """MID -> lowercased DisplayName. A first row ``LabelName,DisplayName`` is a header (oidv6/oidv7 files); the
    older ``class-descriptions-boxable.csv`` has none, so any other first row is data."""
    classes: dict[str, str] = {}
    lines: dict[str, int] = {}
    for index, (line, row) in enumerate(_csv_rows(path)):
        if index == 0 and tuple(cell.strip().casefold() for cell in row) == CLASS_HEADER:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise SourceConfigError(f"{path}: row {line}: expected 'LabelName,DisplayName', got {row!r}")
        label, display = row[0].strip(), row[1].strip().lower()
        if label in classes and classes[label] != display:
            raise SourceConfigError(
                f"{path}: rows {lines[label]} and {line} name {label!r} differently ({classes[label]!r}, {display!r})"
            )
        classes[label], lines[label] = display, line
    if not classes:
        raise SourceConfigError(f"{path}: no class descriptions (expected rows 'LabelName,DisplayName')")
    return classes


def _csv_records(path: Path, columns: tuple[str, ...]):
    """(line, {column: stripped value}) for each data row; the header must name every column of ``columns``."""
    header: list[str] | None = None
    for line, row in _csv_rows(path):
        if header is None:
            header = [cell.strip() for cell in row]
            missing = [c for c in columns if c not in header]
            if missing:
                raise SourceConfigError(
                    f"{path}: row {line} (header) lacks column(s) {', '.join(missing)}; "
                    f"an Open Images masks CSV starts with {','.join(columns)}"
                )
            repeated = sorted({c for c in header if header.count(c) > 1})
            if repeated:
                raise SourceConfigError(f"{path}: row {line} (header) repeats column(s) {', '.join(repeated)}")
            positions = [header.index(c) for c in columns]
            continue
        if len(row) != len(header):
            raise SourceConfigError(f"{path}: row {line}: {len(row)} fields where the header has {len(header)}")
        yield line, {column: row[position].strip() for column, position in zip(columns, positions, strict=True)}
    if header is None:
        raise SourceConfigError(f"{path}: empty file (expected the header {','.join(columns)})")


def _csv_rows(path: Path):
    """(line number, cells) for each non-blank row; unreadable files and CSV errors name the file (and line)."""
    line = 0
    try:
        # utf-8-sig: a spreadsheet that saved the file may have put a byte-order mark before the header.
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            for row in reader:
                line = reader.line_num
                if row:
                    yield line, row
    except FileNotFoundError:
        raise SourceConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise SourceConfigError(f"{path}: row {line + 1}: not UTF-8 text ({error})") from None
    except csv.Error as error:
        raise SourceConfigError(f"{path}: row {line + 1}: malformed CSV ({error})") from None
    except OSError as error:
        raise SourceConfigError(f"{path}: cannot read ({error})") from None


def _number(text: str, column: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SourceConfigError(f"{path}: row {line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SourceConfigError(f"{path}: row {line}: {column} {text!r} is not a finite number")
    return value


def _inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it stays inside ``root`` lexically (symlinked folders work), else None: a name from a
    CSV with ``..`` or an absolute path elsewhere must not read files outside it. Same rule as the COCO source."""
    base = os.path.normpath(root)
    candidate = os.path.normpath(os.path.join(base, relative))
    if os.path.commonpath([base, candidate]) != base:
        return None
    return Path(candidate)


def _stat_state(path: Path | None) -> str:
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        stat = None  # missing now: the load says so; the state still changes if it appears
    return "missing" if stat is None else f"{stat.st_size}:{stat.st_mtime_ns}"


def _first_file(candidates: list[str]) -> tuple[str, os.stat_result] | None:
    """The first candidate that is a regular file, with its stat (one system call per candidate tried)."""
    for candidate in candidates:
        try:
            stat = os.stat(candidate)
        except OSError:
            continue
        if S_ISREG(stat.st_mode):
            return candidate, stat
    return None
