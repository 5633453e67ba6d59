"""Alert routing by market session: `match.session` uses the shared NYSE calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alphawire.alerting.routes import RouteTable, market_session
from alphawire.errors import ValidationError

HOOK = "https://discord.com/api/webhooks/123456789012345678/token"


def table() -> RouteTable:
    return RouteTable.from_mapping(
        {
            "routes": [
                {"name": "desk", "webhook_url": HOOK, "match": {"session": "regular"}},
                {"name": "overnight", "webhook_url": HOOK, "match": {"session": ["closed"]}},
            ]
        },
        "alphawire.toml",
        environ={},
    )


@pytest.mark.parametrize(
    ("timestamp", "session"),
    [
        ("2025-03-05T15:00:00Z", "regular"),  # Wednesday 10:00 New York
        ("2025-03-05T21:30:00Z", "closed"),  # Wednesday 16:30 New York, after the close
        ("2025-03-08T15:00:00Z", "closed"),  # Saturday
        ("2025-12-25T15:00:00Z", "closed"),  # Christmas
        ("2025-11-28T17:30:00Z", "regular"),  # day after Thanksgiving, 12:30, before 13:00
        ("2025-11-28T18:30:00Z", "closed"),  # the same half day, 13:30: closed early
    ],
)
def test_alerts_go_to_the_route_of_their_session(timestamp: str, session: str) -> None:
    """An alert's timestamp picks the route: the regular session's or the closed market's."""
    assert market_session(timestamp) == session
    (route,) = table().select({"alert_type": "x", "timestamp": timestamp})
    assert route.name == ("desk" if session == "regular" else "overnight")


def test_naive_and_datetime_timestamps_are_read_as_utc() -> None:
    """A datetime works like its ISO string; a naive one counts as UTC."""
    assert market_session(datetime(2025, 3, 5, 15, 0, tzinfo=UTC)) == "regular"
    assert market_session(datetime(2025, 3, 5, 15, 0)) == "regular"


def test_an_unknown_session_value_is_refused_naming_the_allowed_ones() -> None:
    """`session` takes regular or closed only (no globs: a typo would never match)."""
    with pytest.raises(ValidationError, match=r"match.session must be regular or closed.*'open'"):
        RouteTable.from_mapping(
            {"routes": [{"name": "a", "webhook_url": HOOK, "match": {"session": "open"}}]},
            "alphawire.toml",
            environ={},
        )
