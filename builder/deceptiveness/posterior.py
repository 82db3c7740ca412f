"""Beta posterior of a deceptiveness rate from k deceiving-or-uncertain trials out of n valid ones.

A uniform Beta(1, 1) prior gives Beta(1 + k, 1 + n - k): its mean (k + 1) / (n + 2) never says 0 or 1 from a
handful of trials, and its equal-tailed 95% interval narrows as K grows, which is the "uncertainty" the
assessment reports next to the raw share k / n.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

CREDIBLE_MASS = 0.95


@dataclass(frozen=True)
class BetaPosterior:
    alpha: float
    beta: float
    mean: float
    ci_low: float
    ci_high: float


def beta_posterior(k: int, n: int, mass: float = CREDIBLE_MASS) -> BetaPosterior:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    if not 0 < mass < 1:
        raise ValueError(f"credible mass must be in (0, 1), got {mass}")
    alpha, beta = 1.0 + k, 1.0 + (n - k)
    tail = (1.0 - mass) / 2.0
    low, high = stats.beta.ppf([tail, 1.0 - tail], alpha, beta)
    return BetaPosterior(alpha=alpha, beta=beta, mean=alpha / (alpha + beta), ci_low=float(low), ci_high=float(high))
