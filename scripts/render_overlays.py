#!/usr/bin/env python
"""Draw COCO polygon annotations, with their labels, on the photos they belong to, to check them by eye.

    python scripts/render_overlays.py OUT_DIR [--annotations FILE] [--contact-sheet SHEET.jpg]

Writes one PNG per annotated photo into OUT_DIR (name: the catalogue name with "/" replaced by "__"). Images are
read with the embedded catalogue's ``load_photo``, so ``file_name`` must be a catalogue name; pass ``--images DIR``
to read a user's own photos from a directory instead. ``--contact-sheet`` also writes all overlays, shrunk, into
one JPEG (the one in docs/img/ is made this way).
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps
from tqdm import tqdm


def _colour(annotation_id: int) -> tuple[int, int, int]:
    # Golden-ratio hue steps: neighbouring ids get clearly different colours, the same id always the same one.
    hue = (annotation_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_overlay(image: Image.Image, annotations: list[dict], category_names: dict[int, str]) -> Image.Image:
    """The photo with each annotation's polygons filled translucently, outlined, and labelled "id category"."""
    base = image.convert("RGBA")
    fill_layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    fill = ImageDraw.Draw(fill_layer)
    for ann in annotations:
        for polygon in ann["segmentation"]:
            points = list(zip(polygon[0::2], polygon[1::2], strict=False))
            fill.polygon(points, fill=_colour(ann["id"]) + (70,))
    out = Image.alpha_composite(base, fill_layer)
    draw = ImageDraw.Draw(out)
    for ann in annotations:
        colour = _colour(ann["id"])
        for polygon in ann["segmentation"]:
            points = list(zip(polygon[0::2], polygon[1::2], strict=False))
            draw.line(points + points[:1], fill=colour + (255,), width=2)
            for x, y in points:
                draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=(255, 255, 255, 255))
        x, y, _, _ = ann["bbox"]
        label = f"{ann['id']} {category_names.get(ann['category_id'], '?')}"
        left, top, right, bottom = draw.textbbox((x + 2, y + 2), label)
        draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=(0, 0, 0, 200))
        draw.text((x + 2, y + 2), label, fill=colour + (255,))
    return out.convert("RGB")


def _loader(images_dir: Path | None):
    if images_dir is None:
        from inpaintbench.builder.embedded import load_photo

        return load_photo

    def load_from_dir(file_name: str) -> Image.Image:
        with Image.open(images_dir / file_name) as image:
            return ImageOps.exif_transpose(image).convert("RGB")

    return load_from_dir


def contact_sheet(tiles: list[Image.Image], tile_size: int = 320, columns: int = 4) -> Image.Image:
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * tile_size, rows * tile_size), "white")
    for index, tile in enumerate(tiles):
        tile = tile.copy()
        tile.thumbnail((tile_size - 4, tile_size - 4))
        sheet.paste(tile, ((index % columns) * tile_size + 2, (index // columns) * tile_size + 2))
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for the overlay PNGs (created if missing)")
    parser.add_argument("--annotations", type=Path, default=None, help="COCO JSON (default: the embedded set)")
    parser.add_argument("--images", type=Path, default=None, help="read file_name from this folder, not the catalogue")
    parser.add_argument("--only", nargs="*", default=None, help="only these file_names")
    parser.add_argument("--contact-sheet", type=Path, default=None, help="also write all overlays in one JPEG")
    args = parser.parse_args(argv)

    if args.annotations is None:
        from inpaintbench.builder.embedded import EMBEDDED_ANNOTATIONS

        args.annotations = EMBEDDED_ANNOTATIONS
    try:
        coco = json.loads(args.annotations.read_text())
        images, anns, cats = coco["images"], coco["annotations"], coco["categories"]
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {args.annotations}: not a readable COCO JSON ({error})", file=sys.stderr)
        return 2

    category_names = {c["id"]: c["name"] for c in cats}
    by_image: dict[int, list[dict]] = {}
    for ann in anns:
        by_image.setdefault(ann["image_id"], []).append(ann)
    load = _loader(args.images)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    tiles = []
    for image_info in tqdm(images, desc="overlays", unit="photo"):
        name = image_info["file_name"]
        if args.only and name not in args.only:
            continue
        if image_info["id"] not in by_image:
            continue
        overlay = draw_overlay(load(name), by_image[image_info["id"]], category_names)
        overlay.save(args.out_dir / (name.replace("/", "__") + ".png"))
        tiles.append(overlay)
    if args.contact_sheet is not None:
        args.contact_sheet.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(tiles).save(args.contact_sheet, quality=80, optimize=True)
    print(f"{len(tiles)} overlays written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
