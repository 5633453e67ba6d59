"""The Source contract (``tests/source_contract.py``), run against every built-in source: the
simulated market, and each vendor source with its vendor faked at the boundary (the local
HTTP server of ``fake_vendors``, or the SDK stand-ins of ``fake_sdks``); plus what only real
vendors need: a failing vendor never ends ``run``, it becomes a state with a reason.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from tests.fake_sdks import FakeReddit, FakeStream, FakeTicker, chain_frame, submission
from tests.fake_vendors import FakeVendors, RecordingContext, stop

from alphawire.clock import AcceleratedClock, VirtualClock
from alphawire.sources.alpaca import AlpacaOptions, AlpacaSource
from alphawire.sources.apewisdom import ApeWisdomOptions, ApeWisdomSource
from alphawire.sources.base import Source
from alphawire.sources.builtin import builtin_sources, source_options
from alphawire.sources.cboe import CboeOptions, CboeSource
from alphawire.sources.context import StandaloneContext
from alphawire.sources.finra import (
    ShortInterestOptions,
    ShortInterestSource,
    ShortVolumeOptions,
    ShortVolumeSource,
)
from alphawire.sources.fred import FredOptions, FredSource
from alphawire.sources.records import RECORD_KINDS, Record
from alphawire.sources.reddit import RedditOptions, RedditSource
from alphawire.sources.sim import SimulatedSource
from alphawire.sources.yahoo import YahooOptions, YahooSource
from source_contract import check_source_contract

pytestmark = pytest.mark.anyio

OPEN = datetime(2025, 12, 1, 15, 50, tzinfo=UTC)  # Monday 10:50 New York
AFTER_POSTING = datetime(2025, 12, 1, 23, 30, tzinfo=UTC)  # Monday 18:30 New York
ENV = {
    "APCA_API_KEY_ID": "PKCONTRACT0001",
    "APCA_API_SECRET_KEY": "contract-secret-1",
    "REDDIT_CLIENT_ID": "contract-client",
    "REDDIT_CLIENT_SECRET": "contract-secret-2",
}
STATES = {"starting", "ok", "degraded", "unavailable", "disabled"}


@dataclass
class Case:
    """One source under contract: how to build it against a vendor (healthy or failing)."""

    name: str
    build: Callable[[str], Source]  # base URL of the vendor (the fake, or a dead port)
    start: datetime = OPEN
    fails: Callable[[], None] = lambda: None  # make an SDK vendor fail


def _alpaca(script: list[tuple[Any, ...]]) -> Callable[[str], Source]:
    def build(_: str) -> Source:
        factory = lambda k, s, u: FakeStream(k, s, u, script=list(script))  # noqa: E731
        return AlpacaSource(AlpacaOptions(symbols=["AAPL"]), stream=factory, environ=ENV)

    return build


QUOTE = {
    "t": "2025-12-01T15:50:00Z",
    "bx": "V",
    "bp": 283.0,
    "bs": 1,
    "ax": "V",
    "ap": 283.2,
    "as": 2,
}
TRADE = {"t": "2025-12-01T15:50:01Z", "x": "V", "p": 283.1, "s": 50, "i": 1}


def _rng() -> random.Random:
    return random.Random(11)


CASES = [
    Case(
        "cboe",
        lambda url: CboeSource(
            CboeOptions(base_url=url + "/api/global/delayed_quotes", symbols=["SPY"]), rng=_rng()
        ),
    ),
    Case(
        "finra_short_volume",
        lambda url: ShortVolumeSource(
            ShortVolumeOptions(base_url=url + "/equity/regsho/daily"), rng=_rng()
        ),
        start=AFTER_POSTING,
    ),
    Case(
        "finra_short_interest",
        lambda url: ShortInterestSource(ShortInterestOptions(base_url=url), rng=_rng()),
        start=AFTER_POSTING,
    ),
    Case(
        "fred",
        lambda url: FredSource(FredOptions(base_url=url, series=["DGS10"]), rng=_rng()),
    ),
    Case("apewisdom", lambda url: ApeWisdomSource(ApeWisdomOptions(base_url=url), rng=_rng())),
    Case(
        "yahoo",
        lambda _: YahooSource(
            YahooOptions(symbols=["AAPL"], chains=True), ticker=FakeTicker, rng=_rng()
        ),
        fails=lambda: setattr(FakeTicker, "raise_on_info", RuntimeError("curl: (35) TLS error")),
    ),
    Case(
        "reddit",
        lambda _: RedditSource(RedditOptions(), reddit=FakeReddit, environ=ENV, rng=_rng()),
        fails=lambda: setattr(FakeReddit, "error", ConnectionError("Connection reset by peer")),
    ),
    Case(
        "alpaca",
        _alpaca([("q", "AAPL", QUOTE), ("t", "AAPL", TRADE)]),
        fails=lambda: None,
    ),
]
FAILING_ALPACA = _alpaca([("log", "error during websocket communication: auth failed")])


@pytest.fixture(autouse=True)
def sdk_fakes() -> None:
    FakeTicker.registry = {
        "AAPL": {
            "info": {"regularMarketPrice": 283.1, "bid": 283.0, "ask": 283.2},
            "chains": {
                "2025-12-05": (
                    chain_frame([("AAPL251205C00285000", 285.0, 2.1, 2.0, 2.2, 10.0, 80.0, 0.24)]),
                    chain_frame([]),
                )
            },
        }
    }
    FakeTicker.raise_on_info = None
    FakeReddit.posts, FakeReddit.error, FakeReddit.made = [submission(1, 1)], None, []


@pytest.fixture(scope="module")
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def dead_url() -> str:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- the checks --------------------------------------------------------------------------------


def check_identity(source: Source, name: str) -> None:
    """Name and kinds are well formed; the object satisfies the Source protocol."""
    assert isinstance(source, Source)
    assert source.name == name and re.fullmatch(r"[a-z][a-z0-9_]*", source.name)
    assert source.produces and source.produces <= RECORD_KINDS


def check_records(source: Source, records: list[Record]) -> None:
    """Beyond the shared contract: each record names this source and is in UTC."""
    for record in records:
        assert record.source == source.name
        assert record.ts.utcoffset() == timedelta(0)


def check_status(source: Source) -> dict[str, Any]:
    """status() is one of the documented states and serialises to plain JSON."""
    shown = source.status().as_json()
    assert shown["state"] in STATES
    assert json.loads(json.dumps(shown)) == shown
    return shown


# -- the suite ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_healthy_vendor(case: Case, vendors: FakeVendors) -> None:
    """Against a working vendor a source keeps the shared contract, and its records name it,
    are in UTC and are real (not simulated)."""
    source = case.build(vendors.url)
    check_identity(source, case.name)
    assert check_status(source)["state"] == "starting"

    def ctx(sink: Any) -> StandaloneContext:
        return StandaloneContext(
            sink, watchlist=("SPY", "GME", "AAPL"), clock=VirtualClock(case.start)
        )

    run = await check_source_contract(source, ctx, simulated=False)
    check_records(source, run.records)
    shown = check_status(source)
    assert shown["state"] == "ok" and shown["items"] == len(run.records)


async def test_simulated_market_keeps_the_contract() -> None:
    """The simulated market, run on an accelerated clock, keeps the same contract (all simulated)."""
    start = datetime(2025, 12, 1, 14, 30, tzinfo=UTC)
    source = SimulatedSource(seed=3, start=start)

    def ctx(sink: Any) -> StandaloneContext:
        return StandaloneContext(sink, clock=AcceleratedClock(start, speed=300))

    run = await check_source_contract(source, ctx, min_records=500, simulated=True)
    check_identity(source, "sim")
    assert all(r.source == source.name for r in run.records)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_failing_vendor_never_crashes(case: Case, dead_url: str) -> None:
    """With the vendor unreachable or refusing, run() keeps going: the failure is a state
    (degraded or unavailable) with a reason, a next attempt, and nothing emitted."""
    case.fails()
    build = FAILING_ALPACA if case.name == "alpaca" else case.build
    source = build(dead_url)
    ctx = RecordingContext(case.start, watchlist=("SPY", "GME", "AAPL"))
    task = asyncio.create_task(source.run(ctx))
    await ctx.wait_for(lambda: source.status().state in ("degraded", "unavailable"))
    await ctx.wait_for(ctx.sleeping)
    assert not task.done()  # still running: it will try again
    shown = check_status(source)
    assert shown["last_error"] and shown["last_error"].startswith(case.name)
    assert ctx.records == []
    await stop(task)


def test_registry_builds_every_source_from_a_table() -> None:
    """builtin_sources() names every vendor source; each builds from an empty table and
    refuses an unknown key, naming it."""
    factories = builtin_sources()
    assert {c.name for c in CASES} <= set(factories)
    assert source_options() == {n: f.options for n, f in factories.items()}
    for name, factory in factories.items():
        source = factory({})
        check_identity(source, name)
        assert factory({"enabled": True}).name == name
        with pytest.raises(ValidationError, match="intervall"):
            factory({"intervall": "60s"})
    cboe = factories["cboe"]({"symbols": ["spy", "qqq"], "interval": "90s"})
    assert isinstance(cboe, CboeSource)
    assert cboe.options.symbols == ["SPY", "QQQ"] and cboe.interval == 90.0
