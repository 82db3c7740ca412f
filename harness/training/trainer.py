"""Fit the pixel classifier on a training split: features of sampled pixels -> HistGradientBoostingClassifier.

Why gradient-boosted trees: the features are on very different scales and interact (a smooth patch is
suspicious only where the image around it is noisy); trees need no scaling and model such interactions, and
sklearn's histogram GBDT fits a few hundred thousand rows in well under a minute on 2 cores. A logistic
regression would be faster but can only weigh features linearly. Early stopping is off: it would hold out a
random tenth of the pixels (of the same photos, so a leaky stopping signal) and make the number of trees depend
on it; a fixed 200 iterations uses every sampled pixel.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from inpaintbench.gt_mask import binarize_gt
from inpaintbench.harness.records import rgb_array
from inpaintbench.harness.training.data import TrainingData
from inpaintbench.harness.training.features import FEATURES_VERSION, compute_features, feature_names
from inpaintbench.harness.training.sampling import balanced_weights, plan_budget, sample_pixels


@dataclass
class TrainOptions:
    pristine_share: float = 0.0  # share of training pixels from pristine photos (0 = inpainted images only)
    pixels_per_image: int = 4000  # per inpainted image, half inside its mask
    seed: int = 0
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    l2_regularization: float = 1.0
    progress: bool = True


def collect_pixels(training: TrainingData, opts: TrainOptions) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(X, y, counts) over the split's images, in dataset order."""
    labels = [int(v) for v in training.dataset["label"]]
    n_inpainted = sum(labels)
    budget = plan_budget(opts.pixels_per_image, opts.pristine_share, n_inpainted, len(labels) - n_inpainted,
                         where=str(training.identity.get("path")))
    view = training.dataset.select_columns(["sample_id", "label", "image", "mask"])
    xs, ys = [], []
    used = {"inpainted_images": 0, "pristine_images": 0, "pristine_pixels": 0}
    for index in tqdm(range(len(view)), desc="features", unit="img", disable=not opts.progress):
        row = view[index]
        inpainted = int(row["label"]) == 1
        if not inpainted and budget.pixels_per_pristine == 0:
            continue
        image = rgb_array(row["image"])
        gt = binarize_gt(row["mask"])
        if image.shape[:2] != gt.shape:
            raise ValueError(f"{training.identity.get('path')}: sample {row['sample_id']}: image {image.shape[:2]} "
                             f"and mask {gt.shape} sizes differ")
        chosen, targets = sample_pixels(gt, inpainted, budget, opts.seed, row["sample_id"])
        features = compute_features(image)
        xs.append(features.reshape(-1, features.shape[-1])[chosen])
        ys.append(targets)
        used["inpainted_images" if inpainted else "pristine_images"] += 1
        if not inpainted:
            used["pristine_pixels"] += int(chosen.size)
    X, y = np.concatenate(xs), np.concatenate(ys)
    counts = {**used, "pixels": int(y.size), "positive_pixels": int(y.sum()),
              "achieved_pristine_share": round(used["pristine_pixels"] / max(int(y.size), 1), 4),
              "pixels_per_image": budget.pixels_per_image, "pixels_per_pristine": budget.pixels_per_pristine}
    return X, y, counts


def make_estimator(opts: TrainOptions):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=opts.max_iter, learning_rate=opts.learning_rate, max_leaf_nodes=opts.max_leaf_nodes,
        l2_regularization=opts.l2_regularization, early_stopping=False, random_state=opts.seed,
    )


def train_detector(training: TrainingData, opts: TrainOptions) -> tuple[Any, dict[str, Any]]:
    """(fitted estimator, sidecar metadata) for ``model_file.save_model``."""
    import sklearn

    started = time.perf_counter()
    X, y, counts = collect_pixels(training, opts)
    features_s = time.perf_counter() - started
    estimator = make_estimator(opts)
    fit_started = time.perf_counter()
    estimator.fit(X, y, sample_weight=balanced_weights(y))
    meta = {
        "training_data": training.identity,
        "training_backends": list(training.backends),
        "seed": opts.seed,
        "options": {k: v for k, v in asdict(opts).items() if k != "progress"},
        "estimator": type(estimator).__name__,
        "feature_names": feature_names(),
        "features_version": FEATURES_VERSION,
        "counts": counts,
        "image_score": "mean of the top 1% of the map",
        "sklearn_version": sklearn.__version__,
        "timing": {"features_s": round(features_s, 2), "fit_s": round(time.perf_counter() - fit_started, 2),
                   "machine": platform.machine()},
    }
    return estimator, meta
