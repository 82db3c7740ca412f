"""InpaintBench detection and localisation metric, as an ``evaluate`` module.

Load it with ``evaluate.load("<repo>/harness/metrics/inpaintbench_detection")``. Its inputs are per-image
summaries made by ``inpaintbench.harness.reduce.summarize_prediction`` (the exact sparse histogram of the map's distinct
values split by ground truth, the image's own exact pixel metrics, false-alarm counts, the image score and the
label), never pixel maps: ``evaluate`` writes every input to Arrow before computing, which is far too slow and
large for full-size maps. ``inpaintbench.harness.metrics.summaries_as_inputs`` turns summaries into the keyword
arguments. The arithmetic lives in ``inpaintbench.harness.scoring`` so the harness, its breakdowns and this
module cannot disagree.
"""

import datasets
import evaluate

from inpaintbench.harness.conventions import CONVENTIONS
from inpaintbench.harness.pixel_metrics import IMAGE_PIXEL_FIELDS
from inpaintbench.harness.reduce import ImageSummary
from inpaintbench.harness.scoring import Scorer

_DESCRIPTION = """Pixel F1 at 0.5 and at the best threshold, IoU at 0.5, pixel AUC, AP and TPR at 5% FPR (per-image
mean and pooled, exact for any map: ties averaged, no fixed bins), false alarms on authentic images, the same
pooled over every pixel of every image, IMDL-BenCo's per-image F1 beside ours, and image-level AUC, AP, balanced
accuracy and TPR at 5% FPR, for inpainting forgery detectors."""

_CITATION = """@misc{inpaintbench, title={InpaintBench}, year={2026}}"""

_KWARGS_DESCRIPTION = """
Args (one list entry per image; ``summaries_as_inputs`` builds them from ``ImageSummary`` objects):
    keys, pos, neg: the image's exact histogram: ascending order-preserving keys of its distinct map values
        (``exact_hist.values_to_keys``) and the counts over ground-truth inpainted / pristine pixels.
    score, label: the image-level score in [0, 1] and 0 (pristine) or 1 (inpainted).
    has_map, n_pixels, flagged, map_sum: whether a map was given, its pixel count, pixels at score >= 0.5, the
        sum of its scores.
    image_<metric>: the image's own exact pixel metrics (f1, iou, f1_best, auc, ap, tpr_at_5fpr, f1_inverted,
        f1_imdl, iou_imdl), None where undefined.
    return_conventions: also return the conventions dict (default False).
Returns:
    dict of metrics; a metric undefined for the given images (e.g. pixel metrics with no forged image) is None.
Examples:
    >>> import numpy as np
    >>> from inpaintbench.harness.metrics import summaries_as_inputs
    >>> from inpaintbench.harness.reduce import summarize_prediction
    >>> s = summarize_prediction(np.array([[0.01, 0.99]], np.float32), np.array([[0, 255]], np.uint8), label=1)
    >>> metric = evaluate.load("harness/metrics/inpaintbench_detection")
    >>> metric.compute(**summaries_as_inputs([s]))["pixel_f1_mean"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class InpaintbenchDetection(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "keys": datasets.Sequence(datasets.Value("uint64")),
                    "pos": datasets.Sequence(datasets.Value("int64")),
                    "neg": datasets.Sequence(datasets.Value("int64")),
                    "score": datasets.Value("float64"),
                    "label": datasets.Value("int64"),
                    "has_map": datasets.Value("bool"),
                    "n_pixels": datasets.Value("int64"),
                    "flagged": datasets.Value("int64"),
                    "map_sum": datasets.Value("float64"),
                    **{f"image_{k}": datasets.Value("float64") for k in IMAGE_PIXEL_FIELDS},
                }
            ),
            reference_urls=["https://arxiv.org/abs/2502.06593"],
        )

    def _compute(self, return_conventions=False, **columns):
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=False)]
        results = Scorer([ImageSummary.from_example(row) for row in rows]).compute()
        if return_conventions:
            results["conventions"] = dict(CONVENTIONS)
        return results
