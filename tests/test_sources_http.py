"""The vendor sources' shared HTTP rules: redaction, Retry-After, HTML sniffing, durations,
and the polling base's backoff and end-of-day schedule."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from alphawire.calendar import NEW_YORK, default_calendar
from alphawire.sources.base import SourceContext
from alphawire.sources.http import looks_like_html, redact, retry_after_seconds
from alphawire.sources.options import parse_duration
from alphawire.sources.polling import BACKOFF_CAP, PollingSource
from alphawire.sources.records import Record


def test_redact_removes_keys_tokens_signatures_and_userinfo() -> None:
    """Secret query values, user:password@, bearer tokens and given secrets become ***."""
    text = (
        "GET https://user:pw@api.example.com/v1/q?symbol=SPY&api_key=abc123&X-Amz-Signature=f00d "
        "failed; Authorization: Bearer eyJhbGciOi.x.y; key PKSECRET99 refused"
    )
    out = redact(text, secrets=["PKSECRET99"])
    for secret in ("abc123", "f00d", "pw@", "eyJhbGciOi", "PKSECRET99"):
        assert secret not in out
    assert "symbol=SPY" in out and "api_key=***" in out and "Bearer ***" in out
    assert "https://api.example.com/v1/q" in out


def test_redact_ignores_trivially_short_secrets() -> None:
    """A secret under 4 characters is not replaced (it would mangle ordinary words)."""
    assert redact("a b c", secrets=["a", ""]) == "a b c"


def test_retry_after_seconds_reads_both_forms() -> None:
    """'120' is 120 s; an HTTP date is the seconds until it; garbage or absence is None."""
    now = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Mon, 01 Dec 2025 12:01:30 GMT", now) == 90.0
    assert retry_after_seconds("Mon, 01 Dec 2025 11:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_looks_like_html() -> None:
    """HTML is recognised by content type or by its first bytes, CSV and JSON are not."""
    assert looks_like_html(b"Date|Symbol", "text/html; charset=utf-8")
    assert looks_like_html(b"\n  <!DOCTYPE html><html>", "text/plain")
    assert looks_like_html(b"<HTML><body>", "application/octet-stream")
    assert not looks_like_html(b"Date|Symbol|ShortVolume", "text/plain")
    assert not looks_like_html(b'{"data": 1}', "application/json")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (60, 60.0),
        ("60", 60.0),
        ("250ms", 0.25),
        ("60s", 60.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        (1.5, 1.5),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    """Durations are seconds or a number with ms/s/m/h/d."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "-1s", "0", True, None])
def test_parse_duration_refuses(text: object) -> None:
    """Anything else is refused with the value in the message."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


class _Eod(PollingSource):
    name = "eod_probe"
    produces = frozenset({"short_volume"})
    gate = "end_of_day"

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        return []


def test_backoff_doubles_to_the_cap_with_equal_jitter() -> None:
    """Failure n waits between half and all of min(cap, 5 s × 2^(n-1))."""
    source = _Eod(interval=60, rng=random.Random(1))
    for failures, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (10, BACKOFF_CAP), (30, BACKOFF_CAP)]:
        source._failures = failures
        for _ in range(20):
            assert ceiling / 2 <= source._backoff() <= ceiling


def test_posted_session_follows_posting_time_and_holidays() -> None:
    """The newest posted file: Wednesday's until Friday 18:00 across Thanksgiving; Friday's
    (a half day, still posted at 18:00) after; Friday's all weekend."""
    source = _Eod(interval=60)
    cal = default_calendar()

    def ny(d: int, h: int, m: int = 0) -> datetime:
        return datetime(2025, 11, d, h, m, tzinfo=NEW_YORK)

    assert source.posted_session(cal, ny(26, 17, 59)) == date(2025, 11, 25)
    assert source.posted_session(cal, ny(26, 18, 0)) == date(2025, 11, 26)
    assert source.posted_session(cal, ny(27, 12)) == date(2025, 11, 26)  # Thanksgiving
    assert source.posted_session(cal, ny(28, 17)) == date(2025, 11, 26)
    assert source.posted_session(cal, ny(28, 18, 1)) == date(2025, 11, 28)
    assert source.posted_session(cal, ny(30, 12)) == date(2025, 11, 28)  # Sunday
    source.read_through = date(2025, 11, 26)
    # Read Wednesday's: next due at Friday's posting time, skipping the holiday.
    assert source.next_due(cal, ny(26, 19)) == ny(28, 18)
