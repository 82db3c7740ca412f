"""The SAOR category table and label canonicalisation (pure Python, no model)."""

from __future__ import annotations

import pytest

from inpaintbench.builder.saor.categories import (
    ALL_CATEGORIES,
    COCO_CATEGORIES,
    SETTINGS,
    SIZE_CLASSES,
    canonical_name,
    is_lexical_trap,
    lookup,
)
from inpaintbench.builder.saor.context import infer_setting
from inpaintbench.builder.saor.template_writer import GROUP_ADJECTIVES


def test_support_overrides_name_real_categories():
    from inpaintbench.builder.saor.categories import BY_NAME, SUPPORT_OVERRIDES, supports_of

    assert set(SUPPORT_OVERRIDES) <= set(BY_NAME), set(SUPPORT_OVERRIDES) - set(BY_NAME)
    assert all(supports_of(c) for c in ALL_CATEGORIES)


def test_table_is_complete_and_well_formed():
    assert len(COCO_CATEGORIES) == 80
    names = [c.name for c in ALL_CATEGORIES]
    assert len(names) == len(set(names))
    for category in ALL_CATEGORIES:
        assert category.size in SIZE_CLASSES and category.setting in SETTINGS, category
        assert category.group in GROUP_ADJECTIVES, f"no prompt adjectives for group {category.group!r}"


@pytest.mark.parametrize(
    "label, name",
    [("Sofa", "couch"), ("tv-other", "tv"), ("wall-other-merged", "wall"), ("dining_table", "dining table"),
     ("motorbike", "motorcycle"), ("hot dog", "hot dog")],
)
def test_canonical_names(label, name):
    assert canonical_name(label) == name


def test_lookup_unknown_is_none():
    assert lookup("spaceship") is None and lookup("TV").name == "tv"


@pytest.mark.parametrize(
    "target, candidate, trap",
    [("dog", "hot dog", True), ("hot dog", "dog", True), ("bear", "teddy bear", True), ("mouse", "rabbit", True),
     ("wine glass", "glass jar", True), ("baseball bat", "baseball glove", True), ("sofa", "armchair", True),
     ("dog", "cat", False), ("cup", "bowl", False)],
)
def test_lexical_traps(target, candidate, trap):
    assert is_lexical_trap(target, candidate) is trap


def test_setting_inference():
    assert infer_setting(["cup", "refrigerator", "oven"], "") == "indoor"
    assert infer_setting(["cup", "car"], "a table on the beach") == "outdoor"
    assert infer_setting(["cup", "person"], "") == "any"
