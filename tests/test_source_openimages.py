"""The Open Images V7 segmentation source on a small set written here in Open Images' own formats: the masks CSV
(``MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks``), mask PNGs at a lower
resolution than the photos in two unpacked zip folders, ``oidv7-class-descriptions.csv`` and ``<ImageID>.jpg``.

Masks are checked against references computed here: an integer scale (each mask pixel becomes an exact block), a
fractional one (each photo pixel's centre located in normalised coordinates with exact fractions), an EXIF-rotated
photo (and its painted pixels under the mask), and a max_side downscale (block means)."""

from __future__ import annotations

import csv
import os
from bisect import bisect_right
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.scene import Scene, SkippedInput
from inpaintbench.builder.sources import SourceConfigError, build_sources, known_source_types
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG

MASK_HEADER = ["MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax",
               "PredictedIoU", "Clicks"]
CLASSES = [("/m/04yx4", "Man"), ("/m/01yrx", "Cat"), ("/m/0bt9lr", "Dog"), ("/m/02p0tk3", "Human body")]
PAINT = {"/m/04yx4": (230, 30, 30), "/m/01yrx": (30, 30, 230), "/m/0bt9lr": (30, 200, 30)}

A = "0a1b2c3d4e5f6071"  # 120x90, masks 40x30 (3x): a man (mode "1") and a cat (mode "L", 0/255)
B = "f00dfeedbeef0001"  # 150x100, mask 64x48 (fractional scale, other aspect; "L" 0/1); a second mask is missing
C = "0000aaaabbbbcccc"  # stored 120x80 with EXIF orientation 6 (upright 80x120), mask 60x40 in the stored frame
D = "0badc0de00000000"  # its photo is missing
E = "0ddba11000000000"  # its only mask is missing


def mask_name(image_id: str, label: str, box_id: str) -> str:
    # Open Images' own naming: <ImageID>_<LabelName without '/'>_<BoxID>.png
    return f"{image_id}_{label.replace('/', '')}_{box_id}.png"


def blob(height: int, width: int, seed: int) -> np.ndarray:
    """An irregular object: a filled ellipse with a bite taken out and random pixels flipped at its edge."""
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((yy - height * 0.5) / (height * 0.35)) ** 2 + ((xx - width * 0.55) / (width * 0.3)) ** 2 <= 1
    inside &= ~((yy < height * 0.4) & (xx > width * 0.7))
    rng = np.random.default_rng(seed)
    return inside ^ (rng.random((height, width)) < 0.03)


def rect(height: int, width: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def save_mask(path: Path, mask: np.ndarray, mode: str) -> None:
    if mode == "1":
        Image.fromarray(mask).convert("1").save(path)
    elif mode == "L255":
        Image.fromarray(mask.astype(np.uint8) * 255, "L").save(path)
    elif mode == "L01":
        Image.fromarray(mask.astype(np.uint8), "L").save(path)
    else:  # a palette PNG whose index 1 is white
        image = Image.fromarray(mask.astype(np.uint8), "P")
        image.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)
        image.save(path)


def photo_pixels(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.stack([xx * 2 % 256, yy * 2 % 256, (255 - xx - yy) % 256], axis=-1)
    return np.clip(pixels + rng.integers(-8, 9, pixels.shape), 0, 255).astype(np.uint8)


def nearest_block(mask: np.ndarray, factor: int) -> np.ndarray:
    return np.kron(mask.astype(np.uint8), np.ones((factor, factor), np.uint8)).astype(bool)


def nearest_by_centres(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """Reference: a photo pixel's centre in normalised coordinates, (i + 1/2) / n, lies in the mask pixel j with
    j / m <= centre < (j + 1) / m; found by bisecting the mask's pixel edges, in exact fractions."""
    def indices(n_out: int, n_in: int) -> list[int]:
        edges = [Fraction(j, n_in) for j in range(n_in)]
        return [bisect_right(edges, Fraction(2 * i + 1, 2 * n_out)) - 1 for i in range(n_out)]

    rows, cols = indices(height, mask.shape[0]), indices(width, mask.shape[1])
    return mask[np.ix_(rows, cols)]


def box_of(mask: np.ndarray) -> list[str]:
    """BoxXMin,BoxXMax,BoxYMin,BoxYMax in normalised coordinates, 6 digits as Open Images writes them."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    h, w = mask.shape
    return [f"{v:.6f}" for v in (cols[0] / w, (cols[-1] + 1) / w, rows[0] / h, (rows[-1] + 1) / h)]


def write_openimages_set(root: Path) -> dict:
    """The set described at A..E above; returns paths, the spec, and each mask as stored (for references)."""
    images, masks0, masksf = root / "images", root / "train-masks-0", root / "train-masks-f"
    for folder in (images, masks0, masksf):
        folder.mkdir(parents=True)
    stored: dict[tuple[str, str], np.ndarray] = {}
    rows: list[list[str]] = []

    def add(image_id, label, box_id, mask, folder, mode, iou="0.87654", clicks="0.31250 0.42188 1;0.50000 0.43750 0"):
        name = mask_name(image_id, label, box_id)
        if mask is not None:
            save_mask(folder / name, mask, mode)
            stored[(image_id, box_id)] = mask
        box = box_of(mask) if mask is not None else ["0.100000", "0.500000", "0.100000", "0.500000"]
        rows.append([name, image_id, label, box_id, *box, iou, clicks])

    def photo(image_id, pixels, exif=None):
        kwargs = {"quality": 95}
        if exif is not None:
            kwargs["exif"] = exif
        Image.fromarray(pixels).save(images / f"{image_id}.jpg", **kwargs)

    # A: 120x90, masks 40x30.
    man, cat = rect(30, 40, 5, 20, 4, 16), blob(30, 40, 1) & rect(30, 40, 0, 30, 18, 40)
    pixels = photo_pixels(90, 120, 0)
    pixels[nearest_block(man, 3)] = PAINT["/m/04yx4"]
    pixels[nearest_block(cat, 3)] = PAINT["/m/01yrx"]
    photo(A, pixels)
    add(A, "/m/04yx4", "b9b5b2b1", man, masks0, "1", clicks="")
    add(A, "/m/01yrx", "0c4d1e2f", cat, masks0, "L255", iou="0.55000")
    # B: 150x100, mask 64x48; its masks live in the second folder.
    dog = blob(48, 64, 2)
    pixels = photo_pixels(100, 150, 1)
    pixels[nearest_by_centres(dog, 150, 100)] = PAINT["/m/0bt9lr"]
    photo(B, pixels)
    add(B, "/m/0bt9lr", "77aa88bb", dog, masksf, "L01")
    add(B, "/m/04yx4", "deadbeef", None, masksf, "L255")  # listed, never unpacked
    # C: stored 120x80 + EXIF "rotate 90 clockwise to view"; the mask is drawn on the stored pixels.
    body = blob(40, 60, 3)
    pixels = photo_pixels(80, 120, 2)
    pixels[nearest_block(body, 2)] = PAINT["/m/04yx4"]
    exif = Image.Exif()
    exif[0x0112] = 6
    photo(C, pixels, exif=exif.tobytes())
    add(C, "/m/02p0tk3", "5e5e5e5e", body, masks0, "P")
    # D: a good mask, no photo.
    add(D, "/m/04yx4", "11111111", rect(30, 40, 2, 12, 2, 12), masks0, "L255")
    # E: a photo, no mask.
    photo(E, photo_pixels(90, 120, 3))
    add(E, "/m/01yrx", "22222222", None, masks0, "L255")

    masks_csv = root / "validation-annotations-object-segmentation.csv"
    with open(masks_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MASK_HEADER)
        writer.writerows(rows)
    classes = root / "oidv7-class-descriptions.csv"
    with open(classes, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LabelName", "DisplayName"])
        writer.writerows(CLASSES)
    spec = {"type": "openimages", "images": str(images), "masks": [str(masks0), str(masksf)],
            "masks_csv": str(masks_csv), "class_descriptions": str(classes)}
    return {"root": root, "spec": spec, "stored": stored, "masks_csv": masks_csv, "classes": classes,
            "masks0": masks0, "masksf": masksf, "images": images}


@pytest.fixture
def oi(tmp_path):
    return write_openimages_set(tmp_path / "oi")


def source_of(spec: dict, **changes):
    (source,) = build_sources([{**spec, **changes}])
    return source


def rewrite_csv(path: Path, edit) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows = edit(rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def test_registered_and_the_fixture_is_in_the_real_format(oi):
    assert "openimages" in known_source_types()
    with open(oi["masks_csv"], newline="") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == ",".join(MASK_HEADER)
    assert lines[1].startswith(f"{A}_m04yx4_b9b5b2b1.png,{A},/m/04yx4,b9b5b2b1,0.100000,0.400000,")
    assert oi["classes"].read_text().splitlines()[:2] == ["LabelName,DisplayName", "/m/04yx4,Man"]
    with Image.open(oi["masks0"] / mask_name(A, "/m/04yx4", "b9b5b2b1")) as mask:
        assert mask.mode == "1" and mask.size == (40, 30)  # a third of the photo's 120x90


def test_scenes_have_the_display_names_and_masks_aligned_to_the_photos(oi):
    source = source_of(oi["spec"])
    assert source.name == "openimages"
    assert source.list_image_ids() == sorted([A, B, C, D, E])
    stored = oi["stored"]

    scene = source.load(A)
    assert isinstance(scene, Scene) and scene.image.size == (120, 90)
    by_id = {o.object_id: o for o in scene.objects}
    assert {k: o.category for k, o in by_id.items()} == {"b9b5b2b1": "man", "0c4d1e2f": "cat"}
    assert np.array_equal(by_id["b9b5b2b1"].mask, nearest_block(stored[(A, "b9b5b2b1")], 3))
    assert np.array_equal(by_id["0c4d1e2f"].mask, nearest_block(stored[(A, "0c4d1e2f")], 3))
    assert by_id["b9b5b2b1"].bbox == (12.0, 15.0, 36.0, 45.0)
    assert scene.extra["file_name"] == f"{A}.jpg" and scene.extra["skipped_objects"] == []

    scene = source.load(B)
    assert isinstance(scene, Scene) and scene.image.size == (150, 100)
    (dog,) = scene.objects
    assert (dog.object_id, dog.category) == ("77aa88bb", "dog")
    assert np.array_equal(dog.mask, nearest_by_centres(stored[(B, "77aa88bb")], 150, 100))
    # The painted dog is under the mask: mask and photo agree, not only mask and reference.
    pixels = np.asarray(scene.image, np.int16)
    assert np.abs(pixels[dog.mask] - PAINT["/m/0bt9lr"]).mean() < 12
    (missing,) = scene.extra["skipped_objects"]
    assert missing["object_id"] == "deadbeef"
    assert f"{B}_m04yx4_deadbeef.png" in missing["reason"] and "not found" in missing["reason"]

    scene = source.load(C)
    assert isinstance(scene, Scene) and scene.image.size == (80, 120)  # upright
    (body,) = scene.objects
    assert body.category == "human body"
    # Scaled in the stored frame, then turned like the photo (orientation 6: 90 degrees clockwise).
    assert np.array_equal(body.mask, np.rot90(nearest_block(stored[(C, "5e5e5e5e")], 2), k=-1))
    pixels = np.asarray(scene.image, np.int16)
    assert np.abs(pixels[body.mask] - PAINT["/m/04yx4"]).mean() < 12
    assert scene.extra["normalisation"]["exif_orientation"] == 6
    assert scene.extra["normalisation"]["annotation_frame"] == "raw"

    skipped = source.load(D)
    assert isinstance(skipped, SkippedInput)
    assert skipped.path == str(oi["images"] / f"{D}.jpg")
    assert f"{D}.jpg" in skipped.reason and "file not found" in skipped.reason

    skipped = source.load(E)
    assert isinstance(skipped, SkippedInput)
    assert "no usable object" in skipped.reason and f"{E}_m01yrx_22222222.png" in skipped.reason


def test_max_side_shrinks_masks_with_the_photo(oi):
    scene = source_of(oi["spec"], max_side=60).load(A)
    assert scene.image.size == (60, 45)
    for obj in scene.objects:
        full = nearest_block(oi["stored"][(A, obj.object_id)], 3)[:90, :120]
        # Half of each 2x2 block or more covered counts as inside (the COCO source's rule).
        reference = full.reshape(45, 2, 60, 2).mean(axis=(1, 3)) >= 0.5
        assert np.array_equal(obj.mask, reference), obj.object_id


def test_header_less_class_descriptions_and_an_unknown_label(oi):
    old = oi["root"] / "class-descriptions-boxable.csv"
    old.write_text("".join(f"{mid},{name}\n" for mid, name in CLASSES if mid != "/m/01yrx"))
    source = source_of(oi["spec"], class_descriptions=str(old))
    scene = source.load(A)
    assert [o.category for o in scene.objects] == ["man"]
    (unknown,) = scene.extra["skipped_objects"]
    assert unknown["object_id"] == "0c4d1e2f"
    assert "'/m/01yrx'" in unknown["reason"] and str(old) in unknown["reason"]


def test_paths_that_leave_their_folders_are_skips_and_are_never_read(oi):
    """A valid mask and a valid photo sit next to the folders; naive joining would read them."""
    root = oi["root"]
    outside_mask = root / "outside.png"
    save_mask(outside_mask, rect(30, 40, 5, 25, 5, 35), "L255")
    Image.fromarray(photo_pixels(90, 120, 9)).save(root / "escaped.jpg")

    def edit(rows):
        rows[1][0] = "../outside.png"  # A's man
        rows[2][0] = str(outside_mask)  # A's cat: an absolute path elsewhere
        rows.append([mask_name(A, "/m/04yx4", "33333333"), "../escaped", "/m/04yx4", "33333333",
                     "0.1", "0.5", "0.1", "0.5", "0.9", ""])
        os.replace(oi["masks0"] / mask_name(A, "/m/04yx4", "b9b5b2b1"), root / "unused.png")
        save_mask(oi["masks0"] / mask_name(A, "/m/04yx4", "33333333"), rect(30, 40, 5, 25, 5, 35), "L255")
        return rows

    rewrite_csv(oi["masks_csv"], edit)
    source = source_of(oi["spec"])
    skipped = source.load(A)
    assert isinstance(skipped, SkippedInput)
    assert skipped.reason.count("points outside the masks folder") == 2, skipped.reason
    assert "'../outside.png'" in skipped.reason
    escaped = source.load("../escaped")
    assert isinstance(escaped, SkippedInput) and "points outside the images folder" in escaped.reason


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda rows: [[c for c in row if c != "BoxID"] if i == 0 else row for i, row in enumerate(rows)],
         "row 1 (header) lacks column(s) BoxID"),
        (lambda rows: rows[:2] + [rows[2][:8] + ["high", ""]] + rows[3:], "row 3: PredictedIoU 'high' is not a number"),
        (lambda rows: rows[:3] + [rows[3][:9]] + rows[4:], "row 4: 9 fields where the header has 10"),
        (lambda rows: rows[:4] + [rows[4][:3] + ["", *rows[4][4:]]] + rows[5:], "row 5: empty BoxID"),
        (lambda rows: rows + [rows[1]], "rows 2 and 9 both list MaskPath"),
        (lambda rows: rows[:5] + [[rows[5][0], "0a\x00b", *rows[5][2:]]] + rows[6:],
         r"row 6: ImageID '0a\x00b' contains a NUL"),
        (lambda rows: [], "empty file"),
    ],
    ids=["missing-column", "bad-number", "short-row", "empty-field", "duplicate-mask", "nul-byte", "empty"],
)
def test_a_malformed_masks_csv_names_file_and_row(oi, edit, expected):
    rewrite_csv(oi["masks_csv"], edit)
    with pytest.raises(SourceConfigError) as error:
        source_of(oi["spec"])
    assert str(oi["masks_csv"]) in str(error.value) and expected in str(error.value), str(error.value)


def test_a_malformed_class_csv_names_file_and_row(oi):
    oi["classes"].write_text("LabelName,DisplayName\n/m/04yx4,Man\n/m/01yrx\n")
    with pytest.raises(SourceConfigError, match=r"oidv7-class-descriptions.csv: row 3: expected 'LabelName,Disp"):
        source_of(oi["spec"])
    oi["classes"].write_text("LabelName,DisplayName\n/m/04yx4,Man\n/m/04yx4,Woman\n")
    with pytest.raises(SourceConfigError, match=r"rows 2 and 3 name '/m/04yx4' differently"):
        source_of(oi["spec"])


def test_a_repeated_box_id_falls_back_to_mask_file_stems(oi):
    def edit(rows):
        rows[2][3] = rows[1][3]  # the cat's row claims the man's BoxID
        return rows

    rewrite_csv(oi["masks_csv"], edit)
    scene = source_of(oi["spec"]).load(A)
    assert sorted(o.object_id for o in scene.objects) == sorted(
        [f"{A}_m04yx4_b9b5b2b1", f"{A}_m01yrx_0c4d1e2f"]
    )


def test_min_predicted_iou_drops_masks_and_is_recorded(oi):
    source = source_of(oi["spec"], min_predicted_iou=0.6)
    scene = source.load(A)
    assert [o.object_id for o in scene.objects] == ["b9b5b2b1"]  # the cat's PredictedIoU is 0.55
    assert scene.extra["min_predicted_iou"] == 0.6 and scene.extra["masks_below_min_predicted_iou"] == 1

    def edit(rows):
        for row in rows[1:]:
            if row[1] == B:
                row[8] = "0.1" if row[3] == "77aa88bb" else ""  # one low, one unknown
        return rows

    rewrite_csv(oi["masks_csv"], edit)
    assert B not in source_of(oi["spec"], min_predicted_iou=0.6).list_image_ids()
    assert B in source_of(oi["spec"]).list_image_ids()  # 0 keeps every mask, unknown IoU included
    with pytest.raises(SourceConfigError, match="min_predicted_iou must be a number in"):
        source_of(oi["spec"], min_predicted_iou=1.5)


def test_unreadable_or_empty_masks_skip_the_object_naming_the_file(oi):
    cat = oi["masks0"] / mask_name(A, "/m/01yrx", "0c4d1e2f")
    cat.write_bytes(cat.read_bytes()[:40])  # a download cut short
    save_mask(oi["masksf"] / mask_name(B, "/m/0bt9lr", "77aa88bb"), np.zeros((48, 64), bool), "L255")
    source = source_of(oi["spec"])
    (truncated,) = source.load(A).extra["skipped_objects"]
    assert str(cat) in truncated["reason"]
    empty = source.load(B)
    assert isinstance(empty, SkippedInput) and "mask has no foreground pixel" in empty.reason


def test_fingerprints_see_masks_photos_and_csvs_changed_in_place(oi):
    source = source_of(oi["spec"])
    state, fingerprint = source.photo_state(), source.fingerprint()
    dog = oi["masksf"] / mask_name(B, "/m/0bt9lr", "77aa88bb")
    stat = dog.stat()
    save_mask(dog, ~oi["stored"][(B, "77aa88bb")], "L01")
    os.utime(dog, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert source.photo_state() != state
    state = source.photo_state()
    (oi["images"] / f"{D}.jpg").write_bytes((oi["images"] / f"{A}.jpg").read_bytes())  # the missing photo appears
    assert source.photo_state() != state
    assert source.fingerprint() == fingerprint
    oi["classes"].write_text(oi["classes"].read_text().replace("Man", "Person"))
    assert source.fingerprint() != fingerprint


def test_a_generation_run_over_the_openimages_source_writes_shards(oi, tmp_path):
    import pyarrow.parquet as pq

    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation

    config = GenerateConfig.from_dict(
        {"sources": [{**oi["spec"], "name": "oi"}], "out_dir": str(tmp_path / "out"), "samples_per_shard": 6,
         **SMALL_PHOTO_CONFIG}
    )
    result = run_generation(config, progress=False)
    shards = sorted((tmp_path / "out" / "data").glob("*.parquet"))
    assert shards
    table = pq.read_table(shards, columns=["source", "source_image_id", "category", "object_id"]).to_pylist()
    assert {row["source"] for row in table} == {"oi"}
    assert {row["source_image_id"] for row in table} == {A, B, C}
    edited = {(row["source_image_id"], row["category"]) for row in table if row["object_id"]}
    assert edited and edited <= {(A, "man"), (A, "cat"), (B, "dog"), (C, "human body")}
    assert result.manifest["counts"]["total"] == len(table)
    reasons = [item["reason"] for item in result.manifest["skipped"]["items"]]
    assert any(f"{D}.jpg: file not found" in r for r in reasons)
    assert any(f"{E}_m01yrx_22222222.png" in r for r in reasons)
    assert any(f"{B}_m04yx4_deadbeef.png" in r for r in reasons)
    assert result.manifest["inputs"]["oi"]["images"] == 5
