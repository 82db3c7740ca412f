"""InpaintBench detection and localisation metric, as an ``evaluate`` module.

Load it with ``evaluate.load("<repo>/harness/metrics/inpaintbench_detection")``. Its inputs are per-image
summaries made by ``inpaintbench.harness.reduce.summarize`` (two score histograms, the image score, the
label), never pixel maps: ``evaluate`` writes every input to Arrow before computing, which is far too slow and
large for full-size maps. The arithmetic lives in ``inpaintbench.harness.scoring`` so the harness, its
breakdowns and this module cannot disagree.
"""

import datasets
import evaluate

from inpaintbench.harness.conventions import CONVENTIONS
from inpaintbench.harness.scoring import Scorer

_DESCRIPTION = """Pixel F1 at 0.5 and at the best threshold (per-image mean and pooled), IoU at 0.5, pixel AUC
(exact with ties), pixel AP, image-level AUC, AP, balanced accuracy and TPR at 5% FPR, for inpainting forgery
detectors. Authentic images are excluded from pixel metrics and included in image metrics."""

_CITATION = """@misc{inpaintbench, title={InpaintBench}, year={2026}}"""

_KWARGS_DESCRIPTION = """
Args:
    pos_hist: per image, counts of predicted scores per bin over ground-truth inpainted pixels.
    neg_hist: per image, counts over ground-truth pristine pixels (same bins).
    score: per image, the image-level score in [0, 1].
    label: per image, 0 pristine or 1 inpainted.
    return_conventions: also return the conventions dict (default False).
Returns:
    dict of metrics; a metric undefined for the given images (e.g. pixel metrics with no forged image) is None.
Examples:
    >>> import numpy as np
    >>> from inpaintbench.harness.reduce import summarize
    >>> s = summarize(np.array([[0, 255]], np.uint8), np.array([[0, 255]], np.uint8), label=1)
    >>> metric = evaluate.load("harness/metrics/inpaintbench_detection")
    >>> metric.compute(**{k: [v] for k, v in s.as_example().items()})["pixel_f1_mean"]
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
                    "pos_hist": datasets.Sequence(datasets.Value("int64")),
                    "neg_hist": datasets.Sequence(datasets.Value("int64")),
                    "score": datasets.Value("float64"),
                    "label": datasets.Value("int64"),
                }
            ),
            reference_urls=["https://arxiv.org/abs/2502.06593"],
        )

    def _compute(self, pos_hist, neg_hist, score, label, return_conventions=False):
        results = Scorer(pos_hist, neg_hist, score, label).compute()
        if return_conventions:
            results["conventions"] = dict(CONVENTIONS)
        return results
