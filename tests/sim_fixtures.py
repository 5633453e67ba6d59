"""Shared simulated runs for the simulator's tests (computed once per test session)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from alphawire.calendar import default_calendar
from alphawire.sources.records import Record
from alphawire.sources.sim import DEFAULT_WATCHLIST, MarketSimulation

DAY_WATCHLIST = ("SPY", "GME")
# Friday 4 December 2026, 09:30 New York: a regular NYSE session.
OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def simulation(seed: int = 7, watchlist: tuple[str, ...] = DEFAULT_WATCHLIST) -> MarketSimulation:
    return MarketSimulation(watchlist, seed=seed, start=OPEN, calendar=default_calendar())


@functools.cache
def first_minute(seed: int = 7) -> tuple[Record, ...]:
    """The first simulated minute of the default watchlist from the open."""
    return tuple(simulation(seed).advance_to(OPEN + timedelta(seconds=60)))


@functools.cache
def first_day() -> tuple[tuple[Record, ...], tuple[Record, ...]]:
    """A whole session of SPY and GME through the next open: (session, next open's records)."""
    sim = simulation(watchlist=DAY_WATCHLIST)
    day = sim.advance_to(datetime(2026, 12, 5, 12, 0, tzinfo=UTC), max_times=10**7)
    nxt = sim.advance_to(datetime(2026, 12, 7, 14, 30, tzinfo=UTC), max_times=10**7)
    return tuple(day), tuple(nxt)


def at(seconds: float) -> datetime:
    return OPEN + timedelta(seconds=seconds)
