"""Gamma exposure of a chain: units, signs, per-strike sums, walls, zero-gamma and regime."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from alphawire.analytics import gamma_exposure
from alphawire.errors import ValidationError


def _line(
    strike: float, kind: str, oi: float, iv: float = 0.2, years: float = 1.0, **extra: Any
) -> dict[str, Any]:
    return {"strike": strike, "kind": kind, "open_interest": oi, "iv": iv, "years": years, **extra}


def _gamma(s: float, k: float, t: float, v: float, r: float = 0.0, q: float = 0.0) -> float:
    """Independent reference: e^(−qT)·φ(d1)/(S·σ·√T) with scipy.stats.norm."""
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    return math.exp(-q * t) * norm.pdf(d1) / (s * v * math.sqrt(t))


def test_units_by_hand() -> None:
    """One ATM call, S = K = 200, T = 1, σ = 0.2, OI 1,000 × 100: the three units differ by S·0.01 and S."""
    # d1 = 0.1, Γ = φ(0.1)/(200·0.2) = 0.3969525474/40 = 0.00992381369 per share
    gamma = 0.3969525474 / 40
    shares = gamma * 1_000 * 100  # 992.38 shares of delta per $1
    chain = [_line(200, "call", 1_000)]
    assert gamma_exposure(chain, 200, unit="shares").total == pytest.approx(shares, rel=1e-9)
    assert gamma_exposure(chain, 200, unit="dollar").total == pytest.approx(
        shares * 200, rel=1e-9
    )  # $198,476 per $1
    # $ per 1 % move: shares · S² · 0.01 = 992.38 · 40,000 · 0.01 = $396,953
    assert gamma_exposure(chain, 200).total == pytest.approx(shares * 200 * 200 * 0.01, rel=1e-9)
    assert gamma_exposure(chain, 200).total == pytest.approx(396_952.5, rel=1e-6)


def test_calls_positive_puts_negative_and_by_strike_sums() -> None:
    """Calls count +, puts −; by_strike sums both sides and every expiry, in ascending strike order."""
    chain = [
        _line(110, "call", 500, years=0.25),
        _line(100, "put", 300, iv=0.25, years=0.5),
        _line(100, "call", 200, years=0.1, multiplier=10),
        _line(100, "put", 100, iv=0.3, years=0.25),
        _line(90, "put", 400, iv=0.3, years=0.25),
    ]
    profile = gamma_exposure(chain, 100.0, unit="shares")
    c110 = _gamma(100, 110, 0.25, 0.2) * 500 * 100
    p100 = -_gamma(100, 100, 0.5, 0.25) * 300 * 100 - _gamma(100, 100, 0.25, 0.3) * 100 * 100
    c100 = _gamma(100, 100, 0.1, 0.2) * 200 * 10  # multiplier 10 (a mini contract)
    p90 = -_gamma(100, 90, 0.25, 0.3) * 400 * 100
    assert list(profile.by_strike) == [90.0, 100.0, 110.0]
    assert profile.by_strike[100.0] == pytest.approx(c100 + p100, rel=1e-12)
    assert profile.calls == pytest.approx({100.0: c100, 110.0: c110}, rel=1e-12)
    assert profile.puts == pytest.approx({90.0: p90, 100.0: p100}, rel=1e-12)
    assert profile.total == pytest.approx(c110 + p100 + c100 + p90, rel=1e-12)
    assert profile.call_wall == (110.0 if c110 > c100 else 100.0)
    assert profile.put_wall == (90.0 if -p90 > -p100 else 100.0)
    assert profile.regime == ("positive" if profile.total > 0 else "negative")


def test_zero_gamma_closed_form() -> None:
    """A call at 110 and a put at 90 (same σ, T, OI) cancel where d1 is opposite: S* = √(110·90)·e^(−σ²T/2)."""
    # h(S) ∝ φ(d1(S,110)) − φ(d1(S,90)); equal when d1₁₁₀ = −d1₉₀, i.e.
    # ln S − ln 110 + σ²T/2 = −(ln S − ln 90 + σ²T/2)  ⇒  ln S = (ln 110 + ln 90)/2 − σ²T/2
    chain = [_line(110, "call", 1_000, years=0.25), _line(90, "put", 1_000, years=0.25)]
    expected = math.sqrt(110 * 90) * math.exp(-(0.2**2) * 0.25 / 2)  # 99.0025...
    for unit in ("percent", "dollar", "shares"):
        profile = gamma_exposure(chain, 100.0, unit=unit)  # type: ignore[arg-type]
        assert profile.zero_gamma == pytest.approx(expected, abs=1e-6)
    # spot 100 is above the crossing, where the call dominates: positive regime
    assert gamma_exposure(chain, 100.0).regime == "positive"
    assert gamma_exposure(chain, 98.0).regime == "negative"


def test_zero_gamma_picks_the_crossing_nearest_to_spot() -> None:
    """With two crossings in range (put–call–put), the one nearer spot is reported."""
    chain = [
        _line(85, "put", 1_000, iv=0.1, years=0.1),
        _line(100, "call", 1_000, iv=0.1, years=0.1),
        _line(118, "put", 1_000, iv=0.1, years=0.1),
    ]
    # Symmetric pairs (same σ, T): the 85/100 crossing is at √(8500)·e^(−σ²T/2), the 100/118 one
    # at √(11800)·e^(−σ²T/2) (the third line adds a negligible amount at each).
    low = math.sqrt(85 * 100) * math.exp(-0.01 * 0.1 / 2)  # 92.15
    high = math.sqrt(100 * 118) * math.exp(-0.01 * 0.1 / 2)  # 108.57
    assert gamma_exposure(chain, 96.0).zero_gamma == pytest.approx(low, abs=1e-3)
    assert gamma_exposure(chain, 104.0).zero_gamma == pytest.approx(high, abs=1e-3)


def test_no_crossing_gives_none() -> None:
    """A calls-only chain never crosses zero: zero_gamma and zero_gamma_cumulative are None."""
    profile = gamma_exposure([_line(100, "call", 10), _line(105, "call", 10)], 100.0)
    assert profile.zero_gamma is None and profile.zero_gamma_cumulative is None
    assert profile.put_wall is None and profile.puts == {}
    assert profile.regime == "positive"


def test_zero_gamma_cumulative_interpolates_between_strikes() -> None:
    """Running sum −a at 90, −a+b at 110 with b > a: crossing at 90 + 20·a/b."""
    chain = [_line(90, "put", 1_000), _line(110, "call", 3_000)]
    a = _gamma(100, 90, 1, 0.2) * 1_000 * 100
    b = _gamma(100, 110, 1, 0.2) * 3_000 * 100
    assert b > a
    profile = gamma_exposure(chain, 100.0, unit="shares")
    assert profile.zero_gamma_cumulative == pytest.approx(90 + 20 * a / b, rel=1e-12)


def test_expired_and_zero_vol_lines_count_zero() -> None:
    """Expired (years ≤ 0) and zero-IV lines contribute 0 and never NaN; an all-dead chain is 'negative' with no walls."""
    profile = gamma_exposure(
        [_line(100, "call", 10, years=0.0), _line(100, "put", 10, iv=0.0)], 100.0
    )
    assert profile.by_strike == {100.0: 0.0}
    assert profile.total == 0.0 and profile.regime == "negative"
    assert profile.call_wall is None and profile.put_wall is None and profile.zero_gamma is None


def test_empty_chain() -> None:
    """An empty chain is a valid, empty profile."""
    profile = gamma_exposure([], 100.0)
    assert profile.by_strike == {} and profile.total == 0.0 and profile.zero_gamma is None


def test_rate_and_dividend_reach_every_line() -> None:
    """rate and dividend_yield enter the gamma of each line exactly as in the reference formula."""
    profile = gamma_exposure(
        [_line(95, "call", 100, years=0.5)], 100.0, unit="shares", rate=0.05, dividend_yield=0.02
    )
    assert profile.total == pytest.approx(
        _gamma(100, 95, 0.5, 0.2, 0.05, 0.02) * 100 * 100, rel=1e-12
    )


@pytest.mark.parametrize(
    ("chain", "spot", "kwargs", "message"),
    [
        ([_line(100, "C", 1)], 100.0, {}, r"contract 0: kind must be 'call' or 'put', got 'C'"),
        ([_line(100, "call", 1), _line(-5, "put", 1)], 100.0, {}, "contract 1: strike must be"),
        ([_line(100, "call", -1)], 100.0, {}, "open_interest must be"),
        ([_line(100, "call", 1, iv=math.nan)], 100.0, {}, "iv must be"),
        ([_line(100, "call", 1, multiplier=0)], 100.0, {}, "multiplier must be"),
        (
            [{"strike": 100, "kind": "call", "iv": 0.2, "years": 1}],
            100.0,
            {},
            "contract 0: missing 'open_interest'",
        ),
        ([_line(100, "call", "ten")], 100.0, {}, "open_interest must be a number"),
        ([_line(100, "call", 1)], 0.0, {}, "spot must be"),
        ([_line(100, "call", 1)], 100.0, {"unit": "bps"}, "unit must be one of"),
    ],
)
def test_bad_chains_raise(
    chain: list[dict[str, Any]], spot: float, kwargs: dict[str, Any], message: str
) -> None:
    """Bad contracts raise ValidationError naming the contract's index and field."""
    with pytest.raises(ValidationError, match=message):
        gamma_exposure(chain, spot, **kwargs)


_chains = st.lists(
    st.builds(
        _line,
        st.sampled_from([80.0, 90.0, 95.0, 100.0, 105.0, 110.0, 125.0]),
        st.sampled_from(["call", "put"]),
        st.floats(0, 50_000),
        st.floats(0.05, 1.5),
        st.floats(1 / 365, 2.0),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(_chains, st.floats(0.01, 1_000.0))
def test_gex_is_linear_in_open_interest(chain: list[dict[str, Any]], factor: float) -> None:
    """Scaling every open interest by k scales each strike's GEX and the total by k; zero-gamma does not move."""
    scaled = [{**c, "open_interest": c["open_interest"] * factor} for c in chain]
    base, big = gamma_exposure(chain, 100.0), gamma_exposure(scaled, 100.0)
    assert big.total == pytest.approx(base.total * factor, rel=1e-9, abs=1e-9)
    for strike, value in base.by_strike.items():
        assert big.by_strike[strike] == pytest.approx(value * factor, rel=1e-9, abs=1e-9)
    if base.zero_gamma is None:
        assert big.zero_gamma is None
    else:
        assert big.zero_gamma == pytest.approx(base.zero_gamma, abs=1e-5)


@settings(max_examples=60, deadline=None)
@given(_chains, st.floats(60.0, 160.0))
def test_zero_gamma_is_a_root_of_the_repriced_chain(
    chain: list[dict[str, Any]], spot: float
) -> None:
    """At zero_gamma the chain re-priced there (every strike, IV, expiry and OI kept) has opposite signs 1e-5 either side."""
    profile = gamma_exposure(chain, spot, unit="shares")
    if profile.zero_gamma is None:
        return
    z = profile.zero_gamma
    assert 0.8 * spot <= z <= 1.2 * spot
    below = gamma_exposure(chain, z - 1e-5, unit="shares").total
    above = gamma_exposure(chain, z + 1e-5, unit="shares").total
    assert below * above <= 0 or min(abs(below), abs(above)) < 1e-9 * max(1.0, abs(profile.total))


def test_chain_lines_from_option_contract_records() -> None:
    """OptionContract records become lines with years to the 4 pm New York close (ACT/365); no-IV lines are left out."""
    from datetime import UTC, date, datetime

    from alphawire.analytics import chain_lines
    from alphawire.sources.records import OptionContract

    def contract(expiry: date, kind: str, iv: float | None) -> OptionContract:
        return OptionContract(
            occ="X",
            expiry=expiry,
            strike=500.0,
            option_kind=kind,
            bid=1,
            ask=1.1,
            last=1,  # type: ignore[arg-type]
            volume=0,
            open_interest=10,
            iv=iv,
        )

    # 2024-06-03 13:30 UTC is 09:30 New York (EDT, UTC−4); the close is 20:00 UTC.
    as_of = datetime(2024, 6, 3, 13, 30, tzinfo=UTC)
    lines = chain_lines(
        [
            contract(date(2024, 6, 3), "call", 0.2),
            contract(date(2024, 6, 10), "put", 0.25),
            contract(date(2024, 6, 3), "put", None),
        ],
        as_of,
    )
    assert len(lines) == 2
    assert lines[0] == {
        "strike": 500.0,
        "kind": "call",
        "open_interest": 10,
        "iv": 0.2,
        "years": pytest.approx(6.5 / 24 / 365),
        "multiplier": 100,
    }
    assert lines[1]["years"] == pytest.approx((7 + 6.5 / 24) / 365)
    # after the close a 0-DTE line has negative years, so no gamma
    after = chain_lines(
        [contract(date(2024, 6, 3), "call", 0.2)], datetime(2024, 6, 3, 21, 0, tzinfo=UTC)
    )
    assert after[0]["years"] < 0 and gamma_exposure(after, 500.0).total == 0.0
    with pytest.raises(ValidationError, match="timezone-aware"):
        chain_lines([], datetime(2024, 6, 3))
