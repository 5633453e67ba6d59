"""The exchange calendar: NYSE regular sessions, holidays and half days, as a value you query.

Sources (no intraday polling while the market is closed; end-of-day files only after they are
posted), agents and alert routing share one ``MarketCalendar`` (``alphawire.sources.base``).
``NyseCalendar`` answers from the maintained ``exchange-calendars`` package's ``XNYS``
calendar, so holidays (including the one-off closures it records) and early closes (the day
after Thanksgiving, Christmas Eve, 3 July: 13:00 New York time) are not re-invented here.

Conventions: every ``datetime`` taken or returned is timezone-aware (naive ones are refused);
results are UTC. A session is open on the half-open interval ``[open, close)``: at 16:00:00
New York time the market is closed. Sessions are looked up by their New York calendar date.

Construction is cheap: the package is imported and the schedule built on the first query
(about 0.1 s for 1990-2035), and the table is widened on demand when a query falls outside it,
so a simulation run in 2040 still gets rule-based holidays.
"""

from __future__ import annotations

import bisect
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)  # New York time; a session closing earlier is a half day


@dataclass(frozen=True, slots=True)
class Session:
    """One regular trading session: its New York date and its open and close in UTC."""

    day: date
    open: datetime
    close: datetime

    @property
    def half_day(self) -> bool:
        """True for an early close (13:00 New York time instead of 16:00)."""
        return self.close.astimezone(NEW_YORK).time() < REGULAR_CLOSE


class NyseCalendar:
    """NYSE (XNYS) regular sessions from ``exchange-calendars``; implements ``MarketCalendar``."""

    def __init__(self, start: date = date(1990, 1, 1), end: date | None = None) -> None:
        self._start = start
        # Two years ahead by default; a query past the end widens the table.
        self._end = end if end is not None else date(date.today().year + 2, 12, 31)
        if self._end <= self._start:
            raise ValueError(f"calendar end {self._end} must be after start {self._start}")
        self._lock = threading.Lock()
        self._loaded: _Table | None = None

    # -- the MarketCalendar protocol -------------------------------------------------------

    def is_open(self, ts: datetime) -> bool:
        """True while a regular session is open at ``ts`` (``open <= ts < close``)."""
        return self.session_at(ts) is not None

    def next_open(self, ts: datetime) -> datetime:
        """The first regular session open strictly after ``ts`` (UTC)."""
        ts = _utc(ts, "ts")
        t = self._table(ts.date(), ts.date() + _MARGIN)
        return t.opens[bisect.bisect_right(t.opens, ts)]

    def previous_close(self, ts: datetime) -> datetime:
        """The most recent regular session close at or before ``ts`` (UTC)."""
        ts = _utc(ts, "ts")
        t = self._table(ts.date() - _MARGIN, ts.date())
        return t.closes[bisect.bisect_right(t.closes, ts) - 1]

    # -- helpers ---------------------------------------------------------------------------

    def session(self, day: date) -> Session | None:
        """The session on New York date ``day``, or None on weekends and holidays."""
        t = self._table(day, day)
        i = bisect.bisect_left(t.days, day)
        if i < len(t.days) and t.days[i] == day:
            return t.session(i)
        return None

    def is_trading_day(self, day: date) -> bool:
        """True when NYSE holds a regular session on ``day`` (New York date)."""
        return self.session(day) is not None

    def is_half_day(self, day: date) -> bool:
        """True when ``day`` is a trading day that closes early."""
        found = self.session(day)
        return found is not None and found.half_day

    def session_at(self, ts: datetime) -> Session | None:
        """The session open at ``ts``, or None while the market is closed."""
        ts = _utc(ts, "ts")
        t = self._table(ts.date() - _MARGIN, ts.date())
        i = bisect.bisect_right(t.opens, ts) - 1
        if i >= 0 and ts < t.closes[i]:
            return t.session(i)
        return None

    def last_session(self, ts: datetime) -> Session:
        """The most recent session that has opened at or before ``ts`` (possibly still open)."""
        ts = _utc(ts, "ts")
        t = self._table(ts.date() - _MARGIN, ts.date())
        return t.session(bisect.bisect_right(t.opens, ts) - 1)

    def previous_session(self, day: date) -> Session:
        """The last session strictly before New York date ``day``."""
        t = self._table(day - _MARGIN, day)
        return t.session(bisect.bisect_left(t.days, day) - 1)

    def next_session(self, day: date) -> Session:
        """The first session strictly after New York date ``day``."""
        t = self._table(day, day + _MARGIN)
        return t.session(bisect.bisect_right(t.days, day))

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session with ``start <= day <= end``, in order."""
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        t = self._table(start, end)
        lo = bisect.bisect_left(t.days, start)
        hi = bisect.bisect_right(t.days, end)
        return [t.session(i) for i in range(lo, hi)]

    # -- the table -------------------------------------------------------------------------

    def _table(self, first: date, last: date) -> _Table:
        """The schedule, covering ``first``..``last`` (widened by whole years when it does not)."""
        table = self._loaded
        if table is not None and table.start <= first and last <= table.end:
            return table
        with self._lock:
            table = self._loaded
            start, end = (table.start, table.end) if table is not None else (self._start, self._end)
            if table is None or first < start or last > end:
                start = min(start, date(first.year - 1, 1, 1))
                end = max(end, date(last.year + 1, 12, 31))
                table = self._loaded = _Table.build(start, end)
            return table


# Longer than any NYSE closure (the longest since 1990 is four weekdays in September 2001).
_MARGIN = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class _Table:
    """The sessions from ``start`` to ``end`` as sorted parallel lists (swapped whole)."""

    start: date
    end: date
    days: list[date]
    opens: list[datetime]
    closes: list[datetime]

    def session(self, i: int) -> Session:
        return Session(self.days[i], self.opens[i], self.closes[i])

    @classmethod
    def build(cls, start: date, end: date) -> _Table:
        # Imported here: pandas and the package cost ~0.3 s, paid only by a process that asks.
        import exchange_calendars

        with warnings.catch_warnings():
            # The package's own pandas calls warn about pandas 4 deprecations that it, not we,
            # must act on; the schedule it builds is right either way.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            cal = exchange_calendars.get_calendar(
                "XNYS", start=start.isoformat(), end=end.isoformat()
            )
            schedule = cal.schedule
        return cls(
            start=start,
            end=end,
            days=[ts.date() for ts in schedule.index],
            opens=[ts.to_pydatetime().astimezone(UTC) for ts in schedule["open"]],
            closes=[ts.to_pydatetime().astimezone(UTC) for ts in schedule["close"]],
        )


def _utc(ts: datetime, what: str) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, not naive {ts.isoformat()}")
    return ts.astimezone(UTC)


_default: NyseCalendar | None = None
_default_lock = threading.Lock()


def default_calendar() -> NyseCalendar:
    """The process-wide NYSE calendar (built on first use, shared by everything)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = NyseCalendar()
        return _default


__all__ = ["NEW_YORK", "NyseCalendar", "Session", "default_calendar"]
