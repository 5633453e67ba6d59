"""The squeeze score: the documented weights, clipping, renormalisation and bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphawire.analytics import SQUEEZE_WEIGHTS, squeeze_components, squeeze_score
from alphawire.errors import ValidationError


def test_all_inputs_by_hand() -> None:
    """Every input given: 100·Σw·n / 1.0 with each n worked out by hand."""
    # n_si = 0.20/0.40 = 0.5 (w .30) · n_dtc = 5/10 = 0.5 (w .20) · n_ctb = 0.25/0.50 = 0.5 (w .20)
    # n_util = 0.8 (w .10) · n_float = (100e6 − 55e6)/90e6 = 0.5 (w .10) · n_rvol = (3 − 1)/4 = 0.5 (w .10)
    # Σ w·n = .15 + .10 + .10 + .08 + .05 + .05 = 0.53 ; Σ w = 1.0 → 53
    score = squeeze_score(
        si_pct_float=0.20,
        days_to_cover=5,
        borrow_fee=0.25,
        utilization=0.8,
        float_shares=55e6,
        rvol=3,
    )
    assert score == pytest.approx(53.0, abs=1e-12)


def test_missing_inputs_renormalise() -> None:
    """Only SI (n = 1) and rvol (n = 0) given: 100·(0.30·1 + 0.10·0)/(0.30 + 0.10) = 75."""
    assert squeeze_score(si_pct_float=0.60, rvol=0.5) == pytest.approx(75.0)


def test_clipping_at_both_ends() -> None:
    """Values beyond the scales clip to 0 or 1: a 5 M float is full marks, a 200 M float none."""
    assert squeeze_components(float_shares=5e6) == {"float_shares": 1.0}
    assert squeeze_components(float_shares=200e6) == {"float_shares": 0.0}
    assert squeeze_components(si_pct_float=1.4)["si_pct_float"] == 1.0  # 140 % of float short
    assert squeeze_score(days_to_cover=0, borrow_fee=0) == 0.0
    assert squeeze_score(days_to_cover=30, borrow_fee=3.0) == 100.0


def test_nothing_given_is_none() -> None:
    """No input at all gives None, not 0."""
    assert squeeze_score() is None


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "0.2", True])
def test_bad_inputs_raise(bad: object) -> None:
    """Negative, non-finite and non-numeric inputs raise ValidationError naming the input."""
    with pytest.raises(ValidationError, match="borrow_fee"):
        squeeze_score(borrow_fee=bad)  # type: ignore[arg-type]


def test_weights_sum_to_one() -> None:
    """The documented weights add up to 1."""
    assert sum(SQUEEZE_WEIGHTS.values()) == pytest.approx(1.0)


_maybe = st.one_of(st.none(), st.floats(0, 1e12, allow_nan=False, allow_infinity=False))


@given(st.lists(_maybe, min_size=6, max_size=6))
def test_score_is_within_0_and_100(values: list[float | None]) -> None:
    """Whatever subset of valid inputs is given, the score is in [0, 100] (or None with none)."""
    names = list(SQUEEZE_WEIGHTS)
    score = squeeze_score(**dict(zip(names, values, strict=True)))
    if all(v is None for v in values):
        assert score is None
    else:
        assert score is not None and 0.0 <= score <= 100.0


@given(st.floats(0, 2), st.floats(0, 2))
def test_more_short_interest_never_lowers_the_score(a: float, b: float) -> None:
    """The score is monotone in short interest, other inputs fixed."""
    low, high = sorted((a, b))
    s_low = squeeze_score(si_pct_float=low, days_to_cover=4, rvol=2)
    s_high = squeeze_score(si_pct_float=high, days_to_cover=4, rvol=2)
    assert s_low is not None and s_high is not None and s_low <= s_high
