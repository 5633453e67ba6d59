"""Black-Scholes-Merton gamma and delta against textbook values and an independent scipy formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from alphawire.analytics import bs_delta, bs_gamma
from alphawire.analytics.options import bs_gamma_array
from alphawire.errors import ValidationError


def _reference(
    s: float, k: float, t: float, v: float, r: float, q: float
) -> tuple[float, float, float]:
    """Gamma, call delta, put delta written out from the textbook formulas with scipy.stats.norm."""
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    gamma = math.exp(-q * t) * norm.pdf(d1) / (s * v * math.sqrt(t))
    return gamma, math.exp(-q * t) * norm.cdf(d1), -math.exp(-q * t) * norm.cdf(-d1)


def test_at_the_money_by_hand() -> None:
    """S = K = 100, T = 1, σ = 0.2, r = q = 0: d1 = 0.1, Γ = φ(0.1)/20, Δ = N(0.1)."""
    # d1 = (0 + 0.02)/0.2 = 0.1; φ(0.1) = e^(−0.005)/√(2π) = 0.3969525474; Γ = 0.3969525474/20
    assert bs_gamma(100, 100, 1, 0.2) == pytest.approx(0.01984762737, rel=1e-9)
    # N(0.1) = 0.5398278373 (standard normal table)
    assert bs_delta(100, 100, 1, 0.2, "call") == pytest.approx(0.5398278373, rel=1e-9)
    assert bs_delta(100, 100, 1, 0.2, "put") == pytest.approx(0.5398278373 - 1, rel=1e-9)


def test_hull_textbook_example() -> None:
    """Hull's example (S=49, K=50, r=5 %, σ=20 %, T=20 weeks): Δ_call ≈ 0.522, Γ ≈ 0.066."""
    years = 20 / 52
    assert bs_delta(49, 50, years, 0.2, "call", rate=0.05) == pytest.approx(0.522, abs=5e-4)
    assert bs_gamma(49, 50, years, 0.2, rate=0.05) == pytest.approx(0.066, abs=5e-4)


@pytest.mark.parametrize(
    ("s", "k", "t", "v", "r", "q"),
    [
        (100, 100, 1.0, 0.2, 0.0, 0.0),
        (5000, 4800, 7 / 365, 0.18, 0.05, 0.013),
        (25, 40, 0.5, 1.2, 0.03, 0.0),
        (400, 380, 2.0, 0.35, -0.005, 0.02),
    ],
)
def test_matches_independent_scipy_formula(
    s: float, k: float, t: float, v: float, r: float, q: float
) -> None:
    """With a dividend yield and rates, gamma and both deltas equal the scipy.stats.norm formulas."""
    gamma, call, put = _reference(s, k, t, v, r, q)
    assert bs_gamma(s, k, t, v, r, q) == pytest.approx(gamma, rel=1e-12)
    assert bs_delta(s, k, t, v, "call", r, q) == pytest.approx(call, rel=1e-12)
    assert bs_delta(s, k, t, v, "put", r, q) == pytest.approx(put, rel=1e-10)


@pytest.mark.parametrize(("t", "v"), [(0.0, 0.2), (-0.1, 0.2), (1.0, 0.0), (1.0, -0.3), (0.0, 0.0)])
def test_no_time_or_no_vol_gives_zero_gamma(t: float, v: float) -> None:
    """Expired or zero-volatility contracts have gamma exactly 0.0 (no exception, no NaN)."""
    assert bs_gamma(100, 100, t, v) == 0.0
    assert bs_gamma_array(100.0, np.array([100.0]), np.array([t]), np.array([v]))[0] == 0.0


def test_expired_delta_is_the_known_outcome() -> None:
    """At expiry a call's delta is 1 in the money, 0 out of it, ½ at the strike; put = call − 1."""
    assert bs_delta(110, 100, 0, 0.2, "call") == 1.0
    assert bs_delta(90, 100, 0, 0.2, "call") == 0.0
    assert bs_delta(100, 100, 0, 0.2, "call") == 0.5
    assert bs_delta(110, 100, 0, 0.2, "put") == 0.0
    assert bs_delta(90, 100, 0, 0.2, "put") == -1.0
    # zero vol, a year left, r = 5 %: forward 100·e^0.05 = 105.1 > 102, so the call is sure to pay
    assert bs_delta(100, 102, 1, 0.0, "call", rate=0.05) == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 100, 1, 0.2), "spot must be a finite number > 0"),
        ((100, -5, 1, 0.2), "strike must be"),
        ((100, 100, math.nan, 0.2), "years must be a finite number"),
        ((100, 100, 1, math.inf), "iv must be a finite number"),
    ],
)
def test_bad_inputs_raise(args: tuple[float, float, float, float], message: str) -> None:
    """Non-positive spot/strike and non-finite numbers raise ValidationError naming the field."""
    with pytest.raises(ValidationError, match=message):
        bs_gamma(*args)
    with pytest.raises(ValidationError, match=message):
        bs_delta(*args, "call")


def test_unknown_kind_raises() -> None:
    """A kind other than 'call'/'put' raises, naming what was given."""
    with pytest.raises(ValidationError, match="'C'"):
        bs_delta(100, 100, 1, 0.2, "C")  # type: ignore[arg-type]


_spot = st.floats(1.0, 10_000.0)
_moneyness = st.floats(0.5, 2.0)
_years = st.floats(1 / 365, 3.0)
_iv = st.floats(0.05, 2.0)
_rate = st.floats(-0.01, 0.1)


@given(_spot, _moneyness, _years, _iv, _rate, st.floats(0.0, 0.08))
def test_put_and_call_gamma_are_equal(
    s: float, m: float, t: float, v: float, r: float, q: float
) -> None:
    """Call and put deltas differ by exactly e^(−qT) (parity), so their gammas (slopes in S) are equal."""
    k = s * m
    assert bs_delta(s, k, t, v, "call", r, q) - bs_delta(s, k, t, v, "put", r, q) == pytest.approx(
        math.exp(-q * t), abs=1e-12
    )
    h = (
        s * v * math.sqrt(t) * 1e-3
    )  # a step small against the distribution width: O(h²) error ≈ 1e-7
    slope_call = (
        bs_delta(s + h, k, t, v, "call", r, q) - bs_delta(s - h, k, t, v, "call", r, q)
    ) / (2 * h)
    slope_put = (bs_delta(s + h, k, t, v, "put", r, q) - bs_delta(s - h, k, t, v, "put", r, q)) / (
        2 * h
    )
    gamma = bs_gamma(s, k, t, v, r, q)
    # A delta near ±1 (deep in or out of the money) keeps only ~1e-16 absolute precision, and
    # the difference quotient divides that rounding by 2h: allow ~50 ulps of it, not a fixed
    # 1e-12 (s=1, m=1.21, 1 day, 50 % vol: h = 2.6e-5, rounding alone reaches 4e-11).
    rounding = 1e-14 / h
    assert slope_call == pytest.approx(slope_put, rel=1e-6, abs=max(1e-12, rounding))
    assert slope_call == pytest.approx(gamma, rel=1e-5, abs=max(1e-10, rounding))


@given(
    st.lists(
        st.tuples(_moneyness, st.floats(-0.5, 3.0), st.floats(-0.5, 2.0)), min_size=1, max_size=20
    ),
    _spot,
)
def test_array_gamma_equals_scalar_gamma(rows: list[tuple[float, float, float]], s: float) -> None:
    """The vectorised gamma equals the scalar one line by line, expired and zero-vol lines included."""
    k = np.array([s * m for m, _, _ in rows])
    t = np.array([t for _, t, _ in rows])
    v = np.array([v for _, _, v in rows])
    got = bs_gamma_array(s, k, t, v, 0.03, 0.01)
    want = [
        bs_gamma(s, float(ki), float(ti), float(vi), 0.03, 0.01)
        for ki, ti, vi in zip(k, t, v, strict=True)
    ]
    assert got.tolist() == pytest.approx(want, rel=1e-12, abs=0)
