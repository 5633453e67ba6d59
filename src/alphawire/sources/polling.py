"""``PollingSource``: ``Source.run`` written once for every source that asks a vendor on a
schedule; a vendor module only writes ``poll`` (fetch and parse one round).

The loop, per round:

1. **Calendar gate.** ``gate = "always"`` polls every ``interval``. ``"intraday"`` polls only
   while a regular session is open, plus the vendor's ``delay`` after the close (CBOE's
   15-minute delayed quotes still change until 16:15); otherwise it sleeps to the next open.
   ``"end_of_day"`` polls once per session, after the vendor's ``posting_time`` (New York
   time) on that session's date, and never again for a file it has read.
2. **Poll**, and emit what it returns.
3. **Errors become status, never a crash.** ``RateLimited``: state ``degraded``, wait the
   vendor's ``Retry-After`` (capped at ``RETRY_AFTER_CAP``) or back off. ``SourceUnavailable``
   (401/403/404): state ``unavailable`` with the reason, retried after ``unavailable_retry``.
   ``BadPayload``: nothing emitted, ``degraded``, back off. Anything else (timeouts, transport
   errors, a bug in a parser): logged, ``degraded``, back off. Backoff doubles from
   ``BACKOFF_INITIAL`` to ``BACKOFF_CAP`` seconds with "equal jitter" (a uniform draw from the
   upper half), so many sources failing together do not retry in lockstep.

Every wait is on the context's clock (``ctx.clock``), so a test or a replay drives it with a
``VirtualClock``. Error text goes through ``redact`` with the source's secrets before it
reaches ``status()``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, Literal, TypeVar

import httpx

from alphawire.calendar import NEW_YORK
from alphawire.sources.base import (
    BadPayload,
    MarketCalendar,
    RateLimited,
    SourceContext,
    SourceStatus,
    SourceUnavailable,
)
from alphawire.sources.http import HttpFetcher, redact
from alphawire.sources.options import HttpOptions
from alphawire.sources.records import Record

log = logging.getLogger("alphawire.sources")

Gate = Literal["always", "intraday", "end_of_day"]
BACKOFF_INITIAL = 5.0
BACKOFF_CAP = 900.0
RETRY_AFTER_CAP = 3600.0
MAX_SLEEP = 3600.0  # long waits are cut so a changed clock or calendar is noticed

HttpOptionsT = TypeVar("HttpOptionsT", bound=HttpOptions)


class PollingSource(ABC):
    """A ``Source`` that polls a vendor; subclasses set ``name``/``produces`` and write ``poll``."""

    name: str
    produces: frozenset[str]
    gate: Gate = "always"
    delay: timedelta = timedelta(0)  # the vendor's publication delay (intraday gate)
    posting_time: time = time(18, 0)  # New York time an end-of-day file is posted by
    unavailable_retry: float = 3600.0
    uses_http = True  # False for SDK sources: no httpx client is opened for them

    def __init__(
        self,
        *,
        interval: float,
        timeout: float = 20.0,
        user_agent: str = "alphawire",
        client: httpx.AsyncClient | None = None,
        secrets: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"{self.name}: interval must be positive, not {interval!r}")
        self.interval = interval
        self.timeout = timeout
        self.user_agent = user_agent
        self.secrets = tuple(s for s in secrets if s)
        self.read_through: date | None = None  # end_of_day: the last session whose file was read
        self._client = client
        self._rng = rng or random.Random()
        self._failures = 0
        self._status = SourceStatus(detail={"interval_s": interval, "gate": self.gate})
        self._http: HttpFetcher | None = None
        self._problems: list[Exception] = []

    # -- what a vendor module writes -------------------------------------------------------

    @abstractmethod
    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """Fetch and parse one round; raise a ``SourceError`` to say what went wrong."""

    @property
    def http(self) -> HttpFetcher:
        """The fetcher of the running source (set up by ``run``)."""
        if self._http is None:
            raise RuntimeError(f"{self.name}: http is only available while the source runs")
        return self._http

    # -- the Source protocol ---------------------------------------------------------------

    def status(self) -> SourceStatus:
        """The current state, last success, last error (redacted), next attempt and items."""
        return self._status

    async def run(self, ctx: SourceContext) -> None:
        """Poll on schedule until cancelled; vendor failures only change ``status()``."""
        async with self._client_scope() as client:
            if client is not None:
                self._http = HttpFetcher(client, source=self.name, secrets=self.secrets)
            while True:
                now = ctx.clock.now()
                due = self.next_due(ctx.calendar, now)
                if due > now:
                    self._status.next_attempt = due
                    self._status.detail["waiting_for"] = self._waiting_reason()
                    await ctx.clock.sleep(min((due - now).total_seconds(), MAX_SLEEP))
                    continue
                self._status.detail.pop("waiting_for", None)
                wait = await self._attempt(ctx, now)
                resume = now + timedelta(seconds=wait)
                # What users see is when a request will really go out (gate included).
                self._status.next_attempt = max(resume, self.next_due(ctx.calendar, resume))
                await ctx.clock.sleep(wait)

    # -- scheduling ------------------------------------------------------------------------

    def next_due(self, calendar: MarketCalendar, now: datetime) -> datetime:
        """When the next poll may run: ``now`` if it may run now (see the module docstring)."""
        if self.gate == "intraday":
            if calendar.is_open(now) or (self.delay and calendar.is_open(now - self.delay)):
                return now
            return calendar.next_open(now)
        if self.gate == "end_of_day":
            wanted = self.posted_session(calendar, now)
            if self.read_through is None or wanted > self.read_through:
                return now
            return self.posting_at(_next_session_day(calendar, self.read_through))
        return now

    def posted_session(self, calendar: MarketCalendar, now: datetime) -> date:
        """The latest session whose end-of-day file is posted by ``now``."""
        day = calendar.previous_close(now).astimezone(NEW_YORK).date()
        while self.posting_at(day) > now:
            day = calendar.previous_close(self.posting_at(day) - timedelta(days=1))
            day = day.astimezone(NEW_YORK).date()
        return day

    def posting_at(self, day: date) -> datetime:
        """When the file for session ``day`` is posted (``posting_time`` New York time)."""
        return datetime.combine(day, self.posting_time, NEW_YORK)

    def _waiting_reason(self) -> str:
        if self.gate == "intraday":
            return "the market to open"
        if self.gate == "end_of_day":
            return "the next end-of-day file"
        return "the next poll"

    # -- one round -------------------------------------------------------------------------

    def note_problem(self, exc: Exception) -> None:
        """Record a failure of one item of a round whose other items are still emitted.

        A ``RateLimited`` noted here (the vendor refused the round's later requests) makes
        the round wait as a 429 would, after what was already read has been emitted.
        """
        self._problems.append(exc)

    async def _attempt(self, ctx: SourceContext, now: datetime) -> float:
        """Poll once, emit, update the status; return how long to wait before the next round."""
        self._problems.clear()
        try:
            records = await self.poll(ctx)
        except asyncio.CancelledError:
            raise
        except RateLimited as exc:
            self._failed("degraded", exc, now)
            return self._rate_limited_wait(exc)
        except SourceUnavailable as exc:
            self._failed("unavailable", exc, now)
            return self.unavailable_retry
        except BadPayload as exc:
            if self._http is not None:  # the next fetch must not be a 304 for a body not used
                self._http.forget()
            self._failed("degraded", exc, now)
            return self._backoff()
        except Exception as exc:
            log.warning("source %s: %s", self.name, redact(repr(exc), self.secrets))
            self._failed("degraded", exc, now)
            return self._backoff()
        if records:
            await ctx.emit(records)
        self._failures = 0
        self._status.state = "ok"
        self._status.last_success = now
        self._status.items += len(records)
        self._status.detail["last_round_items"] = len(records)
        problems, self._problems = self._problems, []
        if problems:
            # Part of the round failed (one symbol's 404, one bad file): the rest was emitted.
            self._status.state = "degraded"
            text = "; ".join(str(p) or type(p).__name__ for p in problems[:5])
            self._status.last_error = redact(text, self.secrets)
            self._status.last_error_at = now
            limited = [p for p in problems if isinstance(p, RateLimited)]
            if limited:
                self._failures += 1
                return self._rate_limited_wait(limited[0])
        return self.interval

    def _rate_limited_wait(self, exc: RateLimited) -> float:
        if exc.retry_after is None:
            return self._backoff()
        # Honour the vendor's wait, plus up to 10 % so clients told alike spread out.
        wait = min(exc.retry_after, RETRY_AFTER_CAP)
        return wait + self._rng.uniform(0.0, 0.1 * wait)

    def _failed(
        self, state: Literal["degraded", "unavailable"], exc: Exception, now: datetime
    ) -> None:
        self._failures += 1
        text = str(exc) or type(exc).__name__
        if not text.startswith(f"{self.name}:"):
            text = f"{self.name}: {type(exc).__name__}: {text}"
        self._status.state = state
        self._status.last_error = redact(text, self.secrets)
        self._status.last_error_at = now
        self._status.detail["failures"] = self._failures

    def _backoff(self) -> float:
        ceiling = min(BACKOFF_CAP, BACKOFF_INITIAL * 2 ** (self._failures - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    @asynccontextmanager
    async def _client_scope(self) -> AsyncIterator[httpx.AsyncClient | None]:
        if not self.uses_http or self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            headers={"User-Agent": self.user_agent},
            follow_redirects=True,
        ) as client:
            yield client


def _next_session_day(calendar: MarketCalendar, day: date) -> date:
    """The session after New York date ``day`` (found through the protocol's next_open)."""
    after = datetime.combine(day, time(23, 59), NEW_YORK)
    return calendar.next_open(after).astimezone(NEW_YORK).date()


class HttpPollingSource(PollingSource, Generic[HttpOptionsT]):
    """A ``PollingSource`` set up from its ``[sources.NAME]`` table: ``interval``, ``timeout``
    and ``user_agent`` come from the ``HttpOptions``, which the source keeps as ``options``."""

    def __init__(self, options: HttpOptionsT, **kwargs: Any) -> None:
        super().__init__(
            interval=options.interval,
            timeout=options.timeout,
            user_agent=options.user_agent,
            **kwargs,
        )
        self.options = options


__all__ = [
    "BACKOFF_CAP",
    "BACKOFF_INITIAL",
    "RETRY_AFTER_CAP",
    "Gate",
    "HttpPollingSource",
    "PollingSource",
]
