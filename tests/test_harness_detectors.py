"""The detector registry and the two classical baselines (real images from scikit-image's wheel)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inpaintbench.harness.detectors import DETECTORS, Detector, create_detector, register_detector


def _jpeg_photo_with_pasted_region(kind: str = "fresh"):
    """A JPEG-compressed photo with a square replaced by never-compressed noisy content ("fresh": ELA's
    textbook case) or by a smoothed copy ("smooth": what Telea/LaMa-like fills leave, the noise detector's)."""
    import cv2
    from skimage import data

    photo = data.astronaut()[:256, :256]
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG", quality=75)
    image = np.asarray(Image.open(buf).convert("RGB")).copy()
    mask = np.zeros(image.shape[:2], bool)
    mask[96:160, 96:160] = True
    if kind == "fresh":
        noise = np.random.default_rng(0).normal(0, 12, (64 * 64, 3))
        image[mask] = np.clip(image[mask].astype(float) + noise, 0, 255).astype(np.uint8)
    else:
        image[mask] = cv2.GaussianBlur(image, (9, 9), 3)[mask]
    return image, mask


def test_registry_lists_the_baselines_and_refuses_unknown_names():
    assert {"ela", "noise"} <= set(DETECTORS)
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        create_detector("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register_detector("ela")(type("Again", (Detector,), {"predict": lambda self, image: {}}))


@pytest.mark.parametrize("name", ["ela", "noise"])
def test_baselines_give_a_map_and_a_score_in_range_deterministically(name):
    image, _ = _jpeg_photo_with_pasted_region()
    detector = create_detector(name)
    out = detector.predict(image)
    assert set(out) == {"score", "map"}
    assert out["map"].shape == image.shape[:2] and out["map"].dtype == np.float32
    assert 0.0 <= out["map"].min() and out["map"].max() <= 1.0 and 0.0 <= out["score"] <= 1.0
    again = create_detector(name).predict(image)
    np.testing.assert_array_equal(out["map"], again["map"])
    assert detector.describe()["name"] == name


@pytest.mark.parametrize("name, kind", [("ela", "fresh"), ("noise", "smooth")])
def test_baselines_localise_the_edit_they_are_built_for(name, kind):
    image, mask = _jpeg_photo_with_pasted_region(kind)
    heat = create_detector(name).predict(image)["map"]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(mask.ravel(), heat.ravel()) > 0.75


def test_baselines_refuse_non_rgb_input():
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        create_detector("ela").predict(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        create_detector("noise").predict(np.zeros((8, 8, 3), np.float32))
