"""The UGDA protocol: one trial, and K seeded trials of one sample.

One trial (SAGI, arXiv 2502.06593):
1. the judge sees the inpainted image alone; "edited" -> ``not_deceiving`` (caught at stage 1);
2. otherwise it is shown (original, inpainted) and (inpainted, original) and asked which was edited:
   wrong both times -> ``deceiving``; right once, wrong once -> ``uncertain`` (the paper counts it as deceiving);
   right both times -> ``not_deceiving``.
A judge that gives no usable answer at any step makes the trial ``invalid``: it is counted and reported but
left out of the rate, so a judge that rambles cannot inflate (or deflate) deceptiveness.

Each trial draws all of its randomness from ``np.random.default_rng(derive_seed(seed, sample_id, trial))``:
results depend on what the sample is and which trial it is, never on work order or on other samples.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from inpaintbench.ids import derive_seed

from .judges import EDITED, FIRST, REAL, SECOND, Judge
from .posterior import beta_posterior

DECEIVING, UNCERTAIN, NOT_DECEIVING, INVALID = "deceiving", "uncertain", "not_deceiving", "invalid"
OUTCOMES = (DECEIVING, UNCERTAIN, NOT_DECEIVING, INVALID)
NOT_ASSESSED = "n/a"  # pristine samples: nothing was edited, so nothing can deceive


@dataclass(frozen=True)
class TrialResult:
    outcome: str
    caught_single: bool  # not_deceiving already at stage 1


@dataclass(frozen=True)
class SampleAssessment:
    trials: int
    counts: dict[str, int]  # every name of OUTCOMES
    caught_single: int
    deceptiveness: float  # share of valid trials that deceived or were uncertain (NaN if none valid)
    deceptiveness_mean: float  # Beta(1 + k, 1 + n - k) posterior mean
    ci_low: float
    ci_high: float
    outcome: str  # the majority outcome, see majority_outcome

    @property
    def valid_trials(self) -> int:
        return self.trials - self.counts[INVALID]


def _checked(answer: str | None, allowed: tuple[str, str], judge: Judge, step: str) -> str | None:
    if answer is not None and answer not in allowed:
        raise ValueError(f"judge {judge.name!r} answered {answer!r} at {step}; expected one of {allowed} or None")
    return answer


def run_trial(judge: Judge, inpainted: np.ndarray, original: np.ndarray, rng: np.random.Generator) -> TrialResult:
    single = _checked(judge.answer_single(inpainted, rng), (REAL, EDITED), judge, "stage 1")
    if single is None:
        return TrialResult(INVALID, False)
    if single == EDITED:
        return TrialResult(NOT_DECEIVING, True)
    # The pair in both orders: a judge that always names one position is right once and wrong once.
    inpainted_second = _checked(judge.answer_pair(original, inpainted, rng), (FIRST, SECOND), judge, "stage 2")
    inpainted_first = _checked(judge.answer_pair(inpainted, original, rng), (FIRST, SECOND), judge, "stage 2 swapped")
    if inpainted_second is None or inpainted_first is None:
        return TrialResult(INVALID, False)
    right = (inpainted_second == SECOND) + (inpainted_first == FIRST)
    return TrialResult({0: DECEIVING, 1: UNCERTAIN, 2: NOT_DECEIVING}[right], False)


def majority_outcome(counts: dict[str, int]) -> str:
    """The most frequent valid outcome; a tie goes to ``uncertain`` (the trials did not settle it);
    ``invalid`` only when no trial was valid."""
    valid = {name: counts.get(name, 0) for name in (DECEIVING, UNCERTAIN, NOT_DECEIVING)}
    top = max(valid.values())
    if top == 0:
        return INVALID
    leaders = [name for name, count in valid.items() if count == top]
    return leaders[0] if len(leaders) == 1 else UNCERTAIN


def trial_rng(seed: int, sample_id: str, trial: int) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, sample_id, trial))


def assess_sample(
    judge: Judge, sample_id: str, inpainted: np.ndarray, original: np.ndarray, trials: int, seed: int
) -> SampleAssessment:
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    results = [run_trial(judge, inpainted, original, trial_rng(seed, sample_id, t)) for t in range(trials)]
    counter = Counter(r.outcome for r in results)
    counts = {name: counter.get(name, 0) for name in OUTCOMES}
    valid = trials - counts[INVALID]
    k = counts[DECEIVING] + counts[UNCERTAIN]
    posterior = beta_posterior(k, valid)
    return SampleAssessment(
        trials=trials,
        counts=counts,
        caught_single=sum(r.caught_single for r in results),
        deceptiveness=k / valid if valid else float("nan"),
        deceptiveness_mean=posterior.mean,
        ci_low=posterior.ci_low,
        ci_high=posterior.ci_high,
        outcome=majority_outcome(counts),
    )
