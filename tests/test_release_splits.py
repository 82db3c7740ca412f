"""Split config parsing and the split rule: stable across versions, photo-grouped, OOD held out."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from inpaintbench.builder.release.splits import (
    EXCLUDED,
    SplitConfigError,
    default_split_config_path,
    load_split_config,
    parse_split_config,
)

BASE = {
    "salt": "t",
    "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
    "out_of_domain": [
        {"split": "test_ood_backend", "backends": ["opencv_ns"]},
        {"split": "test_ood_source", "sources": ["coco"]},
    ],
    "licenses": {"embedded": {"id": "other", "name": "embedded-photos", "link": "https://example.org/terms"}},
}


def test_example_config_loads():
    config = load_split_config(default_split_config_path())
    assert config.split_names[:3] == ["train", "validation", "test"]
    assert [c.name for c in config.configs][0] == "default"


def test_old_samples_never_move_when_photos_are_added():
    config = parse_split_config(BASE)
    before = {f"p{i}": config.assign("embedded", f"p{i}", "patchmatch") for i in range(200)}
    # A later version: more photos, other backends; assignments of the old photos are recomputed from scratch.
    after = {f"p{i}": config.assign("embedded", f"p{i}", "patchmatch") for i in range(400)}
    assert all(after[k] == v for k, v in before.items())
    assert set(before.values()) == {"train", "validation", "test"}


def test_all_in_domain_samples_of_a_photo_share_a_split_and_ood_is_held_out():
    config = parse_split_config(BASE)
    by_photo = defaultdict(set)
    rows = [(f"p{i}", b) for i in range(100) for b in ("none", "patchmatch", "sd2", "opencv_ns")]
    splits = config.assign_many(["embedded"] * len(rows), [p for p, _ in rows], [b for _, b in rows])
    ood_photos = set()
    for (photo, backend), split in zip(rows, splits, strict=True):
        assert split == config.assign("embedded", photo, backend)  # one rule, one answer
        if backend == "opencv_ns":
            assert split in ("test_ood_backend", EXCLUDED)
            if split is not EXCLUDED:
                ood_photos.add(photo)
        else:
            by_photo[photo].add(split)
    assert all(len(s) == 1 for s in by_photo.values())
    train_photos = {photo for photo, s in by_photo.items() if s == {"train"}}
    # The held-out backend's edits of train photos are left out, those of other photos kept: the OOD test split
    # never shows a detector a photo it trained on.
    assert ood_photos and train_photos and not ood_photos & train_photos
    assert ood_photos == set(by_photo) - train_photos
    # A held-out source wins over everything, pristine included.
    assert config.assign("coco", "x", "none") == "test_ood_source"
    assert config.assign("coco", "x", "opencv_ns") == "test_ood_source"


def test_fractions_are_respected_roughly():
    config = parse_split_config(BASE)
    splits = [config.assign("embedded", f"p{i}", "x") for i in range(4000)]
    assert abs(splits.count("train") / 4000 - 0.5) < 0.03


def test_salt_changes_the_assignment():
    a = parse_split_config(BASE)
    b = parse_split_config({**BASE, "salt": "other"})
    assert a.digest != b.digest
    assert [a.assign("e", f"p{i}", "x") for i in range(50)] != [b.assign("e", f"p{i}", "x") for i in range(50)]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"fractions": {"train": 0.5, "test": 0.4}}, "sum to 1"),
        ({"fractions": {"train": 1.5}}, "fractions.train"),
        ({"fractions": {"bad name": 1.0}}, "valid Hub split name"),
        ({"salt": ""}, "salt"),
        ({"out_of_domain": [{"split": "ood"}]}, "holds out nothing"),
        ({"out_of_domain": [{"split": "train", "backends": ["x"]}]}, "repeat"),
        ({"out_of_domain": [{"split": "ood", "backends": "x"}]}, "list of strings"),
        ({"configs": [{"name": "other"}]}, "'default'"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_bad_configs_name_the_file_and_the_field(tmp_path, change, message):
    path = tmp_path / "splits.yaml"
    path.write_text(yaml.safe_dump({**BASE, **change}))
    with pytest.raises(SplitConfigError) as info:
        load_split_config(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_and_invalid_yaml_files(tmp_path):
    with pytest.raises(SplitConfigError, match="not found"):
        load_split_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("salt: [unclosed")
    with pytest.raises(SplitConfigError, match="not valid YAML"):
        load_split_config(bad)


def test_the_default_split_config_ships_inside_the_package():
    # A wheel install (e.g. a Space) has no repository around it: the default must sit in the package's own files,
    # which pyproject's package-data ("*.yaml") puts in the wheel.
    import inpaintbench.builder.release as release_package
    from inpaintbench.builder.release.splits import default_split_config_path, load_split_config

    path = default_split_config_path()
    assert path.parent == Path(release_package.__file__).parent and path.is_file()
    assert load_split_config(path).configs
