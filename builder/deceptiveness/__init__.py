"""Uncertainty-guided deceptiveness assessment (UGDA) of inpainted samples.

- ``protocol``: the two-stage protocol of one trial (judge alone, then the pair in both orders) and K seeded
  trials of one sample.
- ``posterior``: the Beta posterior of a sample's deceptiveness (mean and 95% interval).
- ``judges``: the ``Judge`` interface and registry; ``harness.detector_judge`` (CPU, no weights) and ``vlm_judge``
  (transformers image-text-to-text) register themselves there.
- ``runner``: a generator output dir -> ``<dir>/assessments/deceptiveness.parquet`` (atomic, resumable).

See docs/deceptiveness.md for the method and its choices.
"""

from .judges import JUDGES, Judge, create_judge, register_judge
from .posterior import BetaPosterior, beta_posterior
from .protocol import OUTCOMES, SampleAssessment, assess_sample, run_trial

__all__ = [
    "JUDGES",
    "Judge",
    "create_judge",
    "register_judge",
    "BetaPosterior",
    "beta_posterior",
    "OUTCOMES",
    "SampleAssessment",
    "assess_sample",
    "run_trial",
]
