"""Small InpaintBench shards for the harness tests (written with the real schema, read back through Parquet),
and misbehaving detectors for the sandbox. No tests here; imported by tests/test_harness_*.py."""

from __future__ import annotations

import numpy as np
from PIL import Image

H, W = 40, 56


def make_rows(n: int = 8, seed: int = 0, h: int = H, w: int = W) -> dict:
    """Alternating pristine / inpainted rows; inpainted regions are darker and smoother than the rest."""
    from inpaintbench.schema import COLUMNS

    rng = np.random.default_rng(seed)
    rows = {c: [] for c in COLUMNS}
    for i in range(n):
        img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        label = i % 2
        if label:
            y, x = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
            mask[y : y + h // 3, x : x + w // 3] = 255
            img[mask > 0] = img[mask > 0] // 4
        row = dict(
            sample_id=f"s{i:03d}", label=label, image=Image.fromarray(img), mask=Image.fromarray(mask, "L"),
            original=Image.fromarray(img), source=["embedded", "coco"][(i // 4) % 2], source_image_id=f"p{i // 2}",
            object_id=str(i) if label else "", category=["cat", "dog"][(i // 2) % 2] if label else "",
            action="replace" if label else "none", replacement="", replacement_score=float("nan"), prompt="",
            backend=["telea", "patchmatch"][(i // 2) % 2] if label else "none", backend_params="{}",
            strategy=["paste_back", "full_regeneration"][(i // 2) % 2] if label else "none", seed=i,
            mask_variant="object", mask_dilation_pct=0.0, mask_area_fraction=float((mask > 127).mean()),
            width=w, height=h, extra="{}", edit_id=f"e{i}" if label else "",
            changed_mask=Image.fromarray(mask, "L"), recipe="{}",
        )
        for key, value in row.items():
            rows[key].append(value)
    return rows


def write_shard(path, n: int = 8, seed: int = 0) -> str:
    import datasets

    from inpaintbench.schema import FEATURES

    datasets.Dataset.from_dict(make_rows(n, seed), features=FEATURES).to_parquet(str(path))
    return str(path)


def oracle_maps(n: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Per sample id, a noisy version of its ground truth (what a good detector would output), uint8."""
    rows = make_rows(n, seed)
    rng = np.random.default_rng(seed + 100)
    out = {}
    for sample_id, mask in zip(rows["sample_id"], rows["mask"], strict=True):
        gt = np.asarray(mask) > 127
        noisy = np.clip(gt * 200 + rng.normal(30, 40, gt.shape), 0, 255).astype(np.uint8)
        out[sample_id] = noisy
    return out


# A detector file for the sandbox tests: what it does depends on the image's first pixel, so one run can
# exercise every failure while the test controls which sample does what.
MISBEHAVING_DETECTOR = '''
import os, time
import numpy as np

class Misbehaving:
    training_backends = ("telea",)

    def __init__(self, sleep=5.0):
        self.sleep = sleep

    def predict(self, image):
        code = int(image[0, 0, 0])
        h, w = image.shape[:2]
        if code == 1:
            os._exit(3)  # a hard crash: the process dies
        if code == 2:
            time.sleep(self.sleep)  # a timeout
        if code == 3:
            raise RuntimeError("boom")
        if code == 4:
            return {"score": float("nan"), "map": np.zeros((h, w), np.float32)}
        if code == 5:
            return {"score": 0.5, "map": np.full((h, w), 1.5, np.float32)}
        if code == 6:
            return {"score": 0.5, "map": np.zeros((h, w // 2), np.float32)}
        if code == 7:
            _ = np.ones(1 << 34, dtype=np.uint8)  # 16 GiB: over the memory limit
        return {"score": float(image.mean() / 255.0), "map": (image[:, :, 0] < 64).astype(np.float32)}
'''
