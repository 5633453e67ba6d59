"""Macro series with FRED's ids, units and cadence, in percent as FRED publishes them.

Daily: DGS10 and DGS2 (Treasury constant-maturity yields, %), T10Y2Y (their spread, in
percentage points, always ``DGS10 - DGS2`` rounded to 0.01), VIXCLS (index points), FEDFUNDS
(effective rate, %, flat). Monthly: CPIAUCSL (index, 1982-84 = 100) and UNRATE (%), dated
the first of the month and one month behind, as released.

On start the simulator emits 20 sessions of daily history and 12 months of monthly
history, a curve that flattens without inverting (T10Y2Y falls to a few basis points); the
curve-inversion scenario then emits the session's own observations with DGS2 above DGS10.
After each later session's close the daily series take a small random step.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from alphawire.sources.records import MacroObservation
from alphawire.sources.sim.draws import Draws

DAILY = ("DGS10", "DGS2", "T10Y2Y", "VIXCLS", "FEDFUNDS")
MONTHLY = ("CPIAUCSL", "UNRATE")
SERIES = DAILY + MONTHLY
HISTORY_DAYS = 20


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


class MacroBook:
    """The latest value of each daily series, and how the simulator moves it."""

    def __init__(self, d: Draws) -> None:
        self.d = d
        self.last: dict[str, float] = {}

    def _daily(
        self, source: str, ts: datetime, day: date, dgs10: float, dgs2: float, vix: float
    ) -> list[MacroObservation]:
        dgs10, dgs2, vix = round(dgs10, 2), round(dgs2, 2), round(vix, 2)
        values = {
            "DGS10": dgs10,
            "DGS2": dgs2,
            "T10Y2Y": round(dgs10 - dgs2, 2),
            "VIXCLS": vix,
            "FEDFUNDS": 4.33,
        }
        self.last.update(values)
        return [observation(source, ts, s, day, values[s]) for s in DAILY]

    def history(self, source: str, ts: datetime, day: date) -> list[MacroObservation]:
        """Daily history for the 20 weekdays before ``day`` and 12 months of monthly data."""
        d = self.d
        days: list[date] = []
        cursor = day
        while len(days) < HISTORY_DAYS:
            cursor -= timedelta(days=1)
            if cursor.weekday() < 5:
                days.append(cursor)
        days.reverse()
        out: list[MacroObservation] = []
        for n, obs_day in enumerate(days):
            dgs10 = 4.22 + 0.03 * d.normal()
            # The 2-year climbs towards the 10-year: flattening, spread staying positive.
            dgs2 = min(3.96 + 0.012 * n + 0.01 * d.normal(), round(dgs10, 2) - 0.03)
            out.extend(self._daily(source, ts, obs_day, dgs10, dgs2, 15.5 + d.normal()))
        first = date(day.year, day.month, 1)
        for k in range(12, 0, -1):
            month = (first.month - 1 - k) % 12 + 1
            year = first.year + (first.month - 1 - k) // 12
            obs_month = date(year, month, 1)
            out.append(
                observation(source, ts, "CPIAUCSL", obs_month, round(322.0 * 1.0025 ** (12 - k), 3))
            )
            out.append(
                observation(source, ts, "UNRATE", obs_month, round(4.1 + 0.1 * d.index(3), 1))
            )
        return out

    def inversion(self, source: str, ts: datetime, day: date) -> list[MacroObservation]:
        """The session's observations with the 2-year 9 bp above the 10-year, VIX up."""
        return self._daily(source, ts, day, 4.21, 4.30, 21.4)

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
