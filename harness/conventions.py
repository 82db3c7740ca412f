"""The scoring conventions, fixed in one place.

Forgery-localisation codebases disagree on each of these choices (see docs/evaluation.md), so every results
file carries ``CONVENTIONS`` verbatim: two numbers are only comparable when these match.
"""

from __future__ import annotations

# Bumped whenever a convention or a metric definition changes; results with different versions don't mix.
CONVENTIONS_VERSION = "1"

GT_THRESHOLD = 127  # ground truth pixel is inpainted iff mask value > 127
PIXEL_THRESHOLD = 0.5  # F1_th / IoU_th: a pixel is predicted inpainted iff its score >= 0.5
IMAGE_THRESHOLD = 0.5  # balanced accuracy: an image is predicted inpainted iff its score >= 0.5
TARGET_FPR = 0.05

# Histogram bins. uint8 maps: one bin per value (bin k holds score k/255), so every metric is exact.
# Float maps: bin k holds scores in [k/1000, (k+1)/1000) (1.0 goes to the last bin); 0.5 is a bin edge, so
# F1/IoU at 0.5 are exact and AUC is the exact AUC of the map quantised to 1000 levels (error ~1e-6).
UINT8_BINS = 256
FLOAT_BINS = 1000

# Mask-size bins over the ground-truth area fraction (forged pixels / all pixels), lower bound exclusive.
MASK_SIZE_BINS = (("small", 0.0, 0.05), ("medium", 0.05, 0.15), ("large", 0.15, 1.0))

CONVENTIONS = {
    "version": CONVENTIONS_VERSION,
    "gt_binarisation": f"mask > {GT_THRESHOLD} (mode L, 255 = inpainted)",
    "authentic_images": "excluded from pixel metrics (their AUC and F1 are undefined); included in image metrics",
    "full_mask_images": "kept in pixel F1/IoU; excluded from the per-image pixel AUC mean (no negatives) but "
    "counted in the pooled AUC",
    "resolution": "predicted maps are resized to the ground truth's native size with bilinear interpolation "
    "(cv2.INTER_LINEAR; uint8 maps stay uint8, float maps stay float) before scoring; no image is skipped",
    "pixel_threshold": f"a pixel is predicted inpainted iff score >= {PIXEL_THRESHOLD}",
    "best_threshold": "F1_best: per image, the best of all histogram bin edges (an oracle); pooled, the one best "
    "dataset-wide edge",
    "averaging": "per_image_mean = mean over forged images of per-image values; pooled = one confusion matrix "
    "summed over all forged images' pixels",
    "pixel_auc": "trapezoidal ROC area from per-bin counts: exact tie handling (equals sklearn roc_auc_score on "
    "the quantised map)",
    "histogram_bins": f"uint8 maps: {UINT8_BINS} bins, one per value (exact); float maps: {FLOAT_BINS} bins of "
    "width 1/1000",
    "image_score": "the detector's score; when a detector gives only a map, the map's maximum (MVSS-Net)",
    "image_threshold": f"balanced accuracy: image predicted inpainted iff score >= {IMAGE_THRESHOLD}",
    "tpr_at_fpr": f"largest TPR among ROC points with FPR <= {TARGET_FPR} (no interpolation)",
    "average_precision": "step-wise, no interpolation (sklearn average_precision_score)",
    "inverted_map": "max(F1(p), F1(1-p)) at 0.5 is reported only in its own column 'pixel_f1_inverted_max_mean'; "
    "never in headline numbers",
    "mask_size_bins": {name: [lo, hi] for name, lo, hi in MASK_SIZE_BINS},
    "failed_samples": "policy 'strict' (default): any invalid, crashed or timed-out sample stops scoring with a "
    "report; policy 'penalize': such a sample gets score 0 and an all-zero map, and is listed in the results",
    "bootstrap": "95% percentile intervals from resampling images with replacement (seeded)",
}


def mask_size_bin(area_fraction: float) -> str:
    """Name of the mask-size bin of a forged image ("none" for an authentic one)."""
    if area_fraction <= 0:
        return "none"
    for name, lo, hi in MASK_SIZE_BINS:
        if lo < area_fraction <= hi:
            return name
    return MASK_SIZE_BINS[-1][0]
