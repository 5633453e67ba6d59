"""FRED CSV parsing, year-over-year change and the macro regime rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphawire.analytics import (
    annualised_change,
    curve_regime,
    curve_spread,
    inflation_trend,
    parse_fred_csv,
    vix_regime,
    year_over_year,
)
from alphawire.errors import ValidationError


def test_parse_drops_missing_values_and_sorts() -> None:
    """'.' and empty values are dropped (not 0); rows come back in date order whatever the file order."""
    text = "observation_date,DGS10\n2024-01-03,3.91\n2024-01-01,.\n2024-01-02,3.95\n2024-01-04,\n"
    assert parse_fred_csv(text) == [(date(2024, 1, 2), 3.95), (date(2024, 1, 3), 3.91)]


def test_parse_old_date_header_and_negative_values() -> None:
    """The older 'DATE,ID' header is accepted; negative spreads are kept as they are."""
    text = "DATE,T10Y2Y\r\n2023-07-03,-1.08\r\n"
    assert parse_fred_csv(text) == [(date(2023, 7, 3), -1.08)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!DOCTYPE html><html><title>Error</title></html>", "HTML page"),
        ("  \n<html>", "HTML page"),
        ("", "header"),
        ("date,value,extra\n", "header"),
        ("series_id,DGS10\n", "header"),
        ("DATE,DGS10\n2024/01/02,3.9\n", "not YYYY-MM-DD"),
        ("DATE,DGS10\n2024-01-02,n/a\n", "'n/a' is not a number"),
        ("DATE,DGS10\n2024-01-02,inf\n", "'inf' is not a number"),
        ("DATE,DGS10\n2024-01-02,1\n2024-01-02,2\n", "appears twice"),
        ("DATE,DGS10\n2024-01-02\n", "expected 2 fields"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    """HTML pages, wrong headers, bad dates and values raise ValidationError saying which."""
    with pytest.raises(ValidationError, match=message):
        parse_fred_csv(text)


@given(
    st.lists(
        st.tuples(
            st.dates(date(1950, 1, 1), date(2030, 1, 1)),
            st.one_of(st.just("."), st.just(""), st.floats(-1e6, 1e6)),
        ),
        unique_by=lambda t: t[0],
        max_size=30,
    )
)
def test_dot_is_never_read_as_zero(rows: list[tuple[date, str | float]]) -> None:
    """Exactly the numeric observations come back: a '.' or empty value never becomes a 0.0 point."""
    text = "observation_date,X\n" + "".join(
        f"{d.isoformat()},{v if isinstance(v, str) else repr(v)}\n" for d, v in rows
    )
    parsed = parse_fred_csv(text)
    assert parsed == sorted((d, v) for d, v in rows if not isinstance(v, str))


def test_year_over_year_matches_calendar_months() -> None:
    """yoy = value / value one year earlier − 1, matched by month even across a gap."""
    series = [
        (date(2022, 1, 1), 200.0),
        (date(2022, 2, 1), 210.0),
        (date(2023, 1, 1), 206.0),  # 206 / 200 − 1 = 0.03
        # 2023-02 missing: the next value must not be paired with 2022-02 by position
        (date(2023, 3, 1), 215.0),  # no 2022-03: left out
        (date(2024, 2, 1), 220.5),  # no 2023-02: left out
        (date(2024, 1, 1), 211.15),  # 211.15 / 206 − 1 = 0.025
    ]
    result = year_over_year(series)
    assert [d for d, _ in result] == [date(2023, 1, 1), date(2024, 1, 1)]
    assert result[0][1] == pytest.approx(0.03)
    assert result[1][1] == pytest.approx(0.025)


def test_year_over_year_refuses_non_monthly_series() -> None:
    """Two observations in one month raise: a daily series has no month-on-month-year meaning."""
    with pytest.raises(ValidationError, match="monthly"):
        year_over_year([(date(2024, 1, 1), 1.0), (date(2024, 1, 2), 1.0)])


def test_annualised_change_compounds_over_matched_months() -> None:
    """(v / v three months earlier) ** 4 − 1: +0.75 % in a quarter is 3.03 % a year; a month
    whose counterpart is missing is left out rather than paired by position."""
    series = [
        (date(2024, 1, 1), 100.0),
        (date(2024, 3, 1), 101.0),  # no 2023-12: left out
        (date(2024, 4, 1), 100.75),  # (100.75 / 100) ** 4 − 1
        (date(2024, 6, 1), 102.0),  # 2024-03 is there: (102 / 101) ** 4 − 1
    ]
    result = annualised_change(series)
    assert [d for d, _ in result] == [date(2024, 4, 1), date(2024, 6, 1)]
    assert result[0][1] == pytest.approx(1.0075**4 - 1) and round(result[0][1] * 100, 2) == 3.03
    assert result[1][1] == pytest.approx((102 / 101) ** 4 - 1)
    assert annualised_change(series, months=12) == []
    with pytest.raises(ValidationError, match="months must be an integer ≥ 1, got 0"):
        annualised_change(series, months=0)


@pytest.mark.parametrize(
    ("august", "november", "expected"),
    [
        (3.07, 3.35, ("rising", 0.28)),
        (3.0, 3.1, ("flat", 0.1)),  # exactly the band: flat (3.1 − 3.0 is 0.1000…01 in floats)
        (3.0, 3.11, ("rising", 0.11)),
        (3.2, 3.1, ("flat", -0.1)),
        (3.2, 3.09, ("falling", -0.11)),
    ],
)
def test_inflation_trend_reads_the_change_over_three_months(
    august: float, november: float, expected: tuple[str, float]
) -> None:
    """change = rate now − rate three calendar months earlier (pp, to 0.01); beyond ±0.10 pp it
    is rising or falling, within (bounds included) flat; the months between do not matter."""
    rates = [
        (date(2026, 8, 1), august),
        (date(2026, 9, 1), 9.0),
        (date(2026, 10, 1), -9.0),
        (date(2026, 11, 1), november),
    ]
    assert inflation_trend(rates) == expected


def test_inflation_trend_needs_the_month_three_before_the_latest() -> None:
    """No rate three months before the latest (a gap, or too short a series): None, never a
    comparison with whatever sits three places earlier; bad arguments are named."""
    gap = [(date(2026, m, 1), 3.0 + m / 10) for m in (6, 7, 9, 10, 11)]  # August missing
    assert inflation_trend(gap) is None
    assert inflation_trend([]) is None
    assert inflation_trend(gap, months=2) == ("rising", 0.2)  # Nov 4.1 − Sep 3.9
    with pytest.raises(ValidationError, match=r"band_pp must be a finite number ≥ 0, got -0\.1"):
        inflation_trend(gap, band_pp=-0.1)
    with pytest.raises(ValidationError, match="inflation_trend: two observations in 2026-11"):
        inflation_trend([(date(2026, 11, 1), 3.0), (date(2026, 11, 2), 3.1)])


@pytest.mark.parametrize(
    ("spread", "regime"),
    [(-0.01, "inverted"), (-1.08, "inverted"), (0.0, "normal"), (0.5, "normal")],
)
def test_curve_regime(spread: float, regime: str) -> None:
    """The curve is inverted exactly when T10Y2Y < 0."""
    assert curve_regime(spread) == regime


def test_curve_spread_reads_the_latest_common_date() -> None:
    """long − short in pp on the latest date both series have, rounded to 0.01: a newer
    short yield without a long one waits; no common date is None; NaN is named."""
    ten = [(date(2026, 12, 3), 4.24), (date(2026, 12, 4), 4.21)]
    three = [(date(2026, 12, 4), 4.31), (date(2026, 12, 3), 4.30), (date(2026, 12, 7), 4.5)]
    assert curve_spread(ten, three) == (date(2026, 12, 4), -0.10)
    assert curve_spread(ten[:1], three) == (date(2026, 12, 3), -0.06)
    assert curve_spread(ten, [(date(2026, 12, 7), 4.5)]) is None
    assert curve_spread([], []) is None
    with pytest.raises(ValidationError, match="curve_spread: yields on 2026-12-04"):
        curve_spread([(date(2026, 12, 4), float("nan"))], three)


@pytest.mark.parametrize(
    ("vix", "regime"),
    [
        (12.0, "calm"),
        (14.99, "calm"),
        (15.0, "normal"),
        (19.99, "normal"),
        (20.0, "elevated"),
        (30.0, "elevated"),
        (30.01, "stress"),
        (80.0, "stress"),
    ],
)
def test_vix_regime_bands(vix: float, regime: str) -> None:
    """VIX bands: < 15 calm, 15–20 normal, 20–30 elevated, > 30 stress (bounds as documented)."""
    assert vix_regime(vix) == regime


def test_regimes_refuse_nan() -> None:
    """A NaN level raises instead of falling through to a band."""
    with pytest.raises(ValidationError):
        vix_regime(float("nan"))
    with pytest.raises(ValidationError):
        curve_regime(float("nan"))
