"""The NYSE calendar, checked against dates anyone can verify on NYSE's holiday page.

2025: Thanksgiving Thu 27 Nov (closed), Fri 28 Nov closes at 13:00 New York time (18:00 UTC,
EST); Christmas Thu 25 Dec (closed), Wed 24 Dec closes at 13:00. US daylight saving time
started Sun 9 Mar 2025 (the open moves from 14:30 to 13:30 UTC) and ended Sun 2 Nov 2025.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from alphawire.calendar import NEW_YORK, NyseCalendar, default_calendar
from alphawire.sources.base import MarketCalendar


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture(scope="module")
def cal() -> NyseCalendar:
    return NyseCalendar()


def test_implements_the_market_calendar_protocol(cal: NyseCalendar) -> None:
    """NyseCalendar is usable wherever the sources' MarketCalendar is expected."""
    as_protocol: MarketCalendar = cal
    assert as_protocol.is_open(utc(2025, 12, 1, 15, 0))


def test_regular_day_is_open_from_0930_to_1600_new_york(cal: NyseCalendar) -> None:
    """Mon 1 Dec 2025 (EST, UTC-5): open 14:30 UTC inclusive, closed at 21:00 UTC exactly."""
    assert not cal.is_open(utc(2025, 12, 1, 14, 29, 59))
    assert cal.is_open(utc(2025, 12, 1, 14, 30))
    assert cal.is_open(utc(2025, 12, 1, 20, 59, 59))
    assert not cal.is_open(utc(2025, 12, 1, 21, 0))
    session = cal.session(date(2025, 12, 1))
    assert session is not None
    assert (session.open, session.close) == (utc(2025, 12, 1, 14, 30), utc(2025, 12, 1, 21, 0))
    assert not session.half_day


def test_thanksgiving_is_a_holiday(cal: NyseCalendar) -> None:
    """Thanksgiving 27 Nov 2025 has no session, even at midday."""
    assert not cal.is_trading_day(date(2025, 11, 27))
    assert cal.session(date(2025, 11, 27)) is None
    assert not cal.is_open(utc(2025, 11, 27, 17, 0))


def test_day_after_thanksgiving_closes_at_1300(cal: NyseCalendar) -> None:
    """Fri 28 Nov 2025 is a half day: open at 13:00 New York time, closed at 13:00:00."""
    assert cal.is_half_day(date(2025, 11, 28))
    session = cal.session(date(2025, 11, 28))
    assert session is not None
    assert session.close == utc(2025, 11, 28, 18, 0)
    assert session.close.astimezone(NEW_YORK).hour == 13
    assert cal.is_open(utc(2025, 11, 28, 17, 59, 59))
    assert not cal.is_open(utc(2025, 11, 28, 18, 0))
    assert cal.is_half_day(date(2025, 12, 24))
    assert not cal.is_half_day(date(2025, 12, 1))
    assert not cal.is_half_day(date(2025, 11, 27))  # a holiday is not a half day


def test_weekend_is_closed_and_next_open_is_monday(cal: NyseCalendar) -> None:
    """Saturday 6 Dec 2025: closed; the next open is Monday 8 Dec 14:30 UTC."""
    saturday = utc(2025, 12, 6, 16, 0)
    assert not cal.is_trading_day(date(2025, 12, 6))
    assert not cal.is_open(saturday)
    assert cal.next_open(saturday) == utc(2025, 12, 8, 14, 30)
    assert cal.previous_close(saturday) == utc(2025, 12, 5, 21, 0)


def test_next_open_skips_the_holiday(cal: NyseCalendar) -> None:
    """From Wed 26 Nov 2025 after the close, the next open is Fri 28 Nov (Thursday is closed)."""
    assert cal.next_open(utc(2025, 11, 26, 22, 0)) == utc(2025, 11, 28, 14, 30)


def test_next_open_is_strictly_after(cal: NyseCalendar) -> None:
    """At the open itself, next_open is the following day's open."""
    assert cal.next_open(utc(2025, 12, 1, 14, 30)) == utc(2025, 12, 2, 14, 30)


def test_previous_close_is_at_or_before(cal: NyseCalendar) -> None:
    """At the half day's close the previous close is that close; a second before, Wednesday's."""
    assert cal.previous_close(utc(2025, 11, 28, 18, 0)) == utc(2025, 11, 28, 18, 0)
    assert cal.previous_close(utc(2025, 11, 28, 17, 59, 59)) == utc(2025, 11, 26, 21, 0)


def test_daylight_saving_moves_the_open_in_utc(cal: NyseCalendar) -> None:
    """The open is 09:30 New York time on both sides of 9 Mar 2025: 14:30 UTC, then 13:30 UTC."""
    before = cal.session(date(2025, 3, 7))
    after = cal.session(date(2025, 3, 10))
    assert before is not None and after is not None
    assert before.open == utc(2025, 3, 7, 14, 30)
    assert after.open == utc(2025, 3, 10, 13, 30)
    assert cal.is_open(utc(2025, 3, 10, 13, 45))
    assert not cal.is_open(utc(2025, 3, 7, 13, 45))
    assert cal.next_open(utc(2025, 3, 8, 12, 0)) == utc(2025, 3, 10, 13, 30)


def test_accepts_any_timezone_and_refuses_naive(cal: NyseCalendar) -> None:
    """An aware time in any zone is the same instant; a naive one is refused with the reason."""
    tokyo = timezone(timedelta(hours=9))
    assert cal.is_open(datetime(2025, 12, 2, 0, 0, tzinfo=tokyo))  # 1 Dec 15:00 UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_open(datetime(2025, 12, 1, 15, 0))


def test_session_helpers_walk_trading_days(cal: NyseCalendar) -> None:
    """previous/next/last session and the range skip weekends and the Thanksgiving holiday."""
    assert cal.previous_session(date(2025, 11, 28)).day == date(2025, 11, 26)
    assert cal.next_session(date(2025, 11, 26)).day == date(2025, 11, 28)
    assert cal.last_session(utc(2025, 11, 29, 12, 0)).day == date(2025, 11, 28)
    assert cal.last_session(utc(2025, 12, 1, 14, 0)).day == date(2025, 11, 28)  # before the open
    assert cal.last_session(utc(2025, 12, 1, 15, 0)).day == date(2025, 12, 1)  # in progress
    days = [s.day for s in cal.sessions(date(2025, 11, 24), date(2025, 11, 30))]
    assert days == [date(2025, 11, d) for d in (24, 25, 26, 28)]
    with pytest.raises(ValueError, match="before start"):
        cal.sessions(date(2025, 11, 30), date(2025, 11, 24))


def test_far_dates_widen_the_table() -> None:
    """A query outside the built range extends it: Christmas 2040 (a Tuesday) is closed."""
    cal = NyseCalendar(start=date(2025, 1, 1), end=date(2025, 12, 31))
    assert not cal.is_trading_day(date(2040, 12, 25))
    assert cal.is_trading_day(date(2040, 12, 24))
    assert cal.is_trading_day(date(2000, 1, 3))  # widened backwards too
    assert cal.is_trading_day(date(2025, 12, 1))


def test_default_calendar_is_shared_and_lazy() -> None:
    """default_calendar returns one instance, which builds its table only when first asked."""
    first = default_calendar()
    assert first is default_calendar()
    fresh = NyseCalendar()
    assert fresh._loaded is None  # nothing built by the constructor
    fresh.is_trading_day(date(2025, 12, 1))
    assert fresh._loaded is not None


def test_construction_rejects_an_empty_range() -> None:
    """An end before the start is refused with both dates in the message."""
    with pytest.raises(ValueError, match="2025-01-01 must be after start 2025-06-01"):
        NyseCalendar(start=date(2025, 6, 1), end=date(2025, 1, 1))
