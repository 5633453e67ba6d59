"""Macro series with FRED's ids, units and cadence, in percent as FRED publishes them.

Daily: the Treasury constant-maturity yields (%) DGS3MO, DGS6MO, DGS1, DGS2, DGS5, DGS10
and DGS30, T10Y2Y (in percentage points, always ``DGS10 - DGS2`` rounded to 0.01), VIXCLS
(index points), FEDFUNDS (effective rate, %, flat at 4.33). Monthly: CPIAUCSL (index,
1982-84 = 100) and UNRATE (%), dated the first of the month and one month behind, as released.

On start the simulator emits 20 sessions of daily history, a curve that flattens without
inverting (T10Y2Y falls to a few basis points); the curve-inversion scenario then emits the
session's own observations with DGS2 above DGS10. After each later session's close the daily
series take a small random step.

The curve's other tenors (``curve_shape``) hang off the 2- and 10-year as published (rounded)
and fed funds: DGS3MO at fed funds ``+ BILL_SPREAD`` (−0.02: bills a shade under the policy
rate, a cut priced in); DGS6MO and DGS1 interpolated linearly in ln(years) between the 3-month
and the 2-year, the 6-month ``+ HUMP_6M`` (+0.03: the front end humped); DGS5 interpolated the
same way between the 2- and the 10-year, ``+ BELLY_5Y`` (−0.03: the belly sags); DGS30 the
10-year ``+ TERM_30`` (+0.20). Each gets seeded noise (σ ``CURVE_NOISE``, 0.01 pp) and is
rounded to FRED's 0.01, except the scripted inversion, which has none: DGS3MO 4.31, DGS6MO
4.34, DGS1 4.30, DGS2 4.30, DGS5 4.22, DGS10 4.21, DGS30 4.41 (humped at 6 months, 3m10y
−0.10, 2s10s −0.09). As the 2-year climbs through the history the front end goes from
inverted to humped; seed 7, 3M to 30Y: 4.31 / 4.23 / 4.07 / 3.97 / 4.08 / 4.22 / 4.41 on the
first day (the 2-year the trough), 4.30 / 4.31 / 4.25 / 4.18 / 4.18 / 4.24 / 4.44 on the last.
These tenors draw from their own seeded stream, so adding them changed no other record.

Monthly history: 12 months of UNRATE and ``CPI_MONTHS`` (36) of CPIAUCSL, enough for 24
year-over-year rates and so an inflation trend from the first minute (a YoY rate needs the
month a year earlier; its three-month trend needs four of them). The CPI path (``cpi_path``)
starts at 308.0 (about where FRED's CPIAUCSL stood in late 2023) and compounds a monthly
change of ``pace / 12`` percent plus seeded noise (σ ``CPI_NOISE``, 0.02 %), the annualised
pace easing linearly from 3.4 % to 2.3 % over the first 20 months, then re-accelerating to
3.9 %: YoY inflation eases to about 2.6 % and climbs back above 3 %, rising by about 0.3 pp
over the last three months whatever the seed (0.17 pp at the least in 2,000 seeds, against
the macro agent's ±0.10 pp band). Seed 7 (the default): CPI 335.808 for the latest month,
YoY 3.35 %, 3.07 % three months earlier, trend rising. CPI has its own seeded stream, so
growing its history changed none of the other macro series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from itertools import pairwise

from alphawire.sources.records import MacroObservation
from alphawire.sources.sim.draws import Draws

# The tenors drawn from the curve's own stream, in the order they follow the older series.
CURVE = ("DGS3MO", "DGS6MO", "DGS1", "DGS5", "DGS30")
DAILY = ("DGS10", "DGS2", "T10Y2Y", "VIXCLS", "FEDFUNDS", *CURVE)
MONTHLY = ("CPIAUCSL", "UNRATE")
SERIES = DAILY + MONTHLY
HISTORY_DAYS = 20
UNRATE_MONTHS = 12
CPI_MONTHS = 36
CPI_START = 308.0  # the index CPI_MONTHS months before the latest (1982-84 = 100)
# The annualised monthly pace, percent, at (months after the first, pace), linear in between.
CPI_PACE = ((1, 3.4), (20, 2.3), (35, 3.9))
CPI_NOISE = 0.02  # σ of each month's change, percent (not annualised)
FED_FUNDS = 4.33
BILL_SPREAD = -0.02  # DGS3MO − fed funds, pp
HUMP_6M = 0.03  # DGS6MO above the ln(years) line from the 3-month to the 2-year, pp
BELLY_5Y = -0.03  # DGS5 against the ln(years) line from the 2-year to the 10-year, pp
TERM_30 = 0.20  # DGS30 − DGS10, pp
CURVE_NOISE = 0.01  # σ of each tenor's daily noise, pp


def observation(
    source: str, ts: datetime, series: str, day: date, value: float
) -> MacroObservation:
    """One simulated observation."""
    return MacroObservation(
        source=source,
        symbol=None,
        ts=ts,
        series=series,
        observation_date=day,
        value=value,
        simulated=True,
    )


def _pace(n: int) -> float:
    for (a, pace_a), (b, pace_b) in pairwise(CPI_PACE):
        if a <= n <= b:
            return pace_a + (pace_b - pace_a) * (n - a) / (b - a)
    raise ValueError(f"no CPI pace for month {n}: CPI_PACE covers 1 to {CPI_PACE[-1][0]}")


def cpi_path(d: Draws) -> list[float]:
    """``CPI_MONTHS`` monthly CPIAUCSL values, oldest first, rounded to FRED's 3 decimals
    (compounded unrounded, so rounding never accumulates)."""
    level = CPI_START
    out = [round(level, 3)]
    for n in range(1, CPI_MONTHS):
        level *= 1 + (_pace(n) / 12 + CPI_NOISE * d.normal()) / 100
        out.append(round(level, 3))
    return out


def _on_line(years: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    """The yield at ``years`` on the line through ``a`` and ``b`` (years, yield) in ln(years)."""
    return a[1] + (b[1] - a[1]) * math.log(years / a[0]) / math.log(b[0] / a[0])


def curve_shape(dgs2: float, dgs10: float, fed_funds: float) -> dict[str, float]:
    """The ``CURVE`` tenors' yields (%, unrounded, no noise) from the 2-year, the 10-year and
    fed funds, as the module docstring states."""
    front = (0.25, fed_funds + BILL_SPREAD)
    two, ten = (2.0, dgs2), (10.0, dgs10)
    return {
        "DGS3MO": front[1],
        "DGS6MO": _on_line(0.5, front, two) + HUMP_6M,
        "DGS1": _on_line(1.0, front, two),
        "DGS5": _on_line(5.0, two, ten) + BELLY_5Y,
        "DGS30": dgs10 + TERM_30,
    }


def _months_before(day: date, k: int) -> date:
    """The first of the month ``k`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - k
    return date(index // 12, index % 12 + 1, 1)


class MacroBook:
    """The latest value of each daily series, and how the simulator moves it."""

    def __init__(self, d: Draws, cpi: Draws, curve: Draws) -> None:
        self.d = d
        self.cpi = cpi
        self.curve = curve
        self.last: dict[str, float] = {}

    def _daily(
        self,
        source: str,
        ts: datetime,
        day: date,
        dgs10: float,
        dgs2: float,
        vix: float,
        noise: bool = True,
    ) -> list[MacroObservation]:
        dgs10, dgs2, vix = round(dgs10, 2), round(dgs2, 2), round(vix, 2)
        values = {
            "DGS10": dgs10,
            "DGS2": dgs2,
            "T10Y2Y": round(dgs10 - dgs2, 2),
            "VIXCLS": vix,
            "FEDFUNDS": FED_FUNDS,
        }
        for series, value in curve_shape(dgs2, dgs10, FED_FUNDS).items():
            jitter = CURVE_NOISE * self.curve.normal() if noise else 0.0
            values[series] = round(value + jitter, 2)
        self.last.update(values)
        return [observation(source, ts, s, day, values[s]) for s in DAILY]

    def history(
        self, source: str, ts: datetime, day: date, sessions: Sequence[date]
    ) -> list[MacroObservation]:
        """Daily history for ``sessions`` (the ``HISTORY_DAYS`` market sessions before ``day``,
        oldest first: FRED has no Treasury or VIX value on a market holiday); monthly: CPI for
        the ``CPI_MONTHS`` months and UNRATE for the 12 months before ``day``'s month (one
        month behind, as released)."""
        d = self.d
        days = list(sessions)
        if len(days) != HISTORY_DAYS or days != sorted(days) or (days and days[-1] >= day):
            raise ValueError(
                f"macro history needs the {HISTORY_DAYS} sessions before {day}, oldest first"
            )
        out: list[MacroObservation] = []
        for n, obs_day in enumerate(days):
            dgs10 = 4.22 + 0.03 * d.normal()
            # The 2-year climbs towards the 10-year: flattening, spread staying positive.
            dgs2 = min(3.96 + 0.012 * n + 0.01 * d.normal(), round(dgs10, 2) - 0.03)
            out.extend(self._daily(source, ts, obs_day, dgs10, dgs2, 15.5 + d.normal()))
        for k, value in zip(range(CPI_MONTHS, 0, -1), cpi_path(self.cpi), strict=True):
            out.append(observation(source, ts, "CPIAUCSL", _months_before(day, k), value))
        for k in range(UNRATE_MONTHS, 0, -1):
            unrate = round(4.1 + 0.1 * d.index(3), 1)
            out.append(observation(source, ts, "UNRATE", _months_before(day, k), unrate))
        return out

    def inversion(self, source: str, ts: datetime, day: date) -> list[MacroObservation]:
        """The session's observations with the 2-year 9 bp above the 10-year, VIX up; the
        other tenors exactly ``curve_shape`` (no noise: the scenario's numbers are fixed)."""
        return self._daily(source, ts, day, 4.21, 4.30, 21.4, noise=False)

    def step(self, source: str, ts: datetime, day: date) -> list[MacroObservation]:
        """The session's observations: a small random step from the last values."""
        d = self.d
        return self._daily(
            source,
            ts,
            day,
            self.last["DGS10"] + 0.03 * d.normal(),
            self.last["DGS2"] + 0.03 * d.normal(),
            max(9.0, self.last["VIXCLS"] * (1 + 0.05 * d.normal())),
        )
