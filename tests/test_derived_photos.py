"""benchmarks/derived_photos.py: the benchmark's bigger photo set keeps every annotation on its object. Each derived
photo's object masks, read through the real COCO source, are compared with the embedded photo's masks turned,
mirrored and shrunk the same way."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from inpaintbench.builder.embedded import EMBEDDED_ANNOTATIONS
from inpaintbench.builder.sources import build_sources

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from derived_photos import SCALES, SYMMETRIES, write_derived_set  # noqa: E402


def transformed(mask: np.ndarray, turn: int, mirror: bool, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    for _ in range(turn):
        image = image.transpose(Image.Transpose.ROTATE_90)
    if mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(image.resize(size, Image.Resampling.NEAREST)) > 127


def test_every_derived_annotation_lies_on_its_object(tmp_path):
    embedded = build_sources([{"type": "embedded"}], max_side=512)[0]
    entries = json.loads(EMBEDDED_ANNOTATIONS.read_text(encoding="utf-8"))["images"]
    bases = [embedded.load(Path(entry["file_name"]).stem) for entry in entries]
    # One photo of each symmetry and of the smallest scale: indices cycle through the 15 photos first.
    picks = [v * len(bases) + v % len(bases) for v in range(SYMMETRIES)] + [len(bases) * SYMMETRIES * 7 + 3]
    images, annotations = write_derived_set(tmp_path / "set", max(picks) + 1)
    derived = build_sources([{"type": "coco", "name": "d", "images": str(images), "annotations": str(annotations)}],
                            max_side=512)[0]
    assert len(derived.list_image_ids()) == max(picks) + 1
    for index in picks:
        base, scene = bases[index % len(bases)], derived.load(str(index + 1))
        variant = index // len(bases)
        turn, mirror = variant % 4, bool(variant // 4 % 2)
        scale = SCALES[variant // SYMMETRIES]
        assert scene.image.size == tuple(round(side * scale) for side in (
            base.image.size if turn % 2 == 0 else base.image.size[::-1]))
        assert len(scene.objects) == len(base.objects) > 0
        for ours, theirs in zip(scene.objects, base.objects, strict=True):
            expected = transformed(theirs.mask, turn, mirror, scene.image.size)
            iou = (ours.mask & expected).sum() / (ours.mask | expected).sum()
            assert iou > 0.9, (index, ours.object_id, iou)  # boundary pixels only: rasterised at another scale
    # The attack: without the turn, a turned photo's masks miss their objects.
    index = picks[1]
    scene, base = derived.load(str(index + 1)), bases[index % len(bases)]
    wrong = transformed(base.objects[0].mask, 0, False, scene.image.size)
    assert (scene.objects[0].mask & wrong).sum() / (scene.objects[0].mask | wrong).sum() < 0.9
