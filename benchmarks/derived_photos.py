"""A COCO photo set of any size made from the embedded photos, for benchmarks that need more than its 15.

Photo ``i`` is embedded photo ``i % 15`` (decoded and normalised as the generator does: EXIF turned, sRGB, at most
``max_side`` px), turned by one of the 8 exact symmetries of the square (quarter turns, optionally mirrored) and
shrunk by one of ``SCALES``, in that order of variation: 15 x 8 x 8 = 960 distinct photos. Every transform maps
pixel centres to pixel centres (turns and mirrors) or scales both the photo and its polygons by the same factor,
so each annotation lies on its object exactly as in the embedded set. Photos are written as JPEG (quality 92,
no metadata), what a real COCO folder holds, so decoding them costs what a real set's photos cost.

Real photo content matters for what is measured here: PNG sizes and encoding times of smooth synthetic images
are not those of photos, and neither are mask areas (the OpenCV backends' time grows with the masked area).
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

# Scale factors, applied after the turn: smaller photos, same objects (their areas shrink with the square).
SCALES = (1.0, 0.9, 0.8, 0.7, 0.95, 0.85, 0.75, 0.65)
SYMMETRIES = 8  # quarter turns 0-3, each plain or mirrored left to right afterwards
JPEG_QUALITY = 92


def _transform_points(xs: list[float], ys: list[float], width: int, height: int, turn: int, mirror: bool,
                      scale: float) -> tuple[list[float], list[float]]:
    # PIL's ROTATE_90 turns counter-clockwise: (x, y) -> (y, W - x) in a W x H photo, which becomes H x W.
    for _ in range(turn):
        xs, ys = ys, [width - x for x in xs]
        width, height = height, width
    if mirror:
        xs = [width - x for x in xs]
    return [x * scale for x in xs], [y * scale for y in ys]


def _transform_image(image: Image.Image, turn: int, mirror: bool, scale: float) -> Image.Image:
    for _ in range(turn):
        image = image.transpose(Image.Transpose.ROTATE_90)
    if mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if scale != 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def write_derived_set(root: str | Path, num_photos: int, max_side: int = 512) -> tuple[Path, Path]:
    """Write ``root/images/*.jpg`` and ``root/annotations.json`` (``num_photos`` photos); returns both paths."""
    from inpaintbench.builder.embedded import EMBEDDED_ANNOTATIONS
    from inpaintbench.builder.sources import build_sources

    limit = len(SCALES) * SYMMETRIES
    embedded = build_sources([{"type": "embedded"}], max_side=max_side)[0]
    coco = json.loads(Path(EMBEDDED_ANNOTATIONS).read_text(encoding="utf-8"))
    by_image: dict[int, list[dict]] = {}
    for annotation in coco["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    bases = []  # (normalised photo, its COCO image entry)
    for entry in coco["images"]:
        scene = embedded.load(Path(str(entry["file_name"])).stem)  # the embedded source names photos by stem
        if hasattr(scene, "image"):
            bases.append((scene.image, entry))
    if num_photos > len(bases) * limit:
        raise ValueError(f"derived set: at most {len(bases) * limit} photos ({len(bases)} embedded x {limit})")

    root = Path(root)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    out = {"images": [], "annotations": [], "categories": coco["categories"], "licenses": coco.get("licenses", [])}
    for index in range(num_photos):
        photo, entry = bases[index % len(bases)]
        variant = index // len(bases)
        turn, mirror, scale = variant % 4, bool(variant // 4 % 2), SCALES[variant // SYMMETRIES]
        # Annotations are in the embedded JSON's frame; the photo was shrunk to max_side from it.
        factor = photo.width / entry["width"]
        image = _transform_image(photo, turn, mirror, scale)
        file_name = f"photo_{index:04d}.jpg"
        image.save(images_dir / file_name, quality=JPEG_QUALITY)
        out["images"].append({"id": index + 1, "file_name": file_name, "width": image.width,
                              "height": image.height, "license": entry.get("license", 0)})
        for annotation in by_image.get(entry["id"], []):
            polygons = []
            for polygon in annotation["segmentation"]:
                xs, ys = _transform_points([v * factor for v in polygon[0::2]], [v * factor for v in polygon[1::2]],
                                           photo.width, photo.height, turn, mirror, scale)
                polygons.append([round(v, 2) for pair in zip(xs, ys, strict=False) for v in pair])
            xs = [v for p in polygons for v in p[0::2]]
            ys = [v for p in polygons for v in p[1::2]]
            out["annotations"].append({
                "id": len(out["annotations"]) + 1, "image_id": index + 1, "category_id": annotation["category_id"],
                "segmentation": polygons, "iscrowd": annotation.get("iscrowd", 0),
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "area": annotation["area"] * (factor * scale) ** 2,
            })
    annotations = root / "annotations.json"
    annotations.write_text(json.dumps(out), encoding="utf-8")
    return images_dir, annotations
