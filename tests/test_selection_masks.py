"""Object selection (bounds, crowd, tiny, max per image, determinism) and mask variants/dilation, checked
numerically."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from inpaintbench.builder.masks import MASK_VARIANTS, dilate_by_area, mask_to_pil, process_mask, shape_variant
from inpaintbench.builder.scene import SceneObject
from inpaintbench.builder.selection import SelectionConfig, select_objects


def box_object(object_id: str, y0, y1, x0, x1, size=(100, 100), iscrowd=False) -> SceneObject:
    mask = np.zeros(size, bool)
    mask[y0:y1, x0:x1] = True
    return SceneObject(object_id, "thing", mask, (x0, y0, x1 - x0, y1 - y0), iscrowd)


def disc(radius: float, size=(101, 101), centre=(50, 50)) -> np.ndarray:
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


# ---- selection -------------------------------------------------------------------------------------------


def test_bounds_crowd_and_tiny_objects_are_rejected_with_reasons():
    objects = [
        box_object("1", 0, 10, 0, 10),  # 100 px = 1%: fine with min_pixels 50
        box_object("2", 0, 3, 0, 3),  # 9 px: tiny by pixels
        box_object("3", 0, 80, 0, 80),  # 64%: too large
        box_object("4", 0, 20, 0, 20, iscrowd=True),
        box_object("5", 0, 8, 0, 8),  # 64 px = 0.64% < 0.7%
    ]
    config = SelectionConfig(min_area_fraction=0.007, max_area_fraction=0.5, min_pixels=50, max_objects=5)
    result = select_objects(objects, np.random.default_rng(0), config)
    assert [o.object_id for o in result.chosen] == ["1"]
    reasons = dict(result.rejected)
    assert reasons["2"].startswith("tiny: 9 pixels")
    assert reasons["3"].startswith("too large: area fraction 0.6400")
    assert reasons["4"] == "crowd annotation"
    assert reasons["5"].startswith("tiny: area fraction 0.0064")
    crowd_ok = select_objects(objects, np.random.default_rng(0), SelectionConfig(
        min_area_fraction=0.007, min_pixels=50, max_objects=5, skip_crowd=False))
    assert sorted(o.object_id for o in crowd_ok.chosen) == ["1", "4"]


def test_max_objects_draw_is_deterministic_and_seed_dependent():
    objects = [box_object(str(i), i, i + 10, 0, 10) for i in range(12)]
    config = SelectionConfig(min_pixels=0, max_objects=3)
    draws = {}
    for seed in range(6):
        first = select_objects(objects, np.random.default_rng(seed), config)
        again = select_objects(list(reversed(objects)), np.random.default_rng(seed), config)  # order-independent
        assert [o.object_id for o in first.chosen] == [o.object_id for o in again.chosen]
        assert len(first.chosen) == 3 and len(first.rejected) == 9
        assert all("max_objects=3" in reason for _, reason in first.rejected)
        draws[seed] = tuple(o.object_id for o in first.chosen)
    assert len(set(draws.values())) > 1


def test_selection_config_is_validated():
    with pytest.raises(ValueError, match="min_area_fraction"):
        SelectionConfig(min_area_fraction=0.6, max_area_fraction=0.5)
    assert select_objects([], np.random.default_rng(0)).chosen == []


# ---- mask variants -------------------------------------------------------------------------------------


def test_bbox_variant_is_the_filled_bounding_box():
    mask = np.zeros((50, 60), bool)
    mask[10, 20] = mask[30, 45] = mask[20, 33] = True
    out = shape_variant(mask, "bbox")
    assert out.sum() == 21 * 26 and out[10:31, 20:46].all()


def test_convex_hull_of_an_l_shape():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:15] = True  # vertical bar, x 5..14
    mask[25:35, 5:35] = True  # foot, x 5..34, y 25..34
    hull = shape_variant(mask, "convex_hull")
    assert (hull >= mask).all()
    # Hull of pixel centres: the L's 6 outer corners; the notch is the triangle (14,5)-(34,25)-(14,25) minus
    # its edges shared with the L. Its pixels (x, y) with 14 < x and y < 25 and y >= x - 9 join the hull.
    y, x = np.mgrid[0:40, 0:40]
    notch = (x > 14) & (y < 25) & (y >= x - 9) & (x <= 34) & (y >= 5)
    np.testing.assert_array_equal(hull, mask | notch)
    # A convex shape is its own hull.
    np.testing.assert_array_equal(shape_variant(disc(20), "convex_hull"), disc(20))


def test_convex_hull_spans_separate_parts_and_thin_objects():
    mask = np.zeros((30, 30), bool)
    mask[2:6, 2:6] = mask[20:24, 20:24] = True
    hull = shape_variant(mask, "convex_hull")
    assert hull[12, 12] and hull.sum() > 2 * 16 and (hull >= mask).all()
    line = np.zeros((10, 10), bool)
    line[4, 2:8] = True
    np.testing.assert_array_equal(shape_variant(line, "convex_hull"), line)


def test_unknown_variant_and_bad_inputs():
    with pytest.raises(ValueError, match="unknown mask variant 'blob'"):
        process_mask(disc(5), "blob")
    with pytest.raises(ValueError, match="empty"):
        process_mask(np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="dilation_pct"):
        process_mask(disc(5), dilation_pct=-3)


# ---- dilation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pct", [0, 1, 10, 37.5, 100])
def test_dilation_grows_area_exactly_by_the_percentage(pct):
    mask = disc(15)
    grown = dilate_by_area(mask, pct)
    assert grown.sum() == mask.sum() + round(mask.sum() * pct / 100)
    assert (grown >= mask).all()


def test_dilation_adds_a_distance_band():
    mask = np.zeros((80, 90), bool)
    mask[20:50, 30:40] = True
    mask[45:60, 30:70] = True
    grown = dilate_by_area(mask, 25)
    distance = ndimage.distance_transform_edt(~mask)  # scipy's exact EDT, independent of OpenCV's
    added, left_out = grown & ~mask, ~grown
    assert added.any()
    # Every added pixel is at least as close to the object as every pixel left out.
    assert distance[added].max() <= distance[left_out].min() + 1e-4


def test_dilation_is_clipped_to_the_image_and_recorded():
    mask = np.zeros((10, 10), bool)
    mask[:, :6] = True  # 60 px; 100% would need 60 more, only 40 exist
    result = process_mask(mask, "object", dilation_pct=100)
    assert result.mask.all()
    assert result.record["mask_dilation_pct"] == 100
    assert result.record["mask_dilation_pct_achieved"] == pytest.approx(100 * 40 / 60)
    assert result.record["mask_area_fraction"] == 1.0


def test_mask_against_the_border_grows_only_inward():
    mask = np.zeros((50, 50), bool)
    mask[:10, :10] = True
    grown = dilate_by_area(mask, 44)  # 100 px -> 144 px: the 12x12 corner square exactly
    assert grown.sum() == 144 and grown[:12, :12].sum() >= 140


@pytest.mark.parametrize("variant", MASK_VARIANTS)
def test_process_mask_records_what_was_applied(variant):
    mask = disc(12, size=(60, 80), centre=(30, 30))
    mask[28:32, 40:55] = True  # a handle, so the three variants differ
    result = process_mask(mask, variant, dilation_pct=20)
    base = shape_variant(mask, variant).sum()
    record = result.record
    assert record["mask_variant"] == variant and record["mask_dilation_pct"] == 20
    assert record["variant_pixels"] == base and record["object_pixels"] == mask.sum()
    assert record["mask_pixels"] == result.mask.sum() == base + round(base * 0.2)
    assert record["mask_area_fraction"] == pytest.approx(result.mask.sum() / (60 * 80))
    assert record["mask_dilation_pct_achieved"] == pytest.approx(20, abs=100 / base)
    assert (result.mask >= mask).all()
    pil = mask_to_pil(result.mask)
    assert pil.mode == "L" and set(np.unique(np.asarray(pil))) == {0, 255}


def test_variants_differ_as_expected():
    mask = disc(12, size=(60, 80), centre=(30, 30))
    mask[28:32, 40:55] = True
    sizes = {v: shape_variant(mask, v).sum() for v in MASK_VARIANTS}
    assert sizes["object"] < sizes["convex_hull"] < sizes["bbox"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_convex_hull_matches_a_brute_force_half_plane_check(seed):
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(seed)
    mask = np.zeros((70, 90), bool)
    for _ in range(4):  # a few random blobs, so the hull spans gaps
        cy, cx, r = rng.integers(10, 60), rng.integers(10, 80), rng.integers(2, 9)
        mask |= disc(r, size=(70, 90), centre=(cy, cx))
    points = np.argwhere(mask)[:, ::-1].astype(float)  # (x, y) pixel centres
    equations = ConvexHull(points).equations  # normal . p + offset <= 0 inside
    y, x = np.mgrid[0:70, 0:90]
    grid = np.stack([x.ravel(), y.ravel()], 1).astype(float)
    inside = ((grid @ equations[:, :2].T + equations[:, 2]) <= 1e-9).all(1).reshape(70, 90)
    np.testing.assert_array_equal(shape_variant(mask, "convex_hull"), inside)
