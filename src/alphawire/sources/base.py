"""The ``Source`` port: what a market-data source is, what it is given, and how it fails.

A source runs as one supervised task (``run``) until it is cancelled. It hands what it reads
to ``SourceContext.emit`` as typed records (``alphawire.sources.records``); the core turns
quotes into ``market_data`` messages on the bus, passes every record to the agents, and
writes them to a recording when one is being made. A source never publishes by itself and
never imports the web layer.

A source reports its own state through ``status()``; the composition root shows it at
``GET /api/v1/sources`` and in ``alphawire sources``. Its failures are values of the
``SourceError`` tree, so the polling base class (and the supervisor) know what to do:

- ``RateLimited(retry_after)``: the vendor said 429; wait that long (or back off), state
  ``degraded``;
- ``SourceUnavailable(reason)``: 401/403/404, or a vendor that has gone away; state
  ``unavailable`` with the reason, retried rarely (the vendor may come back);
- ``BadPayload(reason)``: a truncated file, an HTML error page instead of CSV, a trailer
  that disagrees with the rows: nothing from that response is emitted, state ``degraded``.

Any other exception is a bug or a transport error: logged, counted, retried with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from alphawire.clock import Clock
from alphawire.sources.records import Record

SourceState = Literal["starting", "ok", "degraded", "unavailable", "disabled"]


class SourceError(Exception):
    """Base of the errors a source raises to say what went wrong with the vendor."""


class RateLimited(SourceError):
    """The vendor refused for now (HTTP 429); ``retry_after`` seconds if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnavailable(SourceError):
    """The vendor refuses us or the resource is gone (401/403/404): not retried soon."""


class BadPayload(SourceError):
    """A response that is not the documented format (truncated, HTML, wrong header)."""


@dataclass(slots=True)
class SourceStatus:
    """A source's state as users see it; errors are redacted by the source before they land
    here (no key, token or signed URL ever appears)."""

    state: SourceState = "starting"
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_attempt: datetime | None = None
    items: int = 0  # records emitted since start
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_success": _iso(self.last_success),
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "next_attempt": _iso(self.next_attempt),
            "items": self.items,
            "detail": self.detail,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


class MarketCalendar(Protocol):
    """The exchange calendar sources, agents and alert routing share (NYSE by default)."""

    def is_open(self, ts: datetime) -> bool:
        """True while the regular session is open at ``ts`` (half days close early)."""

    def next_open(self, ts: datetime) -> datetime:
        """The next regular session's open strictly after ``ts`` (UTC)."""

    def previous_close(self, ts: datetime) -> datetime:
        """The most recent regular session's close at or before ``ts`` (UTC)."""


class SourceContext(Protocol):
    """What the core gives a running source."""

    @property
    def watchlist(self) -> tuple[str, ...]:
        """The configured symbols (upper case), in the configured order."""

    @property
    def clock(self) -> Clock:
        """Time as the source should see it (wall time live; simulated or replayed time)."""

    @property
    def calendar(self) -> MarketCalendar:
        """The exchange calendar."""

    async def emit(self, records: Sequence[Record]) -> None:
        """Hand records to the core, in order. Waits (never drops) while the core's bounded
        intake is full, so a fast source is slowed to what the hub can take."""


@runtime_checkable
class Source(Protocol):
    """A market-data source: one supervised task that emits records."""

    name: str  # unique, lower case, e.g. "sim", "cboe", "finra_short_volume"
    produces: frozenset[str]  # record kinds it may emit (alphawire.sources.records)

    async def run(self, ctx: SourceContext) -> None:
        """Emit records until cancelled. Raise ``SourceError`` (or anything) to report a
        failure; the supervisor restarts the task with capped backoff."""

    def status(self) -> SourceStatus:
        """The current state, last success, last error (redacted), next attempt, items."""
