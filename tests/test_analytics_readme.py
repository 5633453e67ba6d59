"""The numbers in the README's "Analytics" section are what the functions return."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alphawire.analytics import (
    annualised_change,
    bs_delta,
    bs_gamma,
    classify_print,
    curve_regime,
    curve_spread,
    detect_sweeps,
    dix,
    extract_tickers,
    gamma_exposure,
    inflation_trend,
    parse_finra_short_volume,
    parse_fred_csv,
    repeated_hits,
    sentiment,
    squeeze_components,
    squeeze_score,
    unusual_option,
    vix_regime,
    year_over_year,
)


def test_greeks_examples() -> None:
    """The README's BSM values, to the digits shown."""
    assert round(bs_gamma(100, 100, 1.0, 0.20), 7) == 0.0198476
    assert round(bs_delta(100, 100, 1.0, 0.20, "call"), 7) == 0.5398278
    assert round(bs_delta(100, 100, 1.0, 0.20, "put"), 7) == -0.4601722
    assert (
        round(bs_gamma(5000, 4900, 30 / 365, 0.18, rate=0.05, dividend_yield=0.013), 7) == 0.0013789
    )
    assert bs_gamma(100, 100, 0.0, 0.20) == 0.0


def test_gamma_exposure_example() -> None:
    """The README's two-line chain: by strike, total, walls, both zero-gamma levels, shares unit."""
    chain = [
        {"strike": 110, "kind": "call", "open_interest": 1_000, "iv": 0.20, "years": 0.25},
        {"strike": 90, "kind": "put", "open_interest": 1_000, "iv": 0.20, "years": 0.25},
    ]
    p = gamma_exposure(chain, 100.0)
    assert {k: round(v, 1) for k, v in p.by_strike.items()} == {90.0: -216988.5, 110.0: 265342.2}
    assert round(p.total, 1) == 48353.7 and p.regime == "positive"
    assert (p.call_wall, p.put_wall) == (110.0, 90.0)
    assert p.zero_gamma is not None and round(p.zero_gamma, 7) == 99.0024917
    assert p.zero_gamma_cumulative is not None and round(p.zero_gamma_cumulative, 3) == 106.355
    assert round(gamma_exposure(chain, 100.0, unit="shares").total, 1) == 483.5


def test_dark_pool_examples() -> None:
    """The README's FINRA file, DIX and print classifications."""
    rows = parse_finra_short_volume(
        "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\n20240102|AAPL|4000.5|100.25|10001.25|B,Q,N\n1\n"
    )
    assert rows[0].short_ratio == pytest.approx(0.4)
    assert dix(
        [
            {"short_volume": 50, "total_volume": 100, "close": 10.0},
            {"short_volume": 30, "total_volume": 100, "close": 30.0},
        ]
    ) == pytest.approx(0.35)
    c = classify_print(1_000, 200.0, bid=199.0, ask=201.0)
    assert (c.notional, c.is_block, c.side) == (200000.0, True, "mid")
    assert classify_print(100, 10.05, bid=10.00, ask=10.05).side == "buy"


def test_squeeze_examples() -> None:
    """The README's squeeze scores and components."""
    assert squeeze_score(
        si_pct_float=0.20,
        days_to_cover=5,
        borrow_fee=0.25,
        utilization=0.8,
        float_shares=55e6,
        rvol=3,
    ) == pytest.approx(53.0)
    assert squeeze_score(si_pct_float=0.60, rvol=0.5) == pytest.approx(75.0)
    assert squeeze_components(si_pct_float=0.60, rvol=0.5) == {"si_pct_float": 1.0, "rvol": 0.0}


def test_flow_examples() -> None:
    """The README's unusual line, sweep and repeated hit."""
    u = unusual_option(
        "call",
        strike=105,
        spot=100,
        dte=18,
        volume=2_000,
        open_interest=800,
        last=1.50,
        bid=1.40,
        ask=1.50,
    )
    assert (u.vol_oi, u.premium, u.otm_pct) == (2.5, 300000.0, pytest.approx(0.05))
    assert (u.side, u.sentiment, u.opening, u.unusual) == ("ask", "bullish", True, True)
    t0 = datetime(2024, 6, 3, 14, 30, tzinfo=UTC)
    base: dict[str, Any] = {
        "occ": "SPY240621C00530000", "price": 2.0, "bid": 1.95, "ask": 2.0, "option_kind": "call",
        "strike": 530.0, "expiry": date(2024, 6, 21), "symbol": "SPY",
    }  # fmt: skip
    prints = [
        {**base, "ts": t0 + timedelta(milliseconds=ms), "exchange": ex, "size": size}
        for ms, ex, size in ((0, "CBOE", 100), (15, "ISE", 120), (40, "PHLX", 80))
    ]
    sweep = detect_sweeps(prints)[0]
    assert (sweep.exchanges, sweep.contracts, sweep.premium) == (
        ("CBOE", "ISE", "PHLX"),
        300.0,
        60000.0,
    )
    three_more = [{**prints[0], "ts": t0 + timedelta(minutes=m), "size": 20} for m in (1, 2, 3)]
    assert repeated_hits(prints + three_more)[0].hits == 4


def test_sentiment_examples() -> None:
    """The README's sentiment scores and ticker extraction."""
    assert sentiment("moon") == 0.7184
    assert sentiment("GME to the moon 🚀🚀") == 0.9081
    assert sentiment("not bullish") == -0.5773
    assert sentiment("hodl", extra_lexicon={"hodl": 2.5}) == 0.5423
    assert extract_tickers("$gme and TSLA calls, ALL in, made $500", {"GME", "TSLA", "ALL"}) == [
        "GME",
        "TSLA",
    ]


def test_macro_examples() -> None:
    """The README's FRED parse, year-over-year and annualised changes, trend, spread and regimes."""
    assert parse_fred_csv("observation_date,T10Y2Y\n2024-01-02,-0.38\n2024-01-01,.\n") == [
        (date(2024, 1, 2), -0.38)
    ]
    ((day, change),) = year_over_year([(date(2023, 1, 1), 300.0), (date(2024, 1, 1), 309.3)])
    assert day == date(2024, 1, 1) and change == pytest.approx(0.031)
    ((day, annualised),) = annualised_change(
        [(date(2024, 1, 1), 300.0), (date(2024, 4, 1), 302.25)]
    )
    assert day == date(2024, 4, 1) and round(annualised, 4) == 0.0303
    assert annualised == pytest.approx(1.0075**4 - 1)
    assert inflation_trend([(date(2026, 8, 1), 3.07), (date(2026, 11, 1), 3.35)]) == (
        "rising",
        0.28,
    )
    assert curve_spread(
        [(date(2026, 12, 4), 4.21)], [(date(2026, 12, 4), 4.31), (date(2026, 12, 7), 4.5)]
    ) == (date(2026, 12, 4), -0.1)
    assert curve_regime(-0.38) == "inverted"
    assert vix_regime(17.5) == "normal"
