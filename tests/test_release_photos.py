"""One photo, one split group: duplicates under other ids or sources are found and split together.

Each defence runs next to its attack: without grouping, the very same photos land in train and in an evaluation
split; with it, every copy takes one split, and the counts reach release.json and the card.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.release.photos import PHASH_MAX_DISTANCE, fingerprint, group_photos
from inpaintbench.builder.release.splits import EXCLUDED, parse_split_config
from tests.helpers.release_rows import make_rows, write_generator_output

CONFIG = {
    "salt": "photo-groups",
    "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
    "out_of_domain": [{"split": "test_ood_source", "sources": ["coco"]}],
    "licenses": {"embedded": {"id": "cc0-1.0"}, "coco": {"id": "cc-by-4.0"}},
}


def _photo(seed: int, size=(96, 64)) -> Image.Image:
    """A smooth photo-like image (a perceptual hash needs low-frequency structure, not white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (4, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def _jpeg(image: Image.Image, quality: int = 75) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def test_exact_and_near_copies_are_one_group_and_distinct_photos_are_not():
    base = _photo(1)
    photos = {
        ("embedded", "a"): base,
        ("coco", "000123"): base.copy(),  # the same pixels under another source and id
        ("embedded", "a-small"): base.resize((48, 32), Image.Resampling.LANCZOS),  # near: resized
        ("embedded", "a-jpeg"): _jpeg(base),  # near: recompressed
        **{("embedded", f"other{i}"): _photo(100 + i) for i in range(20)},
    }
    groups = group_photos({key: fingerprint(image) for key, image in photos.items()})
    copies = [("embedded", "a"), ("coco", "000123"), ("embedded", "a-small"), ("embedded", "a-jpeg")]
    assert {groups.split_key[k] for k in copies} == {min(copies)}
    assert all(groups.split_key[("embedded", f"other{i}")] == ("embedded", f"other{i}") for i in range(20))
    summary = groups.summary()
    assert (summary["exact_groups"], summary["near_groups"], summary["photos_in_groups"]) == (0, 1, 4)
    exact_only = group_photos({k: fingerprint(photos[k]) for k in copies[:2]})
    assert (exact_only.exact_groups, exact_only.near_groups) == (1, 0)


def test_the_threshold_sits_between_copies_and_distinct_embedded_photos():
    """What PHASH_MAX_DISTANCE was chosen from: every embedded photo's JPEG or half-size copy is within it, and
    no two distinct embedded photos are (the closest pair differs in 20 of 64 bits)."""
    from inpaintbench.builder.embedded.catalog import CATALOG, load_photo

    prints = {}
    for name in CATALOG:
        image = load_photo(name).convert("RGB")
        prints[name] = fingerprint(image)
        half = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
        for copy in (_jpeg(image), half):
            assert bin(prints[name].phash ^ fingerprint(copy).phash).count("1") <= PHASH_MAX_DISTANCE, name
    closest = min(bin(a.phash ^ b.phash).count("1") for a, b in itertools.combinations(prints.values(), 2))
    assert closest > 2 * PHASH_MAX_DISTANCE


def test_copies_share_one_split_and_a_held_out_copy_of_a_train_photo_is_left_out():
    config = parse_split_config(CONFIG)
    # Two ids that the plain rule sends to different in-domain splits: the attack (no grouping) splits one photo.
    ids = [f"p{i}" for i in range(200)]
    first = next(i for i in ids if config.assign("embedded", i, "x") == "train")
    second = next(i for i in ids if config.assign("embedded", i, "x") == "test")
    same = _photo(7)
    prints = {("embedded", first): fingerprint(same), ("embedded", second): fingerprint(same.copy()),
              ("coco", "c1"): fingerprint(_jpeg(same))}
    groups = group_photos(prints)
    sources, photo_ids = ["embedded", "embedded", "coco"], [first, second, "c1"]
    ungrouped = config.assign_many(sources, photo_ids, ["x"] * 3)
    assert ungrouped == ["train", "test", "test_ood_source"]  # the same photo in train and in two test splits
    grouped = config.assign_many(sources, photo_ids, ["x"] * 3, groups)
    # Every in-domain copy follows the group's key (the smallest member, here ("coco", "c1")): one split; the
    # held-out source's copy goes to its OOD split unless the group is in train, where it is left out.
    key_split = config.assign_many(["coco"], ["c1"], ["x"])  # held-out: its in-domain split is the group's
    in_domain = config._in_domain("coco", "c1")
    assert grouped[0] == grouped[1] == in_domain
    assert grouped[2] == (EXCLUDED if in_domain == "train" else "test_ood_source") and key_split == ["test_ood_source"]


@pytest.mark.slow
def test_a_release_splits_a_photo_copied_under_another_id_once(tmp_path):
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import build_release

    config = parse_split_config({**CONFIG, "out_of_domain": []})
    # make_rows(range(12)) under ids photo000..011, and the same 12 photos again under "copy" ids: find a copy id
    # the plain rule splits apart from its original.
    rows = make_rows(range(12))
    copies = make_rows(range(12))
    originals_split = {r["source_image_id"]: config.assign("embedded", r["source_image_id"], "x") for r in rows}
    renamed = {}
    for p in range(12):
        original_id = f"photo{p:03d}"
        renamed[original_id] = next(
            f"copy{p:03d}-{k}"
            for k in range(100)
            if config.assign("embedded", f"copy{p:03d}-{k}", "x") != originals_split[original_id]
        )
    from inpaintbench.ids import recompute_sample_id

    for row in copies:
        row["source_image_id"] = renamed[row["source_image_id"]]
        row["sample_id"] = recompute_sample_id(row)
    out = write_generator_output(tmp_path / "gen", rows + copies)
    summary = build_release(load_generator_output(out), config, tmp_path / "release", "1.0.0", "org/bench")
    import pyarrow.parquet as pq

    index = pq.read_table(tmp_path / "release" / "index" / "samples.parquet").to_pylist()
    split_of_photo = {}
    for row in index:
        base = row["source_image_id"].split("-")[0].replace("copy", "photo")
        split_of_photo.setdefault(base, set()).add(row["split"])
    assert all(len(splits) == 1 for splits in split_of_photo.values()), split_of_photo
    assert summary["duplicates"]["exact_groups"] == 12 and summary["duplicates"]["photos_in_groups"] == 24


@pytest.mark.slow
def test_the_generator_manifest_counts_a_photo_listed_twice(clean_coco_set, tmp_path):
    """A COCO set that lists one photo file twice, under two image ids (and a copy under a third): the manifest
    counts one group of three, before any release is made. Without the copies (the control) it counts none."""
    import json
    import shutil

    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation
    from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec

    images_dir, annotations = clean_coco_set

    def manifest_duplicates(annotations_path, out):
        config = GenerateConfig.from_dict({"sources": [coco_source_spec(images_dir, annotations_path)],
                                           "out_dir": str(out), **SMALL_PHOTO_CONFIG})
        run_generation(config, progress=False)
        return json.loads((out / "manifest.json").read_text())["duplicates"]

    assert manifest_duplicates(annotations, tmp_path / "plain")["photos_in_groups"] == 0
    coco = json.loads(annotations.read_text())
    first = coco["images"][0]
    shutil.copy(images_dir / first["file_name"], images_dir / "copy.png")
    next_image = max(i["id"] for i in coco["images"]) + 1
    next_ann = max(a["id"] for a in coco["annotations"]) + 1
    for offset, file_name in enumerate((first["file_name"], "copy.png")):
        image_id = next_image + offset
        coco["images"].append({**first, "id": image_id, "file_name": file_name})
        for ann in [a for a in coco["annotations"] if a["image_id"] == first["id"]]:
            coco["annotations"].append({**ann, "id": next_ann, "image_id": image_id})
            next_ann += 1
    doubled = tmp_path / "doubled.json"
    doubled.write_text(json.dumps(coco))
    duplicates = manifest_duplicates(doubled, tmp_path / "doubled")
    assert (duplicates["exact_groups"], duplicates["photos_in_groups"]) == (1, 3)
