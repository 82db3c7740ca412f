"""The embedded sample set: photos really ship in the installed packages, and the hand-made COCO polygons are sound."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from inpaintbench.builder.embedded import (
    CATALOG,
    EMBEDDED_ANNOTATIONS,
    CatalogPhoto,
    PhotoUnavailableError,
    list_photos,
    load_photo,
    photo_path,
)
from inpaintbench.builder.embedded import catalog as catalog_module

REPO_ROOT = Path(__file__).resolve().parents[1]

# The 80 official COCO 2017 category ids; a category named like one of these must carry its official id.
COCO_OFFICIAL_IDS = {
    "person": 1, "bicycle": 2, "car": 3, "motorcycle": 4, "airplane": 5, "bus": 6, "train": 7, "truck": 8,
    "boat": 9, "traffic light": 10, "fire hydrant": 11, "stop sign": 13, "parking meter": 14, "bench": 15,
    "bird": 16, "cat": 17, "dog": 18, "horse": 19, "sheep": 20, "cow": 21, "elephant": 22, "bear": 23,
    "zebra": 24, "giraffe": 25, "backpack": 27, "umbrella": 28, "handbag": 31, "tie": 32, "suitcase": 33,
    "frisbee": 34, "skis": 35, "snowboard": 36, "sports ball": 37, "kite": 38, "baseball bat": 39,
    "baseball glove": 40, "skateboard": 41, "surfboard": 42, "tennis racket": 43, "bottle": 44, "wine glass": 46,
    "cup": 47, "fork": 48, "knife": 49, "spoon": 50, "bowl": 51, "banana": 52, "apple": 53, "sandwich": 54,
    "orange": 55, "broccoli": 56, "carrot": 57, "hot dog": 58, "pizza": 59, "donut": 60, "cake": 61, "chair": 62,
    "couch": 63, "potted plant": 64, "bed": 65, "dining table": 67, "toilet": 70, "tv": 72, "laptop": 73,
    "mouse": 74, "remote": 75, "keyboard": 76, "cell phone": 77, "microwave": 78, "oven": 79, "toaster": 80,
    "sink": 81, "refrigerator": 82, "book": 84, "clock": 85, "vase": 86, "scissors": 87, "teddy bear": 88,
    "hair drier": 89, "toothbrush": 90,
}


@pytest.fixture(scope="module")
def coco() -> COCO:
    return COCO(str(EMBEDDED_ANNOTATIONS))


@pytest.fixture(scope="module")
def raw_json() -> dict:
    return json.loads(EMBEDDED_ANNOTATIONS.read_text())


# ---------------------------------------------------------------- catalogue


def test_catalogue_lists_at_least_15_scenes_with_credits():
    names = list_photos()
    assert len(names) >= 15
    assert len(set(names)) == len(names)
    for name, photo in CATALOG.items():
        assert name == photo.name and name.count("/") == 1, name
        assert photo.license.strip() and photo.credit.strip() and photo.distribution.strip(), name


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_catalogued_photo_loads_from_its_installed_package_as_rgb(name):
    path = photo_path(name)
    spec = importlib.util.find_spec(CATALOG[name].package)
    assert any(Path(loc) in path.parents for loc in spec.submodule_search_locations), path
    image = load_photo(name)
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    assert min(image.size) >= 200  # a real scene, not an icon


def test_grayscale_photo_is_expanded_to_rgb():
    pixels = np.asarray(load_photo("skimage/camera"))
    assert pixels.shape == (512, 512, 3)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()


def test_unknown_photo_error_names_it_and_lists_the_known_ones():
    with pytest.raises(PhotoUnavailableError, match=r"unknown embedded photo 'nowhere/nothing'.*skimage/astronaut"):
        load_photo("nowhere/nothing")


def test_missing_package_error_names_the_photo_and_what_to_install(monkeypatch):
    absent = CatalogPhoto("absentpkg/photo", "inpaintbench_absent_pkg_xyz", "inpaintbench-absent-pkg", "a.jpg",
                          "CC0", "test", "entry for a package that is not installed")
    monkeypatch.setitem(catalog_module.CATALOG, absent.name, absent)
    with pytest.raises(PhotoUnavailableError, match=r"'absentpkg/photo'.*pip install inpaintbench-absent-pkg"):
        load_photo("absentpkg/photo")


def test_file_missing_from_installed_package_is_reported_with_the_version(monkeypatch):
    moved = CatalogPhoto("skimage/moved", "skimage", "scikit-image", "data/no_such_photo.png",
                         "CC0", "test", "entry whose file is not in the wheel")
    monkeypatch.setitem(catalog_module.CATALOG, moved.name, moved)
    version = importlib.metadata.version("scikit-image")
    with pytest.raises(PhotoUnavailableError, match=rf"'skimage/moved'.*no_such_photo.png.*scikit-image \({version}\)"):
        load_photo("skimage/moved")


def test_undecodable_file_is_reported_with_its_path(monkeypatch):
    # A real file in a real package that is not an image: the loader must name the photo and the path.
    broken = CatalogPhoto("sklearn/readme", "sklearn", "scikit-learn", "datasets/images/README.txt",
                          "CC0", "test", "a text file posing as a photo")
    monkeypatch.setitem(catalog_module.CATALOG, broken.name, broken)
    with pytest.raises(PhotoUnavailableError, match=r"'sklearn/readme': cannot decode .*README.txt"):
        load_photo("sklearn/readme")


# ---------------------------------------------------------------- annotations


def test_annotations_file_is_valid_coco_with_enough_objects(coco):
    assert len(coco.anns) >= 30
    annotated_images = {ann["image_id"] for ann in coco.anns.values()}
    assert len(annotated_images) >= 12
    assert annotated_images <= set(coco.imgs)


def test_ids_are_unique(raw_json):
    for section in ("images", "annotations", "categories", "licenses"):
        ids = [entry["id"] for entry in raw_json[section]]
        assert len(ids) == len(set(ids)), section
    names = [c["name"] for c in raw_json["categories"]]
    assert len(names) == len(set(names))
    file_names = [img["file_name"] for img in raw_json["images"]]
    assert len(file_names) == len(set(file_names))
    # The embedded source keys scenes by the file_name's stem: those must be unique too.
    assert len({Path(f).stem for f in file_names}) == len(file_names)


def test_every_image_is_a_catalogued_photo_with_the_recorded_size(coco, raw_json):
    license_ids = {lic["id"] for lic in raw_json["licenses"]}
    for info in coco.imgs.values():
        assert info["file_name"] in CATALOG, info["file_name"]
        assert info["license"] in license_ids, info["file_name"]
        image = load_photo(info["file_name"])
        assert image.size == (info["width"], info["height"]), info["file_name"]


def test_categories_use_official_coco_ids_or_ids_from_100(coco):
    used = {ann["category_id"] for ann in coco.anns.values()}
    assert used <= set(coco.cats), "an annotation names a category missing from the categories table"
    for cat in coco.cats.values():
        assert cat["name"] and cat["supercategory"], cat
        if cat["name"] in COCO_OFFICIAL_IDS:
            assert cat["id"] == COCO_OFFICIAL_IDS[cat["name"]], cat
        else:
            assert cat["id"] >= 100, f"non-COCO category {cat['name']!r} must use an id >= 100"
    assert any(COCO_OFFICIAL_IDS.get(coco.cats[c]["name"]) == c for c in used), "no COCO category used at all"


def test_polygons_have_three_points_and_lie_inside_their_image(coco):
    for ann in coco.anns.values():
        info = coco.imgs[ann["image_id"]]
        assert ann["iscrowd"] == 0
        assert isinstance(ann["segmentation"], list) and ann["segmentation"], ann["id"]
        for polygon in ann["segmentation"]:
            assert len(polygon) % 2 == 0 and len(polygon) >= 6, f"annotation {ann['id']}: fewer than 3 points"
            xs, ys = np.asarray(polygon[0::2]), np.asarray(polygon[1::2])
            assert xs.min() >= 0 and xs.max() <= info["width"], f"annotation {ann['id']} leaves its image in x"
            assert ys.min() >= 0 and ys.max() <= info["height"], f"annotation {ann['id']} leaves its image in y"


def test_each_object_covers_at_least_half_a_percent_and_area_bbox_match_its_polygons(coco):
    fractions = []
    for ann in coco.anns.values():
        info = coco.imgs[ann["image_id"]]
        h, w = info["height"], info["width"]
        mask = coco.annToMask(ann).astype(bool)
        fraction = mask.sum() / (h * w)
        assert fraction >= 0.005, f"annotation {ann['id']} covers only {fraction:.2%} of {info['file_name']}"
        assert ann["area"] == pytest.approx(float(mask.sum())), f"annotation {ann['id']}: area"
        rle = mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], h, w))
        assert ann["bbox"] == pytest.approx(mask_utils.toBbox(rle).tolist()), f"annotation {ann['id']}: bbox"
        rows, cols = np.nonzero(mask)
        assert ann["bbox"] == pytest.approx(
            [cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]
        ), f"annotation {ann['id']}: bbox is not the mask's extent"
        fractions.append(fraction)
    # Sizes vary, as the brief asks (a few % up to tens of %): small and large objects both present.
    assert min(fractions) < 0.02 and max(fractions) > 0.2


# ---------------------------------------------------------------- overlay renderer


def _render_overlays_module():
    spec = importlib.util.spec_from_file_location("render_overlays", REPO_ROOT / "scripts" / "render_overlays.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_render_overlays_draws_the_polygons_on_the_photo(tmp_path, coco):
    module = _render_overlays_module()
    sheet = tmp_path / "sheet.jpg"
    assert module.main([str(tmp_path / "ov"), "--only", "skimage/coffee", "--contact-sheet", str(sheet)]) == 0
    overlay = Image.open(tmp_path / "ov" / "skimage__coffee.png")
    photo = load_photo("skimage/coffee")
    assert overlay.size == photo.size
    (image_id,) = [i for i, info in coco.imgs.items() if info["file_name"] == "skimage/coffee"]
    inside = np.zeros((photo.height, photo.width), bool)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
        inside |= coco.annToMask(ann).astype(bool)
    changed = np.abs(np.asarray(overlay, int) - np.asarray(photo, int)).sum(axis=2) > 0
    assert changed[inside].mean() > 0.9  # polygons are tinted
    assert changed[~inside].mean() < 0.2  # the rest is the photo (outlines and labels only)
    assert Image.open(sheet).format == "JPEG"


def test_render_overlays_rejects_a_broken_annotations_file_by_name(tmp_path, capsys):
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [')
    assert _render_overlays_module().main([str(tmp_path / "ov"), "--annotations", str(bad)]) == 2
    assert "broken.json" in capsys.readouterr().err
