"""Sources: the COCO source on COCO JSON + photos written here, the registry, build_sources, the embedded set."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from inpaintbench.builder.image_io import EXIF_ORIENTATION_TRANSPOSE
from inpaintbench.builder.scene import Scene, SkippedInput
from inpaintbench.builder.sources import (
    SOURCE_TYPES,
    Source,
    SourceConfigError,
    build_sources,
    known_source_types,
    register_source_type,
)
from inpaintbench.builder.sources.coco import CocoSource
from tests.helpers.registries import registered

RED = (230, 20, 20)
BLUE = (20, 20, 230)


def rect_polygon(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def write_coco(tmp_path: Path, images: list[dict], annotations: list[dict], name="annotations.json") -> Path:
    path = tmp_path / name
    categories = [{"id": 1, "name": "cup"}, {"id": 2, "name": "person"}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def ann(ann_id, image_id, segmentation, category_id=1, iscrowd=0):
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "segmentation": segmentation,
            "iscrowd": iscrowd, "bbox": [0, 0, 1, 1], "area": 1}


@pytest.fixture
def scene_dir(tmp_path):
    """A 80x60 photo: red rectangle at x 10..30, y 10..40; blue one at x 50..70, y 20..50; plus annotations."""
    images = tmp_path / "images"
    images.mkdir()
    array = np.full((60, 80, 3), 128, np.uint8)
    array[10:40, 10:30] = RED
    array[20:50, 50:70] = BLUE
    Image.fromarray(array).save(images / "a.png")
    blue_mask = np.zeros((60, 80), np.uint8, order="F")
    blue_mask[20:50, 50:70] = 1
    blue_rle = mask_utils.encode(blue_mask)
    blue_rle["counts"] = blue_rle["counts"].decode("ascii")
    annotations = [
        ann(3, 7, rect_polygon(10, 10, 30, 40)),
        ann(5, 7, blue_rle, category_id=2),
        ann(8, 7, [[5, 5, 9, 5]]),  # two points
        ann(9, 7, [[5, 5, 9, 9, 13, 13]]),  # collinear: zero area
        ann(10, 7, [[70, 10, 120, 10, 120, 30]]),  # out of bounds
        ann(11, 7, {"size": [60, 80], "counts": [4800]}, iscrowd=1),  # uncompressed RLE, empty
        ann(12, 7, {"size": [60, 80], "counts": [60 * 50, 60 * 10, 60 * 20]}, iscrowd=1),  # columns 50..59
        ann(13, 7, rect_polygon(1, 1, 3, 3), category_id=99),
    ]
    coco = write_coco(tmp_path, [{"id": 7, "file_name": "a.png", "width": 80, "height": 60}], annotations)
    return images, coco


def mean_colour(scene: Scene, obj_id: str) -> np.ndarray:
    obj = next(o for o in scene.objects if o.object_id == obj_id)
    return np.asarray(scene.image)[obj.mask].mean(0)


def test_polygons_and_rle_rasterise_in_place(scene_dir):
    images, coco = scene_dir
    source = CocoSource(coco, images, name="mine")
    assert source.list_image_ids() == ["7"]
    scene = source.load("7")
    assert isinstance(scene, Scene) and scene.source == "mine" and scene.image.size == (80, 60)
    by_id = {o.object_id: o for o in scene.objects}
    assert sorted(by_id) == ["12", "3", "5"]
    # pycocotools rasterises polygon x0..x1 inclusive of the left edge: 20x30 px for this rectangle.
    assert by_id["3"].mask.sum() == 20 * 30 and by_id["3"].category == "cup"
    np.testing.assert_allclose(mean_colour(scene, "3"), RED, atol=1)
    assert by_id["5"].mask.sum() == 20 * 30 and by_id["5"].category == "person"
    np.testing.assert_allclose(mean_colour(scene, "5"), BLUE, atol=1)
    assert by_id["5"].bbox == (50.0, 20.0, 20.0, 30.0)
    assert by_id["12"].iscrowd and by_id["12"].mask[:, 50:60].all() and by_id["12"].mask.sum() == 600
    assert not by_id["3"].iscrowd


def test_degenerate_objects_are_skipped_with_reasons_and_image_still_used(scene_dir):
    images, coco = scene_dir
    scene = CocoSource(coco, images).load("7")
    reasons = {s["object_id"]: s["reason"] for s in scene.extra["skipped_objects"]}
    assert "fewer than 3 points" in reasons["8"]
    assert "zero area" in reasons["9"]
    assert "out of bounds" in reasons["10"]
    assert "covers no pixel" in reasons["11"]
    assert "unknown category_id 99" in reasons["13"]
    assert len(scene.objects) == 3


def test_image_with_only_degenerate_objects_is_skipped_naming_the_file(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (40, 30)).save(images / "b.jpg")
    coco = write_coco(tmp_path, [{"id": 1, "file_name": "b.jpg", "width": 40, "height": 30}],
                      [ann(1, 1, [[1, 1, 2, 2]]), ann(2, 1, [[1, 1, 5, 1, 9, 1]])])
    result = CocoSource(coco, images).load("1")
    assert isinstance(result, SkippedInput)
    assert result.path == str(images / "b.jpg") and str(images / "b.jpg") in result.reason
    assert "no usable object" in result.reason and "object 1" in result.reason and "zero area" in result.reason
    kept = CocoSource(coco, images, keep_images_without_objects=True).load("1")
    assert isinstance(kept, Scene) and kept.objects == []


@pytest.mark.parametrize("problem", ["missing", "truncated", "garbage", "wrong_size"])
def test_bad_photos_become_skipped_inputs(tmp_path, problem):
    images = tmp_path / "images"
    images.mkdir()
    path = images / "p.jpg"
    if problem != "missing":
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(path, quality=90)
    if problem == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    if problem == "garbage":
        path.write_bytes(b"\x00" * 500)
    width = 41 if problem == "wrong_size" else 40
    coco = write_coco(tmp_path, [{"id": 1, "file_name": "p.jpg", "width": width, "height": 30}],
                      [ann(1, 1, rect_polygon(2, 2, 20, 20))])
    result = CocoSource(coco, images).load("1")
    assert isinstance(result, SkippedInput), problem
    assert str(path) in result.reason
    expected = {"missing": "file not found", "truncated": "truncated", "garbage": "not a recognised image",
                "wrong_size": "photo is 40x30 (40x30 upright, EXIF orientation 1) but annotations.json says 41x30"}
    assert expected[problem] in result.reason


def make_rotated_photo(images: Path, orientation: int) -> np.ndarray:
    """A stored 60x40 bitmap with a red block at stored x 5..25, y 5..15, tagged with ``orientation``."""
    array = np.full((40, 60, 3), 120, np.uint8)
    array[5:15, 5:25] = RED
    exif = Image.Exif()
    exif[0x0112] = orientation
    # No chroma subsampling: colours stay exact enough to check where the mask lands.
    Image.fromarray(array).save(images / "phone.jpg", quality=100, subsampling=0, exif=exif.tobytes())
    return array


@pytest.mark.parametrize("frame", ["raw", "oriented"])
@pytest.mark.parametrize("orientation", [6, 8, 5])
def test_exif_rotated_photo_with_annotations_in_either_frame(tmp_path, frame, orientation):
    images = tmp_path / "images"
    images.mkdir()
    make_rotated_photo(images, orientation)
    raw_block = np.zeros((40, 60), bool)
    raw_block[5:15, 5:25] = True
    if frame == "raw":
        size, block = (60, 40), raw_block
    else:
        size, block = (40, 60), np.asarray(
            Image.fromarray(raw_block).transpose(EXIF_ORIENTATION_TRANSPOSE[orientation])
        )
    ys, xs = np.nonzero(block)
    polygon = rect_polygon(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    coco = write_coco(tmp_path, [{"id": 1, "file_name": "phone.jpg", "width": size[0], "height": size[1]}],
                      [ann(1, 1, polygon)])
    scene = CocoSource(coco, images).load("1")
    assert isinstance(scene, Scene), getattr(scene, "reason", "")
    assert scene.image.size == (40, 60)  # upright
    assert scene.extra["normalisation"]["annotation_frame"] == frame
    assert scene.extra["normalisation"]["exif_orientation"] == orientation
    obj = scene.objects[0]
    assert obj.mask.shape == (60, 40) and obj.mask.sum() == 200
    np.testing.assert_allclose(mean_colour(scene, "1"), RED, atol=12)


def test_ambiguous_frame_is_assumed_upright_and_can_be_forced_raw(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    make_rotated_photo(images, 3)  # 180 degrees: both frames are 60x40
    coco = write_coco(tmp_path, [{"id": 1, "file_name": "phone.jpg", "width": 60, "height": 40}],
                      [ann(1, 1, rect_polygon(5, 5, 25, 15))])  # drawn on the stored bitmap
    assumed = CocoSource(coco, images).load("1")
    assert assumed.extra["normalisation"]["annotation_frame_assumed"] is True
    forced = CocoSource(coco, images, annotation_frame="raw").load("1")
    assert forced.extra["normalisation"]["annotation_frame"] == "raw"
    np.testing.assert_allclose(mean_colour(forced, "1"), RED, atol=12)
    assert np.abs(mean_colour(assumed, "1") - RED).max() > 50  # the assumption misplaces it, as documented
    wrong = CocoSource(coco, images, annotation_frame="oriented")
    rotated = write_coco(tmp_path, [{"id": 1, "file_name": "phone.jpg", "width": 40, "height": 60}],
                         [ann(1, 1, rect_polygon(5, 5, 25, 15))], name="rotated.json")
    assert isinstance(wrong.load("1"), Scene)
    assert isinstance(CocoSource(rotated, images, annotation_frame="oriented").load("1"), SkippedInput)


def test_masks_are_downscaled_with_the_photo(scene_dir):
    images, coco = scene_dir
    scene = CocoSource(coco, images, max_side=40).load("7")
    assert scene.image.size == (40, 30)
    assert scene.extra["normalisation"]["scale"] == pytest.approx(0.5)
    red = next(o for o in scene.objects if o.object_id == "3")
    assert red.mask.shape == (30, 40) and red.mask.sum() == 10 * 15
    assert red.bbox == (5.0, 5.0, 10.0, 15.0)


def test_pluggable_loader_and_file_name_ids(tmp_path):
    photos = {"pkg/cat": Image.new("RGB", (20, 10), RED), "pkg/dog": Image.new("RGB", (20, 10), BLUE)}
    coco = write_coco(
        tmp_path,
        [{"id": 1, "file_name": "pkg/dog", "width": 20, "height": 10},
         {"id": 2, "file_name": "pkg/cat", "width": 20, "height": 10},
         {"id": 3, "file_name": "pkg/unknown", "width": 20, "height": 10}],
        [ann(1, 1, rect_polygon(0, 0, 10, 10)), ann(2, 2, rect_polygon(0, 0, 10, 10)),
         ann(3, 3, rect_polygon(0, 0, 10, 10))],
    )
    source = CocoSource(coco, name="pkgs", image_loader=lambda name: photos[name].copy(), image_ids="file_name")
    assert source.list_image_ids() == ["cat", "dog", "unknown"]
    np.testing.assert_allclose(mean_colour(source.load("cat"), "2"), RED)
    missing = source.load("unknown")
    assert isinstance(missing, SkippedInput) and "pkg/unknown" in missing.reason and "KeyError" in missing.reason
    with pytest.raises(KeyError, match="no image 'nope'"):
        source.load("nope")


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` and holds no pixels: a decompression bomb stand-in."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_huge_photos_are_skipped_for_the_default_reader_and_for_custom_loaders(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    png_header_only(images / "huge.png", 14000, 13000)  # 182 MP: over our default budget and PIL's hard limit
    Image.new("RGB", (40, 30)).save(images / "ok.png")
    coco = write_coco(
        tmp_path,
        [{"id": 1, "file_name": "huge.png", "width": 14000, "height": 13000},
         {"id": 2, "file_name": "ok.png", "width": 40, "height": 30}],
        [ann(1, 1, rect_polygon(10, 10, 900, 900)), ann(2, 2, rect_polygon(2, 2, 20, 20))],
    )
    default = CocoSource(coco, images)
    skipped = default.load("1")
    assert isinstance(skipped, SkippedInput) and "huge.png: image is 14000x13000" in skipped.reason
    assert "over the pixel budget" in skipped.reason
    # A custom loader opening under PIL's own guard: PIL's DecompressionBombError becomes a skip too.
    plain_open = CocoSource(coco, name="plain", image_loader=lambda name: Image.open(images / name), max_pixels=None)
    bomb = plain_open.load("1")
    assert isinstance(bomb, SkippedInput) and "over PIL's pixel limit" in bomb.reason
    # The budget applies to a custom loader's images as well.
    tight = CocoSource(coco, name="tight", image_loader=lambda name: Image.open(images / name), max_pixels=1000)
    assert "over the pixel budget of 1,000" in tight.load("2").reason
    assert isinstance(default.load("2"), Scene)


def test_bad_annotation_files_name_the_file(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(SourceConfigError, match="broken.json: not valid JSON"):
        CocoSource(bad, images)
    with pytest.raises(SourceConfigError, match="absent.json: annotation file not found"):
        CocoSource(tmp_path / "absent.json", images)
    bad.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))
    with pytest.raises(SourceConfigError, match=r"broken.json: images\[0\] lacks file_name"):
        CocoSource(bad, images)
    bad.write_text(json.dumps({"images": [], "categories": [],
                               "annotations": [{"id": 4, "image_id": 1}, {"id": 4, "image_id": 2}]}))
    with pytest.raises(SourceConfigError, match="two annotations have the id 4"):
        CocoSource(bad, images)
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(SourceConfigError, match="lacks a 'annotations' list"):
        CocoSource(bad, images)
    with pytest.raises(SourceConfigError, match="images folder .* does not exist"):
        CocoSource(bad, tmp_path / "nowhere")


def test_image_entries_with_bad_sizes_are_skipped_and_float_sizes_accepted(tmp_path):
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    entries = [{"id": 1, "file_name": "a.png", "width": 40.0, "height": 30.0},
               {"id": 2, "file_name": "a.png", "width": "40", "height": 30},
               {"id": 3, "file_name": "a.png", "height": 30}]
    source = CocoSource(write_coco(tmp_path, entries, [ann(i, i, rect_polygon(2, 2, 20, 20)) for i in (1, 2, 3)]),
                        tmp_path)
    assert isinstance(source.load("1"), Scene)
    for image_id in ("2", "3"):
        result = source.load(image_id)
        assert isinstance(result, SkippedInput) and "lacks a valid width/height" in result.reason


def test_list_image_ids_is_sorted_and_stable(tmp_path):
    entries = [{"id": i, "file_name": f"{i}.png", "width": 4, "height": 4} for i in (30, 4, 100, 7)]
    source = CocoSource(write_coco(tmp_path, entries, []), tmp_path)
    assert source.list_image_ids() == sorted(["30", "4", "100", "7"]) == source.list_image_ids()


def test_build_sources_from_specs(scene_dir):
    images, coco = scene_dir
    sources = build_sources(
        [{"type": "coco", "name": "mine", "images": str(images), "annotations": str(coco)},
         {"type": "coco", "name": "small", "images": images, "annotations": coco, "max_side": 20}],
        max_side=40,
    )
    assert [s.name for s in sources] == ["mine", "small"]
    assert sources[0].load("7").image.size == (40, 30)  # run-wide default
    assert sources[1].load("7").image.size == (20, 15)  # the spec wins
    with pytest.raises(SourceConfigError, match="two sources are named 'coco'"):
        build_sources([{"type": "coco", "images": images, "annotations": coco}] * 2)
    with pytest.raises(SourceConfigError, match="unknown source type 'flickr'.*known: coco, embedded"):
        build_sources([{"type": "flickr"}])
    with pytest.raises(SourceConfigError, match="bad spec for source type 'coco'.*colour"):
        build_sources([{"type": "coco", "images": images, "annotations": coco, "colour": "red"}])
    with pytest.raises(SourceConfigError, match="'type' key"):
        build_sources([{"name": "x"}])


def test_a_new_source_type_registers_without_touching_the_builder(tmp_path):
    class SolidSource(Source):
        def __init__(self, name="solid", count=2):
            self.name, self.count = name, count

        def list_image_ids(self):
            return [f"{i:02d}" for i in range(self.count)]

        def load(self, image_id):
            return SkippedInput(self.name, image_id, "", "no photo")

    with registered(SOURCE_TYPES, "test-solid", SolidSource):
        (source,) = build_sources([{"type": "test-solid", "count": 3}], max_side=64)  # max_side not taken: fine
        assert source.list_image_ids() == ["00", "01", "02"]
        assert "test-solid" in known_source_types()
        with pytest.raises(ValueError, match="registered twice"):
            register_source_type("test-solid")(SolidSource)
    assert "test-solid" not in known_source_types()


def test_source_types_are_lazy_plugins_that_register_nothing_on_import():
    """Sources are plug-ins like the rest: importing the package imports no source module (nothing registers as a
    side effect), every built-in type is known by name, and building one imports its module alone. The probe
    then builds a second type to show it can see an import happen."""
    probe = (
        "import json, sys\n"
        "from inpaintbench.builder.sources import SOURCE_TYPES, build_sources, known_source_types\n"
        "mods = lambda: sorted(m for m in sys.modules if m.startswith('inpaintbench.builder.sources.')\n"
        "                      and m != 'inpaintbench.builder.sources.base')\n"
        "seen = [known_source_types(), mods(), dict(SOURCE_TYPES)]\n"
        "build_sources([{'type': 'embedded'}])\n"
        "seen.append(mods())\n"
        "SOURCE_TYPES.get_class('folder')\n"
        "seen.append(mods())\n"
        "print(json.dumps(seen[:2] + [sorted(seen[2])] + seen[3:]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    known, at_import, registered, after_embedded, after_folder = json.loads(done.stdout.splitlines()[-1])
    assert known == ["coco", "embedded", "folder", "openimages"]
    assert at_import == [] and registered == []
    assert after_embedded == ["inpaintbench.builder.sources.coco", "inpaintbench.builder.sources.coco_masks",
                              "inpaintbench.builder.sources.embedded"]
    assert "inpaintbench.builder.sources.folder" in after_folder


def test_embedded_source_reads_the_shipped_set():
    from inpaintbench.builder.embedded import EMBEDDED_ANNOTATIONS

    if not EMBEDDED_ANNOTATIONS.exists():
        pytest.skip("builder/embedded/annotations.json has not landed yet")
    (source,) = build_sources([{"type": "embedded"}])
    ids = source.list_image_ids()
    scenes = [source.load(i) for i in ids]
    skipped = [s for s in scenes if isinstance(s, SkippedInput)]
    assert not skipped, [s.reason for s in skipped]
    assert len(ids) >= 12 and sum(len(s.objects) for s in scenes) >= 30
    for scene in scenes:
        assert scene.source == "embedded" and scene.image.mode == "RGB"
        for obj in scene.objects:
            assert obj.mask.shape == (scene.image.height, scene.image.width)


def test_catalogue_photos_load_through_the_coco_source(tmp_path):
    """The embedded source's path (catalogue names + load_photo), on a COCO file written here."""
    from inpaintbench.builder.embedded import load_photo

    with load_photo("skimage/coffee") as photo:
        width, height = photo.size
    coco = write_coco(
        tmp_path,
        [{"id": 1, "file_name": "skimage/coffee", "width": width, "height": height},
         {"id": 2, "file_name": "nowhere/nothing", "width": 10, "height": 10}],
        [ann(1, 1, rect_polygon(100, 100, 200, 180)), ann(2, 2, rect_polygon(1, 1, 5, 5))],
    )
    source = CocoSource(coco, name="embedded", image_loader=load_photo, image_ids="file_name", max_side=300)
    assert source.list_image_ids() == ["coffee", "nothing"]
    scene = source.load("coffee")
    assert isinstance(scene, Scene) and max(scene.image.size) == 300 and scene.image.mode == "RGB"
    assert scene.objects[0].mask.shape == (scene.image.height, scene.image.width)
    missing = source.load("nothing")
    assert isinstance(missing, SkippedInput) and "nowhere/nothing" in missing.reason
