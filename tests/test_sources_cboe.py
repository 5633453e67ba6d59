"""CBOE delayed-quotes chains against a local server serving hand-written fixtures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from tests.fake_vendors import FakeVendors, RecordingContext, Reply, run_until_sleeping, stop

from alphawire.sources.base import Source
from alphawire.sources.cboe import CboeOptions, CboeSource, parse_occ
from alphawire.sources.records import OptionChain

pytestmark = pytest.mark.anyio

SPY = "/api/global/delayed_quotes/options/SPY.json"
SPX = "/api/global/delayed_quotes/options/_SPX.json"
MONDAY_1050_NY = datetime(2025, 12, 1, 15, 50, tzinfo=UTC)


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors().start()
    yield fake
    fake.stop()


def make(vendors: FakeVendors, **options: object) -> CboeSource:
    opts = CboeOptions(enabled=True, base_url=vendors.url + "/api/global/delayed_quotes", **options)  # type: ignore[arg-type]
    return CboeSource(opts, rng=random.Random(7))


def test_parse_occ_reads_root_expiry_kind_and_strike() -> None:
    """OCC symbols parse exactly, padded or not, with digits in the root and half-dollar strikes."""
    assert parse_occ("SPY251219C00680000") == ("SPY", date(2025, 12, 19), "call", 680.0)
    assert parse_occ("SPX   251219P06500000") == ("SPX", date(2025, 12, 19), "put", 6500.0)
    assert parse_occ("SPXW251201P06800000") == ("SPXW", date(2025, 12, 1), "put", 6800.0)
    assert parse_occ("AAPL251219C00232500") == ("AAPL", date(2025, 12, 19), "call", 232.5)
    assert parse_occ("AMC1260116C00005000") == ("AMC1", date(2026, 1, 16), "call", 5.0)


@pytest.mark.parametrize(
    ("symbol", "problem"),
    [
        ("SPY251319C00680000", "is not a YYMMDD expiry"),
        ("SPY251219X00680000", "is not an OCC option symbol"),
        ("SPY", "is not an OCC option symbol"),
        ("TOOLONGROOT251219C00680000", "is not an OCC option symbol"),
        ("SPY2512l9C00680000", "is not an OCC option symbol"),
    ],
)
def test_parse_occ_refuses_malformed_symbols(symbol: str, problem: str) -> None:
    """A symbol that is not ROOT+YYMMDD+C/P+8 digits is refused, naming the symbol."""
    with pytest.raises(ValueError, match=problem) as info:
        parse_occ(symbol)
    assert symbol in str(info.value)


async def test_chains_with_greeks_and_open_interest(vendors: FakeVendors) -> None:
    """SPY and the _SPX index root each give one chain; values are the fixture's, iv 0 is None."""
    source = make(vendors)
    assert isinstance(source, Source)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY", "SPX"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["SPY", "SPX"]
    spy, spx = ctx.records
    assert isinstance(spy, OptionChain) and isinstance(spx, OptionChain)
    assert spy.spot == 683.39 and spx.spot == 6836.12
    assert spy.ts == datetime(2025, 12, 1, 20, 45, 2, tzinfo=UTC)  # 15:45:02 New York (EST)
    assert len(spy.contracts) == 8 and len(spx.contracts) == 4
    first = spy.contracts[0]
    assert (first.occ, first.expiry, first.strike, first.option_kind) == (
        "SPY251201C00680000",
        date(2025, 12, 1),
        680.0,
        "call",
    )
    assert (first.bid, first.ask, first.last) == (3.52, 3.56, 3.55)
    assert (first.iv, first.delta, first.gamma) == (0.1184, 0.7712, 0.0961)
    assert (first.volume, first.open_interest) == (61230.0, 8421.0)
    assert spy.contracts[2].iv is None  # CBOE's iv 0.0: not computed
    assert {c.strike for c in spx.contracts} == {6850.0, 6800.0, 6900.0, 6500.0}
    status = source.status()
    assert status.state == "ok" and status.items == 2 and status.last_success == MONDAY_1050_NY
    assert status.next_attempt == MONDAY_1050_NY + timedelta(seconds=60)


async def test_unchanged_chain_is_asked_conditionally(vendors: FakeVendors) -> None:
    """The second round sends If-None-Match; the 304 emits nothing and the state stays ok."""
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    await ctx.step(60)
    await stop(task)
    first, second = vendors.seen(SPY)
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"].startswith('"')
    assert len(ctx.records) == 1
    assert source.status().state == "ok"


async def test_429_then_success_waits_retry_after(vendors: FakeVendors) -> None:
    """A 429 with Retry-After: 2 degrades the source for 2 s (+≤10 % jitter), then it recovers."""
    vendors.script(SPY, Reply.rate_limited("2"))
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    status = source.status()
    assert status.state == "degraded" and ctx.records == []
    assert "HTTP 429" in (status.last_error or "")
    assert status.next_attempt is not None
    wait = (status.next_attempt - MONDAY_1050_NY).total_seconds()
    assert 2.0 <= wait <= 2.2
    await ctx.step(wait)
    await stop(task)
    assert source.status().state == "ok"
    assert len(ctx.records) == 1 and len(vendors.seen(SPY)) == 2


async def test_429_mid_round_keeps_what_was_read(vendors: FakeVendors) -> None:
    """A 429 on the second symbol: the first symbol's chain is still emitted, then the source
    waits the Retry-After before its next round."""
    vendors.script(SPX, Reply.rate_limited("30"))
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY", "SPX"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["SPY"]
    status = source.status()
    assert status.state == "degraded" and "HTTP 429" in (status.last_error or "")
    assert status.next_attempt is not None
    assert 30.0 <= (status.next_attempt - MONDAY_1050_NY).total_seconds() <= 33.0


async def test_403_marks_unavailable_with_reason_and_long_retry(vendors: FakeVendors) -> None:
    """A 403 (a CDN's HTML page) makes the source unavailable, says why, retries in an hour."""
    vendors.script(SPY, Reply.forbidden())
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "unavailable" and ctx.records == []
    assert "HTTP 403 Forbidden" in (status.last_error or "")
    assert status.next_attempt == MONDAY_1050_NY + timedelta(hours=1)


async def test_html_page_instead_of_json_emits_nothing_for_it(vendors: FakeVendors) -> None:
    """An HTML page served with 200 publishes nothing for that symbol; the others still come."""
    vendors.script(SPY, Reply.html_page())
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY", "SPX"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["SPX"]
    status = source.status()
    assert status.state == "degraded"
    assert "HTML page instead of JSON" in (status.last_error or "")


async def test_truncated_json_emits_nothing(vendors: FakeVendors) -> None:
    """A body cut mid-download is refused as not JSON; nothing of it is published."""
    vendors.script(SPY, Reply.truncated("cboe/SPY.json", 700))
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert ctx.records == []
    assert "not JSON (truncated?)" in (source.status().last_error or "")
    assert source.status().state == "degraded"


async def test_symbol_without_options_is_skipped(vendors: FakeVendors) -> None:
    """A symbol CBOE does not list (404) is reported and skipped; the others are emitted."""
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY", "ZZZZ"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["SPY"]
    status = source.status()
    assert status.detail["not_listed"] == ["ZZZZ"]
    assert status.state == "degraded" and "HTTP 404" in (status.last_error or "")


async def test_no_polling_while_the_market_is_closed(vendors: FakeVendors) -> None:
    """On a Saturday nothing is requested; the source waits for Monday's open."""
    source = make(vendors)
    saturday = datetime(2025, 12, 6, 16, 0, tzinfo=UTC)
    ctx = RecordingContext(saturday, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert vendors.requests == []
    status = source.status()
    assert status.next_attempt == datetime(2025, 12, 8, 14, 30, tzinfo=UTC)
    assert status.detail["waiting_for"] == "the market to open"


async def test_polls_through_the_quote_delay_after_the_close(vendors: FakeVendors) -> None:
    """Quotes are 15 minutes late, so 16:10 New York still polls and 16:16 does not."""
    ctx = RecordingContext(datetime(2025, 12, 1, 21, 10, tzinfo=UTC), watchlist=("SPY",))
    source = make(vendors, interval="6m")
    task = await run_until_sleeping(source, ctx)
    assert len(vendors.seen(SPY)) == 1
    await ctx.step(360)  # 16:16 New York
    await stop(task)
    assert len(vendors.seen(SPY)) == 1
    assert source.status().next_attempt == datetime(2025, 12, 2, 14, 30, tzinfo=UTC)


async def test_slow_vendor_times_out_as_degraded(vendors: FakeVendors) -> None:
    """A response slower than the timeout is a degraded round with a backoff, not a hang."""
    vendors.script(SPY, Reply(status=200, body=b"{}", delay=0.5))
    source = make(vendors, timeout=0.1)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "degraded" and "timed out" in (status.last_error or "")
    assert status.next_attempt is not None
    assert 2.5 <= (status.next_attempt - MONDAY_1050_NY).total_seconds() <= 5.0


async def test_expiry_horizon_filters_contracts(vendors: FakeVendors) -> None:
    """max_expiry_days = 0 keeps only the contracts expiring on the chain's own date (0DTE)."""
    source = make(vendors, max_expiry_days=0)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    (chain,) = ctx.records
    assert {c.expiry for c in chain.contracts} == {date(2025, 12, 1)}
    assert len(chain.contracts) == 4


def test_options_are_validated() -> None:
    """Too short an interval, an unknown key or a bad symbol is refused, naming the field."""
    with pytest.raises(ValidationError, match="interval"):
        CboeOptions(interval="5s")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="symbol"):
        CboeOptions(symbol=["SPY"])  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="not a ticker symbol"):
        CboeOptions(symbols=["SP Y"])
    assert CboeOptions(interval="2m", symbols=["spy"]).interval == 120.0
    assert CboeOptions(symbols=["spy"]).symbols == ["SPY"]


async def test_one_symbol_refused_with_403_does_not_stop_the_others(vendors: FakeVendors) -> None:
    """A 403 for one symbol (storage behind a CDN answers a missing file so) skips it only."""
    vendors.script(SPX, Reply.forbidden())
    source = make(vendors)
    ctx = RecordingContext(MONDAY_1050_NY, watchlist=("SPY", "SPX"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["SPY"]
    assert source.status().state == "degraded"
    assert source.status().detail["not_listed"] == ["SPX"]
