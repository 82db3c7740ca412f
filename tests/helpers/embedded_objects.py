"""The embedded photos with their annotated object masks: one reader of the embedded set's COCO annotations for
the learned inpainter's test (a fill must remove the object) and benchmarks/learned_inpainter.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inpaintbench.builder.learned_inpainter import photos as photo_sets


def object_masks(count: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, photo, annotated object mask) for the first ``count`` annotated embedded photos."""
    from pycocotools import mask as coco_mask

    from inpaintbench.builder.embedded.catalog import load_photo

    path = Path(photo_sets.__file__).resolve().parents[1] / "embedded" / "annotations.json"
    data = json.loads(path.read_text())
    images = {image["id"]: image for image in data["images"]}
    found, seen = [], set()
    for annotation in data["annotations"]:
        image = images[annotation["image_id"]]
        if image["id"] in seen:
            continue
        seen.add(image["id"])
        photo = np.asarray(load_photo(image["file_name"]).resize((image["width"], image["height"])))
        segmentation = annotation["segmentation"]
        rles = coco_mask.frPyObjects(segmentation, image["height"], image["width"])
        hole = coco_mask.decode(coco_mask.merge(rles) if isinstance(rles, list) else rles).astype(bool)
        found.append((image["file_name"], photo, hole))
        if len(found) == count:
            break
    return found
