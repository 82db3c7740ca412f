"""UGDA protocol decision table, majority rule, answer parsing, Beta posterior and per-trial determinism, on
scripted judges: real subclasses of the ``Judge`` interface whose answers the test decides."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from inpaintbench.builder.deceptiveness import Judge, assess_sample, beta_posterior, create_judge
from inpaintbench.builder.deceptiveness.answers import parse_pair_answer, parse_single_answer
from inpaintbench.builder.deceptiveness.protocol import (
    DECEIVING,
    INVALID,
    NOT_DECEIVING,
    UNCERTAIN,
    majority_outcome,
    run_trial,
    trial_rng,
)

ORIGINAL = np.zeros((8, 8, 3), np.uint8)
INPAINTED = np.full((8, 8, 3), 200, np.uint8)


class ScriptedJudge(Judge):
    """Says ``single`` at stage 1; at stage 2 answers by what it is shown: ``pair`` maps "inpainted" /
    "original" (the image at the position it names) or a fixed position, so the swap is really exercised."""

    name = "scripted"

    def __init__(self, single, pair=None):
        super().__init__(single=single, pair=pair)
        self.pair_calls = []

    def answer_single(self, image, rng):
        return self.params["single"]

    def answer_pair(self, first, second, rng):
        self.pair_calls.append((first is INPAINTED, second is INPAINTED))
        pick = self.params["pair"]
        if pick in ("inpainted", "original"):
            want = INPAINTED if pick == "inpainted" else ORIGINAL
            return "first" if first is want else "second"
        return pick


@pytest.mark.parametrize(
    "single, pair, outcome, caught",
    [
        ("edited", None, NOT_DECEIVING, True),  # caught alone
        ("real", "inpainted", NOT_DECEIVING, False),  # right in both orders
        ("real", "original", DECEIVING, False),  # wrong in both orders
        ("real", "first", UNCERTAIN, False),  # a position bias is right once, wrong once
        ("real", "second", UNCERTAIN, False),
        (None, None, INVALID, False),  # no usable stage-1 answer
        ("real", None, INVALID, False),  # no usable stage-2 answer
    ],
)
def test_decision_table(single, pair, outcome, caught):
    judge = ScriptedJudge(single, pair)
    result = run_trial(judge, INPAINTED, ORIGINAL, np.random.default_rng(0))
    assert (result.outcome, result.caught_single) == (outcome, caught)
    if single == "real":
        # Both orders are shown: (original, inpainted) then (inpainted, original).
        assert judge.pair_calls == [(False, True), (True, False)]
    else:
        assert judge.pair_calls == []


def test_an_answer_outside_the_protocol_is_an_error_naming_the_judge():
    with pytest.raises(ValueError, match="'scripted' answered 'maybe' at stage 1"):
        run_trial(ScriptedJudge("maybe"), INPAINTED, ORIGINAL, np.random.default_rng(0))


def test_majority_outcome_and_its_ties():
    assert majority_outcome({DECEIVING: 3, UNCERTAIN: 1, NOT_DECEIVING: 2, INVALID: 9}) == DECEIVING
    assert majority_outcome({DECEIVING: 2, UNCERTAIN: 0, NOT_DECEIVING: 2}) == UNCERTAIN
    assert majority_outcome({DECEIVING: 0, UNCERTAIN: 0, NOT_DECEIVING: 1}) == NOT_DECEIVING
    assert majority_outcome({DECEIVING: 0, UNCERTAIN: 0, NOT_DECEIVING: 0, INVALID: 4}) == INVALID


@pytest.mark.parametrize("k, n", [(0, 0), (0, 1), (3, 8), (8, 8), (5, 10), (17, 40)])
def test_beta_posterior_matches_scipy_and_the_closed_form(k, n):
    posterior = beta_posterior(k, n)
    low, high = stats.beta(1 + k, 1 + n - k).interval(0.95)
    assert (posterior.alpha, posterior.beta) == (1 + k, 1 + n - k)
    assert posterior.mean == pytest.approx((k + 1) / (n + 2))
    assert (posterior.ci_low, posterior.ci_high) == pytest.approx((low, high), abs=1e-12)
    if k == 0:  # Beta(1, n + 1): CDF 1 - (1 - x)^(n + 1), so the quantiles have a closed form
        assert posterior.ci_low == pytest.approx(1 - 0.975 ** (1 / (n + 1)))
        assert posterior.ci_high == pytest.approx(1 - 0.025 ** (1 / (n + 1)))
    if k == n:
        assert posterior.ci_high == pytest.approx(0.975 ** (1 / (n + 1)))


def test_beta_posterior_rejects_impossible_counts():
    with pytest.raises(ValueError):
        beta_posterior(3, 2)


class CoinJudge(Judge):
    """Says "real" with probability ``p_real`` and picks a position at random: the rng is all it has."""

    name = "coin"

    def __init__(self, p_real=0.7):
        super().__init__(p_real=p_real)

    def answer_single(self, image, rng):
        return "real" if rng.random() < self.params["p_real"] else "edited"

    def answer_pair(self, first, second, rng):
        return "first" if rng.random() < 0.5 else "second"


def test_assess_sample_counts_posterior_and_determinism():
    judge = CoinJudge()
    a = assess_sample(judge, "s-1", INPAINTED, ORIGINAL, trials=40, seed=3)
    assert a == assess_sample(judge, "s-1", INPAINTED, ORIGINAL, trials=40, seed=3)
    assert sum(a.counts.values()) == a.trials == 40 and a.counts[INVALID] == 0
    k = a.counts[DECEIVING] + a.counts[UNCERTAIN]
    assert a.deceptiveness == k / 40
    assert (a.deceptiveness_mean, a.ci_low, a.ci_high) == pytest.approx(
        ((k + 1) / 42, *stats.beta(1 + k, 41 - k).interval(0.95))
    )
    # p(real) 0.7, then uncertain 1/2, deceiving 1/4: the rate is ~0.525; every outcome shows up in 40 trials.
    assert all(a.counts[name] > 0 for name in (DECEIVING, UNCERTAIN, NOT_DECEIVING))
    assert a.ci_low < 0.525 < a.ci_high
    trials = [run_trial(judge, INPAINTED, ORIGINAL, trial_rng(3, "s-1", t)) for t in range(40)]
    assert a.caught_single == sum(t.caught_single for t in trials) < a.counts[NOT_DECEIVING]
    # Another seed or another sample draws other trials.
    others = [assess_sample(judge, sid, INPAINTED, ORIGINAL, 40, seed).counts for sid, seed in (("s-1", 4), ("s-2", 3))]
    assert all(counts != a.counts for counts in others)


def test_trials_depend_on_sample_and_index_only():
    judge = CoinJudge()
    few = [run_trial(judge, INPAINTED, ORIGINAL, trial_rng(0, "x", t)).outcome for t in range(4)]
    many = [run_trial(judge, INPAINTED, ORIGINAL, trial_rng(0, "x", t)).outcome for t in range(12)]
    assert many[:4] == few  # adding trials never changes the earlier ones


def test_invalid_trials_are_left_out_of_the_rate():
    a = assess_sample(ScriptedJudge("real", None), "s", INPAINTED, ORIGINAL, trials=5, seed=0)
    assert a.counts[INVALID] == 5 and a.valid_trials == 0 and a.outcome == INVALID
    assert np.isnan(a.deceptiveness) and a.deceptiveness_mean == 0.5  # the uniform prior, nothing learnt


@pytest.mark.parametrize(
    "text, expected",
    [
        ("real", "real"), ("It looks real.", "real"), ("EDITED", "edited"), ("This is not real", "edited"),
        ("It isn't edited at all", "real"), ("I think it's AI-generated.", "edited"),
        ("An original photograph, unaltered", "real"), ("Looks photoshopped to me", "edited"),
        ("I cannot tell", None), ("", None),
    ],
)
def test_parse_single_answer(text, expected):
    assert parse_single_answer(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The second image was edited.", "second"), ("first", "first"), ("Image 1", "first"), ("2", "second"),
        ("The 2nd one", "second"), ("Not the first one", "second"), ("the right one", "second"),
        ("Both look fine", None), ("", None),
    ],
)
def test_parse_pair_answer(text, expected):
    assert parse_pair_answer(text) == expected


def test_unknown_judge_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown judge 'oracle'; known: detector, vlm"):
        create_judge("oracle")
