"""Training data for the trained detectors' tests (the pixel-level baseline, the CNN, the Space's use of them).

A synthetic case a model must learn (a noisy patch in a clean, smooth photo) in the build's schema, and a tiny
real build: a generation run on the synthetic COCO set with a split config, for ``train-detector`` end to end.
"""

from __future__ import annotations

import numpy as np
import yaml

from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set

SIZE = 48


def noisy_patch_image(rng: np.random.Generator, inpainted: bool) -> tuple[np.ndarray, np.ndarray]:
    """A smooth gradient photo, SIZE px square; inpainted: a 16 px square of added noise, and its mask."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    base = np.stack([xx * 3 + rng.uniform(0, 60), yy * 2 + rng.uniform(0, 60), 200 - xx - yy], axis=-1)
    image = base + rng.normal(0, 1.0, base.shape)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    if inpainted:
        y, x = rng.integers(4, SIZE - 20, 2)
        mask[y : y + 16, x : x + 16] = 255
        image[mask > 0] += rng.normal(0, 14.0, (int((mask > 0).sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8), mask


def synthetic_dataset(n: int, seed: int, make_image=None):
    """n synthetic samples (one pristine in four) in the build's schema; ``make_image(rng, inpainted)`` gives
    (uint8 image, mask: 0/255 uint8 or bool)."""
    import datasets
    from PIL import Image

    from inpaintbench.schema import FEATURES

    make_image = make_image or noisy_patch_image
    rng = np.random.default_rng(seed)
    rows = {"sample_id": [], "label": [], "image": [], "mask": [], "backend": []}
    for i in range(n):
        inpainted = i % 4 != 3  # one pristine photo in four
        image, mask = make_image(rng, inpainted)
        rows["sample_id"].append(f"synth-{seed}-{i}")
        rows["label"].append(int(inpainted))
        rows["image"].append(Image.fromarray(image))
        rows["mask"].append(Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255, "L"))
        rows["backend"].append("noise_paint" if inpainted else "none")
    features = datasets.Features({k: FEATURES[k] for k in rows})
    return datasets.Dataset.from_dict(rows, features=features)


def training_data(n: int = 12, seed: int = 0, make_image=None):
    """``synthetic_dataset(n, seed, make_image)`` as the trainers' input (a TrainingData with a synthetic
    identity)."""
    from inpaintbench.harness.training.data import TrainingData

    dataset = synthetic_dataset(n, seed, make_image)
    identity = {"kind": "synthetic", "path": "memory", "split": "train", "manifest_sha256": None, "num_samples": n}
    return TrainingData(dataset=dataset, identity=identity, backends=("noise_paint",))


# A fit here costs ~3 s whatever its size: with sample weights, sklearn 1.9 bins features by one weighted-percentile
# call per bin edge (255 x 43 calls) below 200k rows. Hence few fits, shared through module fixtures.
SMALL_FIT = dict(pixels_per_image=300, max_iter=40, progress=False)


def write_tiny_build(root, salt: str, fractions: dict):
    """A real generation run (COCO-format synthetic photos, OpenCV Telea + NS) and a split config that holds NS
    out, as the default one does: (run dir, split config path)."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation

    images_dir, annotations = write_coco_set(root / "coco", num_images=8, bad_inputs=False)
    out = root / "gen"
    config = GenerateConfig.from_dict({
        "sources": [coco_source_spec(images_dir, annotations)], "out_dir": str(out), "samples_per_shard": 16,
        "backends": [{"name": "opencv_telea"}, {"name": "opencv_ns"}], "pristine_ratio": 0.3, **SMALL_PHOTO_CONFIG,
    })
    run_generation(config, progress=False)
    split_config = root / "splits.yaml"
    split_config.write_text(yaml.safe_dump({
        "salt": salt, "fractions": fractions,
        "out_of_domain": [{"split": "test_ood_backend", "backends": ["opencv_ns"]}],
        "licenses": {"synth": {"id": "cc0-1.0", "note": "synthetic test photos"}},
    }))
    return out, split_config
