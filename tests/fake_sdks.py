"""Stand-ins for the vendor SDKs at their boundary: yfinance's ``Ticker``, PRAW's ``Reddit``
and alpaca-py's ``StockDataStream``.

Each reproduces the documented return shapes (yfinance's ``info`` dict and option-chain
DataFrames; PRAW submissions; alpaca-py's own ``Quote``/``Trade`` models, built here from the
stream's documented message keys) and raises or logs the SDK's own errors (yfinance's
``YFRateLimitError``, prawcore's ``Forbidden``/``TooManyRequests`` built on a
``requests.Response``, alpaca-py's ``auth failed`` log line), so the sources meet what the
real SDKs do. The SDKs are installed in the test environment (Makefile ``install``).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import namedtuple
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import requests

with warnings.catch_warnings():
    # alpaca-py imports websockets.legacy, which websockets >= 14 marks deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.data.models import Quote as AlpacaQuote
    from alpaca.data.models import Trade as AlpacaTrade

OptionChainTuple = namedtuple("OptionChainTuple", ["calls", "puts", "underlying"])

COLUMNS = [
    "contractSymbol",
    "lastTradeDate",
    "strike",
    "lastPrice",
    "bid",
    "ask",
    "change",
    "percentChange",
    "volume",
    "openInterest",
    "impliedVolatility",
    "inTheMoney",
    "contractSize",
    "currency",
]


def chain_frame(
    rows: list[tuple[str, float, float, float, float, float, float, float]],
) -> pd.DataFrame:
    """A yfinance calls/puts DataFrame: (symbol, strike, last, bid, ask, volume, OI, iv) rows."""
    stamp = pd.Timestamp("2025-12-01 15:40:00", tz="UTC")
    return pd.DataFrame(
        [
            [sym, stamp, strike, last, bid, ask, 0.0, 0.0, vol, oi, iv, False, "REGULAR", "USD"]
            for sym, strike, last, bid, ask, vol, oi, iv in rows
        ],
        columns=COLUMNS,
    )


class FakeTicker:
    """``yfinance.Ticker``: ``info``, ``options`` and ``option_chain(expiry)``."""

    registry: dict[str, dict[str, Any]] = {}  # noqa: RUF012 - filled per test
    raise_on_info: Exception | None = None

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._data = self.registry.get(symbol, {})

    @property
    def info(self) -> dict[str, Any]:
        if FakeTicker.raise_on_info is not None:
            raise FakeTicker.raise_on_info
        # yfinance answers an unknown symbol with a near-empty dict, not an error.
        return dict(self._data.get("info", {"trailingPegRatio": None}))

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(self._data.get("chains", {}))

    def option_chain(self, date: str) -> OptionChainTuple:
        calls, puts = self._data["chains"][date]
        return OptionChainTuple(
            calls, puts, {"regularMarketPrice": self._data["info"]["regularMarketPrice"]}
        )


def http_response(
    status: int,
    headers: dict[str, str] | None = None,
    url: str = "https://oauth.reddit.com/r/x/new",
) -> requests.Response:
    """A ``requests.Response`` as prawcore's exceptions receive it."""
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response.url = url
    response.reason = {403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}.get(status, "")
    return response


@dataclass
class FakeSubmission:
    """A PRAW ``Submission``'s fields the source reads."""

    id: str
    title: str
    selftext: str
    created_utc: float
    score: int
    author: Any
    subreddit: Any


@dataclass
class FakeRedditor:
    name: str


@dataclass
class FakeSubredditName:
    display_name: str


class FakeReddit:
    """``praw.Reddit``: records its keyword arguments; ``subreddit(...).new(limit=...)``."""

    posts: list[FakeSubmission] = []  # noqa: RUF012
    error: Exception | None = None
    made: list[dict[str, Any]] = []  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        FakeReddit.made.append(kwargs)
        self.read_only = False
        self.asked: list[tuple[str, int]] = []

    def subreddit(self, names: str) -> Any:
        reddit = self

        class _Sub:
            def new(self, limit: int) -> Any:
                reddit.asked.append((names, limit))
                if FakeReddit.error is not None:
                    raise FakeReddit.error
                return iter(sorted(FakeReddit.posts, key=lambda p: -p.created_utc)[:limit])

        return _Sub()


def submission(
    i: int, minute: int, author: str | None = "ape1", sub: str = "wallstreetbets"
) -> FakeSubmission:
    """Post ``i`` made at 15:``minute`` UTC on 1 Dec 2025."""
    return FakeSubmission(
        id=f"t3_{i:04d}",
        title=f"$GME post {i}",
        selftext=f"GME to the moon {i}",
        created_utc=datetime(2025, 12, 1, 15, minute, tzinfo=UTC).timestamp(),
        score=10 * i,
        author=FakeRedditor(author) if author else None,
        subreddit=FakeSubredditName(sub),
    )


@dataclass
class FakeStream:
    """alpaca-py's ``StockDataStream`` as the source uses it, driven by a script.

    ``script`` items: ``("q", symbol, raw)`` / ``("t", symbol, raw)`` with the stream's own
    message keys (``bp``, ``bs``, ``ap``, ``as``, ``t``... / ``p``, ``s``, ``x``, ``i``...) turned
    into alpaca-py's models, or ``("log", message)``: an error line on the SDK's logger, as
    the SDK writes when the server refuses the key.
    """

    key: str
    secret: str
    url: str | None
    script: list[tuple[Any, ...]] = field(default_factory=list)
    quote_handler: Callable[[Any], Awaitable[None]] | None = None
    trade_handler: Callable[[Any], Awaitable[None]] | None = None
    symbols: list[str] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def subscribe_quotes(self, handler: Callable[[Any], Awaitable[None]], *symbols: str) -> None:
        self.quote_handler = handler
        self.symbols.extend(symbols)

    def subscribe_trades(self, handler: Callable[[Any], Awaitable[None]], *symbols: str) -> None:
        self.trade_handler = handler

    async def _run_forever(self) -> None:
        for item in self.script:
            if item[0] == "q" and self.quote_handler is not None:
                await self.quote_handler(AlpacaQuote(item[1], item[2]))
            elif item[0] == "t" and self.trade_handler is not None:
                await self.trade_handler(AlpacaTrade(item[1], item[2]))
            elif item[0] == "log":
                logging.getLogger("alpaca.data.live.websocket").error(item[1])
            await asyncio.sleep(0)
        await self.stopped.wait()  # the SDK keeps the connection (or retries) until stopped

    async def stop_ws(self) -> None:
        self.stopped.set()

    async def close(self) -> None:
        self.closed = True
