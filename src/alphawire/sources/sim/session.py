"""Which trading session the simulator plays, from the exchange calendar or a fixed fallback.

The simulated day is a regular session of ``ctx.calendar`` (NYSE: holidays and half days
included). When the calendar cannot answer (it raises), the simulator falls back to
``WeekdayCalendar``: every Monday to Friday, 09:30 to 16:00 America/New_York, no holidays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alphawire.sources.base import MarketCalendar

NEW_YORK = ZoneInfo("America/New_York")
_OPEN = time(9, 30)
_CLOSE = time(16, 0)
_TINY = timedelta(microseconds=1)
log = logging.getLogger(__name__)


class WeekdayCalendar:
    """The fallback calendar: Monday to Friday, 09:30 to 16:00 New York time, no holidays."""

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        opening = datetime.combine(day, _OPEN, NEW_YORK).astimezone(UTC)
        closing = datetime.combine(day, _CLOSE, NEW_YORK).astimezone(UTC)
        return opening, closing

    def is_open(self, ts: datetime) -> bool:
        local = ts.astimezone(NEW_YORK)
        if local.weekday() >= 5:
            return False
        opening, closing = self._bounds(local.date())
        return opening <= ts < closing

    def next_open(self, ts: datetime) -> datetime:
        day = ts.astimezone(NEW_YORK).date()
        while True:
            opening, _ = self._bounds(day)
            if day.weekday() < 5 and opening > ts:
                return opening
            day += timedelta(days=1)

    def previous_close(self, ts: datetime) -> datetime:
        day = ts.astimezone(NEW_YORK).date()
        while True:
            _, closing = self._bounds(day)
            if day.weekday() < 5 and closing <= ts:
                return closing
            day -= timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Session:
    """One regular trading session (UTC bounds) and its New York date."""

    open: datetime
    close: datetime

    @property
    def day(self) -> date:
        return self.open.astimezone(NEW_YORK).date()

    @property
    def seconds(self) -> float:
        return (self.close - self.open).total_seconds()


def usable(calendar: MarketCalendar | None, probe: datetime) -> MarketCalendar:
    """``calendar`` if it answers for ``probe``, else the weekday fallback (logged once)."""
    if calendar is not None:
        try:
            _session_at(calendar, probe)
            return calendar
        except Exception as exc:  # any failure means: do not rely on it
            log.warning("calendar unusable (%s); simulating 09:30-16:00 New York weekdays", exc)
    return WeekdayCalendar()


def _session_at(calendar: MarketCalendar, ts: datetime) -> Session:
    if calendar.is_open(ts):
        opening = calendar.next_open(calendar.previous_close(ts))
    else:
        opening = calendar.next_open(ts)
    closing = calendar.previous_close(calendar.next_open(opening) - _TINY)
    if not opening < closing:
        raise ValueError(f"calendar gave a session closing at {closing} before its open {opening}")
    return Session(opening, closing)


def session_at(calendar: MarketCalendar, ts: datetime) -> Session:
    """The session open at ``ts``, or the next one when the market is closed."""
    return _session_at(calendar, ts)


def next_session(calendar: MarketCalendar, session: Session) -> Session:
    """The session after ``session``."""
    return _session_at(calendar, calendar.next_open(session.open))


def previous_session(calendar: MarketCalendar, session: Session) -> Session:
    """The session before ``session``."""
    return _session_at(calendar, calendar.previous_close(session.open - _TINY) - _TINY)


def simulation_start(calendar: MarketCalendar | None, now: datetime) -> datetime:
    """Where a simulated day should start for a user at ``now``: the open of the session in
    progress, else of the most recent one (so a demo at night replays the last trading day)."""
    cal = usable(calendar, now)
    if cal.is_open(now):
        return _session_at(cal, now).open
    return _session_at(cal, cal.previous_close(now) - _TINY).open


def first_instant(calendar: MarketCalendar, ts: datetime) -> datetime:
    """Where a simulation asked to start at ``ts`` really starts: ``ts`` to the whole second
    when a session is open then, else the next session's open."""
    session = _session_at(calendar, ts)
    if session.open <= ts < session.close:
        return ts.replace(microsecond=0)
    return session.open
