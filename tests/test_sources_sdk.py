"""The SDK-based sources (yfinance, PRAW, alpaca-py) at the SDK boundary (tests/fake_sdks.py)."""

from __future__ import annotations

import asyncio
import math
import random
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
import yfinance.exceptions
from prawcore.exceptions import Forbidden, TooManyRequests
from tests.fake_sdks import (
    FakeReddit,
    FakeStream,
    FakeTicker,
    chain_frame,
    http_response,
    submission,
)
from tests.fake_vendors import RecordingContext, run_until_sleeping, stop

from alphawire.sources.alpaca import AlpacaOptions, AlpacaSource
from alphawire.sources.records import OptionChain, Quote, SocialPost, Trade
from alphawire.sources.reddit import RedditOptions, RedditSource
from alphawire.sources.yahoo import YahooOptions, YahooSource

pytestmark = pytest.mark.anyio
OPEN = datetime(2025, 12, 1, 15, 50, tzinfo=UTC)
ENV = {
    "APCA_API_KEY_ID": "PKTESTKEY1234",
    "APCA_API_SECRET_KEY": "s3cr3t-alpaca-secret",
    "REDDIT_CLIENT_ID": "client-id-123",
    "REDDIT_CLIENT_SECRET": "reddit-secret-xyz",
}


@pytest.fixture(autouse=True)
def fresh_fakes() -> None:
    FakeTicker.registry = {
        "AAPL": {
            "info": {
                "regularMarketPrice": 283.1,
                "bid": 283.05,
                "ask": 283.12,
                "bidSize": 3,
                "askSize": 4,
                "regularMarketVolume": 31234567,
                "regularMarketOpen": 279.9,
                "regularMarketDayHigh": 284.0,
                "regularMarketDayLow": 279.5,
                "regularMarketPreviousClose": 278.85,
            },
            "chains": {
                "2025-12-05": (
                    chain_frame(
                        [("AAPL251205C00285000", 285.0, 2.1, 2.05, 2.15, 1520.0, 8012.0, 0.2411)]
                    ),
                    chain_frame(
                        [
                            (
                                "AAPL251205P00280000",
                                280.0,
                                1.4,
                                1.38,
                                1.45,
                                float("nan"),
                                float("nan"),
                                0.2633,
                            )
                        ]
                    ),
                ),
                "2025-12-12": (
                    chain_frame(
                        [("AAPL251212C00290000", 290.0, 1.9, 1.85, 1.95, 300.0, 4100.0, 0.2302)]
                    ),
                    chain_frame([]),
                ),
                "2026-01-16": (
                    chain_frame(
                        [("AAPL260116C00300000", 300.0, 2.2, 2.1, 2.3, 10.0, 9000.0, 0.25)]
                    ),
                    chain_frame([]),
                ),
            },
        }
    }
    FakeTicker.raise_on_info = None
    FakeReddit.posts, FakeReddit.error, FakeReddit.made = [], None, []


def yahoo(**options: object) -> YahooSource:
    return YahooSource(YahooOptions(**options), ticker=FakeTicker, rng=random.Random(2))  # type: ignore[arg-type]


async def test_yahoo_quote_and_chain_from_info_and_dataframes() -> None:
    """info becomes a Quote; the two nearest expiries' DataFrames one chain, NaN read as 0/None."""
    source = yahoo(symbols=["AAPL"], chains=True, expiries=2)
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    quote, chain = ctx.records
    assert isinstance(quote, Quote) and isinstance(chain, OptionChain)
    assert (quote.bid, quote.ask, quote.last, quote.volume) == (283.05, 283.12, 283.1, 31234567)
    assert (quote.open, quote.high, quote.low, quote.prev_close) == (279.9, 284.0, 279.5, 278.85)
    assert chain.spot == 283.1
    assert [c.occ for c in chain.contracts] == [
        "AAPL251205C00285000",
        "AAPL251205P00280000",
        "AAPL251212C00290000",
    ]
    put = chain.contracts[1]
    assert (put.expiry, put.strike, put.option_kind) == (date(2025, 12, 5), 280.0, "put")
    assert (put.volume, put.open_interest, put.iv, put.delta) == (0.0, 0.0, 0.2633, None)
    assert source.status().state == "ok"


async def test_yahoo_rate_limit_is_degraded_with_backoff() -> None:
    """yfinance's YFRateLimitError degrades the source and backs off (2.5-5 s the first time)."""
    FakeTicker.raise_on_info = yfinance.exceptions.YFRateLimitError()
    source = yahoo(symbols=["AAPL"])
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "degraded" and "rate limit" in (status.last_error or "").lower()
    assert status.next_attempt is not None
    assert 2.5 <= (status.next_attempt - OPEN).total_seconds() <= 5.0


async def test_yahoo_unknown_symbol_is_reported_others_come() -> None:
    """A symbol Yahoo does not know (near-empty info) is a problem; AAPL is still emitted."""
    source = yahoo(symbols=["NOPEX", "AAPL"])
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["AAPL"]
    status = source.status()
    assert status.state == "degraded" and "NOPEX" in (status.last_error or "")


async def test_yahoo_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without yfinance installed the source is unavailable and names the extra to install."""
    monkeypatch.setitem(sys.modules, "yfinance", None)
    source = YahooSource(YahooOptions(symbols=["AAPL"]), rng=random.Random(2))
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert source.status().state == "unavailable"
    assert "pip install 'alphawire[yahoo]'" in (source.status().last_error or "")


def reddit(environ: dict[str, str] | None = None, **options: object) -> RedditSource:
    return RedditSource(
        RedditOptions(**options),
        reddit=FakeReddit,
        environ=ENV if environ is None else environ,
        rng=random.Random(2),
    )  # type: ignore[arg-type]


async def test_reddit_new_posts_oldest_first_never_twice() -> None:
    """Posts come oldest first with author, community and score; a later round skips seen ids."""
    FakeReddit.posts = [
        submission(1, 1),
        submission(2, 5, author=None),
        submission(3, 3, sub="stocks"),
    ]
    source = reddit(subreddits=["wallstreetbets", "stocks"], limit=50)
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    assert [r.id for r in ctx.records] == ["t3_0001", "t3_0003", "t3_0002"]
    first = ctx.records[0]
    assert isinstance(first, SocialPost)
    assert (first.community, first.author, first.title, first.score) == (
        "wallstreetbets",
        "ape1",
        "$GME post 1",
        10,
    )
    assert first.ts == datetime(2025, 12, 1, 15, 1, tzinfo=UTC)
    assert ctx.records[2].author == "[deleted]"
    FakeReddit.posts.append(submission(4, 9))
    await ctx.step(60)
    await stop(task)
    assert [r.id for r in ctx.records[3:]] == ["t3_0004"]
    (made,) = FakeReddit.made
    assert made["client_id"] == "client-id-123" and made["client_secret"] == "reddit-secret-xyz"
    assert made["user_agent"].startswith("alphawire") and made["check_for_async"] is False


async def test_reddit_without_credentials_is_unavailable() -> None:
    """No REDDIT_CLIENT_ID/SECRET: unavailable naming both variables; PRAW never called."""
    source = reddit(environ={})
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "unavailable"
    assert "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET not set" in (status.last_error or "")
    assert FakeReddit.made == []


async def test_reddit_403_is_unavailable_and_redacted() -> None:
    """prawcore's Forbidden makes the source unavailable; the client secret never shows."""
    FakeReddit.error = Forbidden(
        http_response(403, url="https://oauth.reddit.com/r/x?secret=reddit-secret-xyz")
    )
    source = reddit()
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "unavailable" and "Forbidden" in (status.last_error or "")
    assert "reddit-secret-xyz" not in str(status.as_json())


async def test_reddit_429_honours_retry_after() -> None:
    """prawcore's TooManyRequests with retry-after: 7 waits 7 s (+≤10 %)."""
    FakeReddit.error = TooManyRequests(http_response(429, {"retry-after": "7"}))
    source = reddit()
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "degraded" and status.next_attempt is not None
    assert 7.0 <= (status.next_attempt - OPEN).total_seconds() <= 7.7


def alpaca_source(
    script: list[tuple[object, ...]], environ: dict[str, str] | None = None
) -> tuple[AlpacaSource, list[FakeStream]]:
    made: list[FakeStream] = []

    def factory(key: str, secret: str, url: str | None) -> FakeStream:
        made.append(FakeStream(key, secret, url, script=list(script)))
        return made[-1]

    source = AlpacaSource(
        AlpacaOptions(symbols=["AAPL"]), stream=factory, environ=ENV if environ is None else environ
    )
    return source, made


async def test_alpaca_quotes_and_trades_become_records() -> None:
    """IEX quotes and trades arrive as records; a quote carries the last trade and IEX volume."""
    t = "2025-12-01T15:50:00.123456Z"
    source, made = alpaca_source(
        [
            (
                "q",
                "AAPL",
                {
                    "t": t,
                    "bx": "V",
                    "bp": 283.05,
                    "bs": 3,
                    "ax": "V",
                    "ap": 283.12,
                    "as": 4,
                    "c": ["R"],
                    "z": "C",
                },
            ),
            (
                "t",
                "AAPL",
                {"t": t, "x": "V", "p": 283.1, "s": 100, "i": 52983525029461, "c": ["@"], "z": "C"},
            ),
            (
                "t",
                "AAPL",
                {
                    "t": t,
                    "x": "V",
                    "p": 283.11,
                    "s": 25,
                    "i": 52983525029462,
                    "c": ["@", "I"],
                    "z": "C",
                },
            ),
            (
                "q",
                "AAPL",
                {
                    "t": t,
                    "bx": "V",
                    "bp": 283.06,
                    "bs": 2,
                    "ax": "V",
                    "ap": 283.12,
                    "as": 1,
                    "c": ["R"],
                    "z": "C",
                },
            ),
        ]
    )
    ctx = RecordingContext(OPEN)
    task = asyncio.create_task(source.run(ctx))
    await ctx.wait_for(lambda: len(ctx.records) == 4)
    kinds = [type(r).__name__ for r in ctx.records]
    assert kinds == ["Quote", "Trade", "Trade", "Quote"]
    first, trade, _, last = ctx.records
    assert isinstance(first, Quote) and isinstance(trade, Trade) and isinstance(last, Quote)
    assert math.isclose(first.last, (283.05 + 283.12) / 2)  # no trade yet: the mid
    assert (trade.price, trade.size, trade.venue, trade.off_exchange) == (283.1, 100.0, "V", False)
    assert trade.ts == datetime(2025, 12, 1, 15, 50, 0, 123456, tzinfo=UTC)
    assert (last.last, last.last_size, last.volume, last.bid_size) == (283.11, 25, 125, 2)
    assert source.status().state == "ok" and source.status().items == 4
    assert made[0].symbols == ["AAPL"] and made[0].key == "PKTESTKEY1234"
    await stop(task)
    assert made[0].stopped.is_set() and made[0].closed


async def test_alpaca_refused_key_is_unavailable_and_stops_retrying() -> None:
    """The SDK's 'auth failed' log line makes the source unavailable and stops the stream."""
    source, made = alpaca_source([("log", "error during websocket communication: auth failed")])
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "unavailable" and "auth failed" in (status.last_error or "")
    assert status.next_attempt == OPEN + timedelta(hours=1)
    assert made[0].stopped.is_set()
    assert "s3cr3t-alpaca-secret" not in str(status.as_json())


async def test_alpaca_without_a_key_is_unavailable() -> None:
    """No key in the environment: unavailable, naming the variables; no stream is made."""
    source, made = alpaca_source([], environ={})
    ctx = RecordingContext(OPEN)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert source.status().state == "unavailable"
    assert "APCA_API_KEY_ID and APCA_API_SECRET_KEY not set" in (source.status().last_error or "")
    assert made == []
