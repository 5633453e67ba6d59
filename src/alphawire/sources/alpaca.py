"""Alpaca's real-time stream through ``alpaca-py`` (the ``alpaca`` extra): IEX quotes and
trades with a free key.

The free plan streams the IEX exchange only (``DataFeed.IEX``): real time, but one venue's
book and prints, not the consolidated tape. So ``Quote.bid``/``ask`` are IEX's, and
``Quote.volume`` counts the IEX shares seen by this process since the New York day began
(it restarts at zero with the process): not the market's session volume. ``Trade.venue`` is
the SDK's exchange code (``"V"`` for IEX) and never ``off_exchange``.

The key comes from the environment (``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``, Alpaca's
own names; the variable names are options, the secrets never are). The SDK's
``StockDataStream`` connects, authenticates, reconnects with its own backoff and calls our
handlers with ``alpaca.data.models.Quote`` / ``Trade``; it reports failures (a bad key:
``auth failed``; a second connection: ``connection limit exceeded``) only through its
logger, so that logger's errors are read into this source's status.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import Field

from alphawire.calendar import NEW_YORK
from alphawire.sources.base import SourceContext, SourceStatus
from alphawire.sources.http import redact
from alphawire.sources.options import Duration, SourceOptions, Symbol
from alphawire.sources.records import Quote, Trade

INSTALL_HINT = "alpaca-py is not installed: pip install 'alphawire[alpaca]'"
SDK_LOGGER = "alpaca.data.live.websocket"


class AlpacaOptions(SourceOptions):
    """``[sources.alpaca]``: IEX quotes and trades for ``symbols`` (default: the watchlist)."""

    symbols: list[Symbol] | None = None
    quotes: bool = True
    trades: bool = True
    api_key_env: str = "APCA_API_KEY_ID"
    secret_key_env: str = "APCA_API_SECRET_KEY"
    url: str | None = Field(default=None, description="stream URL override (tests, proxies)")
    retry: Duration = Field(default=3600.0, ge=60.0, description="wait after a fatal refusal")


@dataclass
class _Book:
    last: float = 0.0
    last_size: int = 0
    volume: float = 0.0
    day: date | None = None


class AlpacaSource:
    """Real-time IEX quotes and trades from Alpaca's stream (free key, from the environment)."""

    name = "alpaca"
    produces = frozenset({"quote", "trade"})

    def __init__(
        self,
        options: AlpacaOptions,
        stream: Callable[..., Any] | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.options = options
        self.key = env.get(options.api_key_env, "")
        self.secret = env.get(options.secret_key_env, "")
        self._factory = stream  # StockDataStream unless a test hands in its stand-in
        self._status = SourceStatus()
        self._books: dict[str, _Book] = {}
        self._ctx: SourceContext | None = None

    def status(self) -> SourceStatus:
        """State, last message time, last error (redacted), messages turned into records."""
        return self._status

    async def run(self, ctx: SourceContext) -> None:
        """Stream until cancelled; a missing key or SDK leaves the source unavailable."""
        self._ctx = ctx
        while True:
            problem = self._missing()
            if problem is None:
                problem = await self._stream(ctx)
            now = ctx.clock.now()
            self._fail("unavailable", problem, now)
            self._status.next_attempt = now + timedelta(seconds=self.options.retry)
            await ctx.clock.sleep(self.options.retry)

    def _missing(self) -> str | None:
        wanted = ((self.options.api_key_env, self.key), (self.options.secret_key_env, self.secret))
        unset = [name for name, value in wanted if not value]
        if unset:
            return f"{' and '.join(unset)} not set (a free key: https://alpaca.markets)"
        if self._factory is None:
            try:
                with warnings.catch_warnings():
                    # alpaca-py imports websockets.legacy (deprecated by websockets 14): the
                    # SDK's to fix, and noise for our users.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    live = importlib.import_module("alpaca.data.live")
                    enums = importlib.import_module("alpaca.data.enums")
            except ImportError:
                return INSTALL_HINT
            feed = enums.DataFeed.IEX
            self._factory = lambda key, secret, url: live.StockDataStream(
                key, secret, feed=feed, url_override=url
            )
        return None

    async def _stream(self, ctx: SourceContext) -> str:
        """Run the SDK's stream; returns why it ended (it only ends on a fatal refusal)."""
        assert self._factory is not None
        stream = self._factory(self.key, self.secret, self.options.url)
        symbols = list(self.options.symbols or ctx.watchlist)
        if self.options.quotes:
            stream.subscribe_quotes(self._on_quote, *symbols)
        if self.options.trades:
            stream.subscribe_trades(self._on_trade, *symbols)
        watcher = _SdkErrors(self, ctx, stream)
        logger = logging.getLogger(SDK_LOGGER)
        logger.addHandler(watcher)
        self._status.detail["symbols"] = symbols
        try:
            # The SDK's coroutine: ``run()`` would start an event loop of its own.
            await stream._run_forever()
        finally:
            logger.removeHandler(watcher)
            await stream.stop_ws()
            await stream.close()
        return watcher.last or "the stream ended (insufficient subscription?)"

    async def _on_quote(self, q: Any) -> None:
        ctx = self._ctx
        assert ctx is not None
        book = self._book(q.symbol, q.timestamp)
        bid, ask = float(q.bid_price), float(q.ask_price)
        record = Quote(
            source=self.name,
            symbol=str(q.symbol),
            ts=q.timestamp.astimezone(UTC),
            bid=bid,
            ask=ask,
            bid_size=int(q.bid_size),
            ask_size=int(q.ask_size),
            last=book.last or (bid + ask) / 2,
            last_size=book.last_size,
            volume=int(book.volume),
        )
        await self._emit(ctx, record)

    async def _on_trade(self, t: Any) -> None:
        ctx = self._ctx
        assert ctx is not None
        book = self._book(t.symbol, t.timestamp)
        book.last, book.last_size = float(t.price), int(t.size)
        book.volume += float(t.size)
        record = Trade(
            source=self.name,
            symbol=str(t.symbol),
            ts=t.timestamp.astimezone(UTC),
            price=float(t.price),
            size=float(t.size),
            venue=str(getattr(t.exchange, "value", t.exchange) or "V"),
        )
        await self._emit(ctx, record)

    def _book(self, symbol: str, ts: datetime) -> _Book:
        book = self._books.setdefault(symbol, _Book())
        day = ts.astimezone(NEW_YORK).date()
        if book.day != day:  # a new New York day: IEX volume starts again
            book.day, book.volume = day, 0.0
        return book

    async def _emit(self, ctx: SourceContext, record: Quote | Trade) -> None:
        await ctx.emit([record])
        self._status.state = "ok"
        self._status.items += 1
        self._status.last_success = ctx.clock.now()

    def _fail(self, state: Any, message: str, now: datetime) -> None:
        self._status.state = state
        self._status.last_error = redact(f"{self.name}: {message}", (self.key, self.secret))
        self._status.last_error_at = now


# SDK error texts that retrying cannot fix: the stream is stopped and retried after ``retry``
# (the SDK itself would reconnect every few seconds forever with a refused key).
FATAL = ("auth failed", "failed to authenticate", "connection limit", "insufficient subscription")


class _SdkErrors(logging.Handler):
    """Reads the SDK's error log lines (its only failure report) into the source's status."""

    def __init__(self, source: AlpacaSource, ctx: SourceContext, stream: Any) -> None:
        super().__init__(logging.WARNING)
        self.source = source
        self.ctx = ctx
        self.stream = stream
        self.last: str | None = None
        self._stopping: asyncio.Task[None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage().split("\n", 1)[0]
        if any(text in self.last.lower() for text in FATAL):
            self.source._fail("unavailable", self.last, self.ctx.clock.now())
            if self._stopping is None:
                self._stopping = asyncio.ensure_future(self.stream.stop_ws())
        else:
            self.source._fail("degraded", self.last, self.ctx.clock.now())


__all__ = ["AlpacaOptions", "AlpacaSource"]
