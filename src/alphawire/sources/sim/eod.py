"""End-of-day files: FINRA-style daily short volume, short interest and the borrow market.

Short volume follows FINRA's Reg SHO daily file (CNMS): volumes reported to FINRA's
facilities (the simulated off-exchange volume), ``short_volume`` at the symbol's usual short
ratio ± 3 points, ``short_exempt_volume`` 0.2-1 % of it, fractional volumes with three
decimals, ``market`` "B,Q,N". It is emitted for the previous 21 sessions when the simulator
starts (the history a z-score needs on day one) and for each simulated session at its
posting time, two hours after the close.

Short interest follows FINRA's bi-monthly cycle: the settlement date is the latest 15th or
month end (moved back to a weekday) at least 11 days before the session, so the figure is as
stale as the published one, and the same all through a settlement period;
``days_to_cover = short_interest / avg_daily_volume``. The borrow fee (annual fraction) and
utilization take a small random step at each close (±5 % and ±2 % relative, utilization at
most 99.5 %), from wherever scenarios left them.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from alphawire.sources.records import ShortInterest, ShortVolume
from alphawire.sources.sim.draws import Draws
from alphawire.sources.sim.profiles import SymbolProfile, daily_volume
from alphawire.sources.sim.tape import OFF_EXCHANGE_SHARE

PUBLICATION_LAG_DAYS = 11


def settlement_date(day: date) -> date:
    """The latest FINRA short-interest settlement date published by ``day``."""
    candidates: list[date] = []
    year, month = day.year, day.month
    for _ in range(3):
        last = calendar.monthrange(year, month)[1]
        for d in (date(year, month, 15), date(year, month, last)):
            while d.weekday() >= 5:
                d -= timedelta(days=1)
            candidates.append(d)
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return max(d for d in candidates if d + timedelta(days=PUBLICATION_LAG_DAYS) <= day)


def short_volume(
    symbol: str,
    source: str,
    ts: datetime,
    trade_date: date,
    total: float,
    ratio: float,
    d: Draws,
    noise: float = 0.03,
) -> ShortVolume:
    """One FINRA daily short-volume row for ``total`` shares at short ``ratio`` ± ``noise``."""
    total = round(total + d.uniform(), 3)
    ratio = min(0.95, max(0.05, ratio + noise * d.normal()))
    short = round(total * ratio, 3)
    return ShortVolume(
        source=source,
        symbol=symbol,
        ts=ts,
        trade_date=trade_date,
        short_volume=short,
        short_exempt_volume=round(short * d.between(0.002, 0.01), 3),
        total_volume=total,
        market="B,Q,N",
        simulated=True,
    )


def previous_day_total(profile: SymbolProfile, d: Draws) -> float:
    """The FINRA-reported (off-exchange) volume of a typical day, ± 20 %."""
    return daily_volume(profile) * OFF_EXCHANGE_SHARE * d.between(0.8, 1.2)


def short_interest(
    symbol: str,
    source: str,
    ts: datetime,
    day: date,
    profile: SymbolProfile,
    borrow_fee: float,
    utilization: float,
    seed: int,
) -> ShortInterest:
    """Short interest at the latest settlement published by ``day`` (the same figure for
    every call within one settlement period), with the borrow market given."""
    settled = settlement_date(day)
    d = Draws(seed, "short_interest", symbol, settled.isoformat())
    adv = round(daily_volume(profile))
    shares = float(round(profile.float_shares * profile.short_pct_float * (1 + 0.02 * d.normal())))
    return ShortInterest(
        source=source,
        symbol=symbol,
        ts=ts,
        settlement_date=settled,
        short_interest=shares,
        avg_daily_volume=float(adv),
        days_to_cover=round(shares / adv, 2),
        float_shares=profile.float_shares,
        borrow_fee=round(borrow_fee, 4),
        utilization=round(utilization, 4),
        simulated=True,
    )
