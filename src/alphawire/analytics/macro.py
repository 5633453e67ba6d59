"""Macro series: FRED's CSV download, inflation rates and their trend, and the regime rules.

FRED serves a series as two-column CSV: a header ``observation_date,<ID>`` (older files and
mirrors: ``DATE,<ID>``), then ``YYYY-MM-DD,value`` lines where a missing observation (a
market holiday, a late release) is ``.`` or empty. Missing values are dropped, never read
as 0: a 0 % ten-year yield or a VIX of 0 would be a signal, not a gap.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from datetime import date
from typing import Literal

from alphawire.errors import ValidationError

_DATE_HEADERS = ("observation_date", "date")
_MISSING = ("", ".")


def parse_fred_csv(text: str) -> list[tuple[date, float]]:
    """Parse a FRED series CSV into ``(date, value)`` pairs in ascending date order.

    Values are the series' own units (percent for DGS10/T10Y2Y, index points for
    VIXCLS/CPIAUCSL). ``.`` and empty values are dropped. Raises ``ValidationError``
    naming the problem for an HTML page (an error or login page served instead of data), a
    header other than ``observation_date,<ID>`` / ``DATE,<ID>``, a line with other than two
    fields, a date that is not ``YYYY-MM-DD``, a value that is not a finite number, or a
    date given twice.
    """
    stripped = text.removeprefix("\ufeff").lstrip()
    if stripped[:1] == "<":
        raise ValidationError(
            f"FRED response is an HTML page, not CSV: {stripped[:80]!r}", [{"field": "text"}]
        )
    reader = csv.reader(io.StringIO(stripped))
    header = next(reader, None)
    if (
        header is None
        or len(header) != 2
        or header[0].strip().lower() not in _DATE_HEADERS
        or not header[1].strip()
    ):
        raise ValidationError(
            f"FRED CSV: header {header!r} is not 'observation_date,<SERIES_ID>' "
            "or 'DATE,<SERIES_ID>'"
        )
    series = header[1].strip()
    points: dict[date, float] = {}
    for number, fields in enumerate(reader, start=2):
        if not fields or fields == [""]:
            continue
        if len(fields) != 2:
            raise ValidationError(f"FRED CSV {series} line {number}: expected 2 fields: {fields}")
        raw_day, raw_value = (f.strip() for f in fields)
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            raise ValidationError(
                f"FRED CSV {series} line {number}: date {raw_day!r} is not YYYY-MM-DD"
            ) from None
        if raw_value in _MISSING:
            continue
        try:
            value = float(raw_value)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValidationError(
                f"FRED CSV {series} line {number}: value {raw_value!r} is not a number"
            )
        if day in points:
            raise ValidationError(f"FRED CSV {series} line {number}: {day} appears twice")
        points[day] = value
    return sorted(points.items())


def _by_month(
    observations: Iterable[tuple[date, float]], caller: str
) -> dict[tuple[int, int], tuple[date, float]]:
    by_month: dict[tuple[int, int], tuple[date, float]] = {}
    for day, value in observations:
        key = (day.year, day.month)
        if key in by_month:
            raise ValidationError(
                f"{caller}: two observations in {day.year}-{day.month:02d}: "
                "the series must be monthly"
            )
        by_month[key] = (day, value)
    return by_month


def _months_before(key: tuple[int, int], months: int) -> tuple[int, int]:
    index = key[0] * 12 + key[1] - 1 - months
    return index // 12, index % 12 + 1


def _check_months(caller: str, months: int) -> None:
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValidationError(f"{caller}: months must be an integer ≥ 1, got {months!r}")


def year_over_year(observations: Iterable[tuple[date, float]]) -> list[tuple[date, float]]:
    """Year-over-year change of a monthly series, as a fraction (0.031 = +3.1 %).

    Formula: ``yoy(d) = value(d) / value(d − 1 year) − 1``, where the earlier observation is
    the one in the same calendar month of the previous year (matched by month, not by
    position, so a gap in the series never pairs the wrong months). Months without a
    year-earlier observation, or whose earlier value is 0, are left out. For CPIAUCSL this
    is the headline inflation rate. Raises ``ValidationError`` when two observations fall
    in one month (the series is not monthly).
    """
    by_month = _by_month(observations, "year_over_year")
    changes: list[tuple[date, float]] = []
    for key, (day, value) in sorted(by_month.items()):
        earlier = by_month.get(_months_before(key, 12))
        if earlier is not None and earlier[1] != 0:
            changes.append((day, value / earlier[1] - 1.0))
    return changes


def annualised_change(
    observations: Iterable[tuple[date, float]], months: int = 3
) -> list[tuple[date, float]]:
    """The change of a monthly series over ``months``, annualised, as a fraction.

    Formula: ``(value(d) / value(d − months)) ** (12 / months) − 1``, the earlier observation
    matched by calendar month as in ``year_over_year`` (a month whose counterpart is missing
    or 0 is left out). For CPIAUCSL over 3 months, the "three-month annualised" inflation
    rate: CPI up 0.75 % in three months is ``1.0075⁴ − 1`` = 3.03 % a year. Raises
    ``ValidationError`` for two observations in one month or ``months`` < 1.
    """
    _check_months("annualised_change", months)
    by_month = _by_month(observations, "annualised_change")
    changes: list[tuple[date, float]] = []
    for key, (day, value) in sorted(by_month.items()):
        earlier = by_month.get(_months_before(key, months))
        if earlier is not None and earlier[1] > 0 and value >= 0:
            changes.append((day, (value / earlier[1]) ** (12 / months) - 1.0))
    return changes


InflationTrend = Literal["rising", "falling", "flat"]
TREND_BAND_PP = 0.10


def inflation_trend(
    rates: Iterable[tuple[date, float]], months: int = 3, band_pp: float = TREND_BAND_PP
) -> tuple[InflationTrend, float] | None:
    """The direction of a monthly inflation rate (in percent) and the change it is read from.

    ``change = rate(latest month) − rate(the month ``months`` earlier)``, in percentage
    points, rounded to 0.01 pp (the rates as published, so the label can be checked from
    the numbers shown); ``"rising"`` when ``change > band_pp``, ``"falling"`` when
    ``change < −band_pp``, else ``"flat"`` (a change of exactly ±``band_pp`` is flat). The
    earlier month is matched by calendar month; None when the latest month has no rate
    ``months`` before it. Example: YoY 3.07 % in August, 3.35 % in November → (``"rising"``,
    0.28). Raises ``ValidationError`` for two rates in one month, ``months`` < 1, or a band
    that is not a finite number ≥ 0.
    """
    _check_months("inflation_trend", months)
    if not math.isfinite(band_pp) or band_pp < 0:
        raise ValidationError(
            f"inflation_trend: band_pp must be a finite number ≥ 0, got {band_pp}"
        )
    by_month = _by_month(rates, "inflation_trend")
    if not by_month:
        return None
    latest = max(by_month)
    earlier = by_month.get(_months_before(latest, months))
    if earlier is None:
        return None
    change = round(by_month[latest][1] - earlier[1], 2)
    if change > band_pp:
        return "rising", change
    if change < -band_pp:
        return "falling", change
    return "flat", change


CurveRegime = Literal["inverted", "normal"]
VixRegime = Literal["calm", "normal", "elevated", "stress"]


def curve_regime(t10y2y: float) -> CurveRegime:
    """The yield curve's state from the 10-year minus 2-year spread (FRED T10Y2Y, percent).

    ``"inverted"`` when the spread is < 0, else ``"normal"`` (a spread of exactly 0 is
    flat, not inverted).
    """
    if not math.isfinite(t10y2y):
        raise ValidationError(f"curve_regime: T10Y2Y must be a finite number, got {t10y2y}")
    return "inverted" if t10y2y < 0 else "normal"


def curve_spread(
    long: Iterable[tuple[date, float]], short: Iterable[tuple[date, float]]
) -> tuple[date, float] | None:
    """The spread between two yields on the latest date both have: ``(date, long − short)``.

    Yields in percent (FRED's DGS series), the spread in percentage points rounded to 0.01 as
    FRED publishes its own spreads (T10Y2Y, T10Y3M). Reading both on one date keeps a yield
    published a day late from being set against a newer one. Example: DGS10 4.21 and DGS3MO
    4.31 on 2026-12-04 → (2026-12-04, −0.10), the 3m10y spread, inverted. None without a
    common date; raises ``ValidationError`` when a yield on that date is not finite.
    """
    longs = dict(long)
    shorts = dict(short)
    common = longs.keys() & shorts.keys()
    if not common:
        return None
    day = max(common)
    a, b = longs[day], shorts[day]
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValidationError(f"curve_spread: yields on {day} must be finite numbers, got {a}, {b}")
    return day, round(a - b, 2)


def vix_regime(vix: float) -> VixRegime:
    """The volatility regime from the VIX level (FRED VIXCLS, index points).

    Bands, lower bound included: < 15 ``"calm"``, 15 to < 20 ``"normal"``, 20 to 30
    ``"elevated"``, > 30 ``"stress"`` (30 itself is still elevated).
    """
    if not math.isfinite(vix) or vix < 0:
        raise ValidationError(f"vix_regime: VIX must be a finite number ≥ 0, got {vix}")
    if vix < 15:
        return "calm"
    if vix < 20:
        return "normal"
    if vix <= 30:
        return "elevated"
    return "stress"
