"""The scoring conventions, fixed in one place.

Forgery-localisation codebases disagree on each of these choices (see docs/evaluation.md), so every results
file carries ``CONVENTIONS`` verbatim: two numbers are only comparable when these match.
"""

from __future__ import annotations

# Bumped whenever a convention or a metric definition changes; results with different versions don't mix.
CONVENTIONS_VERSION = "2"  # 2: exact ranking metrics for any map, pristine false alarms, GT encodings

PIXEL_THRESHOLD = 0.5  # F1_th / IoU_th: a pixel is predicted inpainted iff its score >= 0.5
IMAGE_THRESHOLD = 0.5  # balanced accuracy: an image is predicted inpainted iff its score >= 0.5
TARGET_FPR = 0.05

# Histogram rows (one per distinct value per image, 24 bytes) held in memory; past it they spill to a scratch
# file and are read back by key range (harness/hist_store.py): every metric stays exact, memory stays flat.
DEFAULT_ENTRY_BUDGET = 1 << 21

# Mask-size bins over the ground-truth area fraction (forged pixels / all pixels), lower bound exclusive.
MASK_SIZE_BINS = (("small", 0.0, 0.05), ("medium", 0.05, 0.15), ("large", 0.15, 1.0))

CONVENTIONS = {
    "version": CONVENTIONS_VERSION,
    "gt_binarisation": "bool as is; integers 0/1 (> 0), 0/255 (> 127), 0/65535 (> 32767); floats in [0, 1] "
    "(> 0.5); any other encoding, or a forged sample with an empty mask, is refused naming the sample",
    "authentic_images": "excluded from the forged-image pixel metrics (their AUC and F1 are undefined); their "
    "false alarms are reported apart (pristine_*: share of pixels with score >= 0.5, mean map value) and in the "
    "'_pooled_all' metrics over every pixel of every image; included in image metrics",
    "full_mask_images": "kept in pixel F1/IoU; excluded from the per-image pixel AUC mean (no negatives) but "
    "counted in the pooled AUC",
    "resolution": "predicted maps of the image's aspect ratio (within 2%) are resized to the ground truth's "
    "native size with bilinear interpolation (cv2.INTER_LINEAR; uint8 stays uint8, float64 stays float64, "
    "float16 is resized in float32); another aspect ratio is refused on every entry point",
    "pixel_threshold": f"a pixel is predicted inpainted iff score >= {PIXEL_THRESHOLD}, compared in the map's own "
    "precision (uint8: value >= 128)",
    "best_threshold": "F1_best: per image, the best threshold among the image's own distinct values (an "
    "oracle); pooled, the one best dataset-wide threshold",
    "averaging": "per_image_mean = mean over forged images of per-image values; pooled = one confusion matrix "
    "summed over all forged images' pixels",
    "pixel_auc": "ROC area with ties averaged, from the exact counts of every distinct map value (equals sklearn "
    "roc_auc_score on all pixels)",
    "map_values": "every distinct value of a map in its own precision (uint8 k means k/255; float16/32/64 as "
    "given) keeps its own counts: no fixed bins, so saturated sigmoid maps score exactly",
    "pooled_exactness": "pooled metrics sum every image's exact histogram: exact for any number of images (past "
    f"{DEFAULT_ENTRY_BUDGET} rows in memory the histograms spill to a scratch file and are read back by key range)",
    "image_score": "the detector's score; when a detector gives only a map, the map's maximum (MVSS-Net)",
    "image_threshold": f"balanced accuracy: image predicted inpainted iff score >= {IMAGE_THRESHOLD}",
    "tpr_at_fpr": f"largest TPR among ROC points with FPR <= {TARGET_FPR} (no interpolation)",
    "average_precision": "step-wise, no interpolation (sklearn average_precision_score)",
    "inverted_map": "max(F1(p), F1(1-p)) at 0.5 is reported only in its own column 'pixel_f1_inverted_max_mean'; "
    "never in headline numbers",
    "mask_size_bins": {name: [lo, hi] for name, lo, hi in MASK_SIZE_BINS},
    "failed_samples": "policy 'strict' (default): any invalid, crashed or timed-out sample stops scoring with a "
    "report; policy 'penalize': such a sample gets score 0 and an all-zero map, and is listed in the results",
    "bootstrap": "95% percentile intervals from resampling images with replacement (seeded); pooled pixel "
    "metrics inside resamples use at most 1024 levels (quantiles of the run's values, 0.5 an edge; exact when the "
    "run has fewer distinct values), shifted by the exact full-data value minus its value at those levels",
    "imdlbenco": "reported apart as imdlbenco_*: IMDL-BenCo's convention, per-image mean over every image with a "
    "map, authentic images at F1 = IoU = 0, a pixel predicted inpainted iff score > 0.5",
}


# What each reported metric means, one line each: shown under the leaderboard (Markdown and Space) and in
# docs/evaluation.md. "Forged images": images with at least one inpainted pixel; "authentic": none.
METRIC_DEFINITIONS = {
    "pixel_f1_mean": "mean over forged images of the per-image F1 of 'score >= 0.5' against the mask",
    "pixel_f1_pooled": "F1 of 'score >= 0.5' over all pixels of all forged images (one confusion matrix)",
    "pixel_iou_mean": "mean over forged images of the per-image IoU at score >= 0.5",
    "pixel_auc_pooled": "ROC AUC over all pixels of all forged images, ties averaged, exact",
    "pixel_f1_pooled_all": "F1 at 0.5 over all pixels of all images, authentic ones included: false alarms on "
    "authentic images count",
    "pristine_pixel_fpr_pooled": "share of the pixels of authentic images with score >= 0.5 (lower is better)",
    "pristine_pixel_fpr_mean": "mean over authentic images of their share of pixels with score >= 0.5 (lower is "
    "better)",
    "pristine_map_mean": "mean map value over the pixels of authentic images (lower is better)",
    "pristine_images_flagged": "share of authentic images with any pixel at score >= 0.5 (lower is better)",
    "image_auc": "ROC AUC of the image score, forged vs authentic images",
    "image_ap": "average precision of the image score (forged = positive)",
    "balanced_accuracy": "mean of the recalls of forged and authentic images at image score >= 0.5",
    "image_tpr_at_5fpr": "share of forged images detected at the image-score threshold that flags at most 5% of "
    "authentic images",
    "imdlbenco_pixel_f1_mean": "IMDL-BenCo's convention, for comparison with papers that use it: mean over all "
    "images of the per-image F1 at score > 0.5, authentic images counting 0",
}


def mask_size_bin(area_fraction: float) -> str:
    """Name of the mask-size bin of a forged image ("none" for an authentic one)."""
    if area_fraction <= 0:
        return "none"
    for name, lo, hi in MASK_SIZE_BINS:
        if lo < area_fraction <= hi:
            return name
    return MASK_SIZE_BINS[-1][0]
