"""The backend registry and the three weight-free CPU backends."""

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.backends import BACKENDS, InpaintRequest, create_backend
from inpaintbench.ids import derive_seed, make_sample_id

CLASSICAL = ["opencv_telea", "opencv_ns", "patchmatch"]


def _scene(size=96):
    rng = np.random.default_rng(0)
    # A smooth gradient with texture, and a square hole in the middle.
    yy, xx = np.mgrid[0:size, 0:size]
    image = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).astype(np.uint8)
    image = np.clip(image.astype(int) + rng.integers(-5, 6, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[32:64, 32:64] = 255
    return Image.fromarray(image), Image.fromarray(mask)


def test_registry_lists_classical_backends():
    assert set(CLASSICAL) <= set(BACKENDS)


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown inpainting backend 'nope'.*opencv_telea"):
        create_backend("nope")


@pytest.mark.parametrize("name", CLASSICAL)
def test_classical_backend_fills_hole_and_keeps_outside(name):
    image, mask = _scene()
    result = create_backend(name).inpaint(InpaintRequest(image=image, mask=mask, seed=3))
    out = np.asarray(result.image)
    src = np.asarray(image)
    hole = np.asarray(mask) > 127
    assert out.shape == src.shape and out.dtype == np.uint8
    assert result.strategy == "paste_back"
    np.testing.assert_array_equal(out[~hole], src[~hole])
    # The fill continues the gradient: close to the true pixels, far from the black hole a naive copy would leave.
    error = np.abs(out[hole].astype(int) - src[hole].astype(int)).mean()
    assert error < 40, error


# Which classical backends draw random numbers: PatchMatch's random search does; Telea and NS are deterministic
# PDE / fast-marching fills with nothing to seed.
USES_SEED = {"opencv_telea": False, "opencv_ns": False, "patchmatch": True}


@pytest.mark.parametrize("name", CLASSICAL)
def test_classical_backend_is_deterministic_for_a_seed_and_another_seed_changes_it_only_where_one_is_used(name):
    image, mask = _scene()
    backend = create_backend(name)
    a = np.asarray(backend.inpaint(InpaintRequest(image=image, mask=mask, seed=7)).image)
    b = np.asarray(backend.inpaint(InpaintRequest(image=image, mask=mask, seed=7)).image)
    np.testing.assert_array_equal(a, b)
    other = np.asarray(backend.inpaint(InpaintRequest(image=image, mask=mask, seed=8)).image)
    # Both halves can fail: a seeded backend that ignored its seed, or a seed-free one that drew noise.
    assert (not np.array_equal(a, other)) == USES_SEED[name]


def test_size_mismatch_is_a_clear_error():
    image, _ = _scene(96)
    _, mask = _scene(64)
    with pytest.raises(ValueError, match="differ in size"):
        create_backend("opencv_telea").inpaint(InpaintRequest(image=image, mask=mask))


def _id_row(**changes):
    row = dict(label=1, source="embedded", source_image_id="skimage/astronaut", object_id="3", category="person",
               action="remove", replacement="", prompt="background", backend="opencv_telea",
               backend_params='{"radius": 3}', strategy="paste_back", seed=11, mask_variant="object")
    row.update(changes)
    return row


def test_a_sample_id_names_its_whole_recipe_and_result():
    pixels = {"image": "a" * 64, "mask": "b" * 64, "original": "c" * 64}
    a = make_sample_id(_id_row(), pixels)
    assert a == make_sample_id(_id_row(), dict(pixels)) and a.startswith("embedded-skimage_astronaut-")
    # Any change of what was asked, how, with which seed, or of any image's pixels gives another id.
    for change in (dict(seed=12), dict(backend="opencv_ns"), dict(backend_params='{"radius": 5}'), dict(prompt="a dog"),
                   dict(object_id="4"), dict(strategy="full_regeneration"), dict(source="coco")):
        assert make_sample_id(_id_row(**change), pixels) != a, change
    for column in pixels:
        assert make_sample_id(_id_row(), {**pixels, column: "d" * 64}) != a, column
    # A pristine photo has no randomness: its id ignores the seed (stable across rebuilds with other seeds).
    pristine = dict(label=0, object_id="", action="none", backend="none", backend_params="{}", strategy="none")
    assert make_sample_id(_id_row(**pristine, seed=1), pixels) == make_sample_id(_id_row(**pristine, seed=2), pixels)


def test_seeds_depend_only_on_identity():
    s = derive_seed(0, "embedded", "skimage/astronaut", "3", "edit0")
    assert s == derive_seed(0, "embedded", "skimage/astronaut", "3", "edit0") and 0 <= s < 2**63
    assert s != derive_seed(1, "embedded", "skimage/astronaut", "3", "edit0")
    assert s != derive_seed(0, "embedded", "skimage/astronaut", "3", "edit1")


def test_registry_refuses_a_second_registration_and_imports_lazy_entries_on_demand():
    from inpaintbench.registry import Registry

    registry = Registry("widget", lazy={"json_widget": "json"})
    registry.register("a")(type("A", (), {"__init__": lambda self, x=1: setattr(self, "x", x)}))
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        registry.register("a")(type("B", (), {}))
    assert registry.create("a", x=5).x == 5 and registry["a"].name == "a"
    assert registry.known() == ["a", "json_widget"]
    # A lazy module that does not register the name it promised is an unknown name, not a crash.
    with pytest.raises(ValueError, match="unknown widget 'json_widget'; known: a, json_widget"):
        registry.create("json_widget")
