"""SignalAgent: the combination rule, the signal message, and every signal's outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alphawire.agents.signal import SignalAgent, Vote, combine
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.records import Quote

pytestmark = pytest.mark.anyio
OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def quote(symbol: str, last: float, at: datetime) -> Quote:
    return Quote(
        source="test",
        symbol=symbol,
        ts=at,
        bid=last - 0.01,
        ask=last + 0.01,
        bid_size=1,
        ask_size=1,
        last=last,
        last_size=1,
        volume=1000,
        prev_close=100.0,
    )


def insight(
    symbol: str, stance: str, score: float, confidence: float, at: datetime
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "stance": stance,
        "score": score,
        "confidence": confidence,
        "headline": f"{symbol} looks {stance}",
        "as_of": at.isoformat(),
    }


@dataclass
class Desk:
    node: Node
    clock: VirtualClock
    agent: SignalAgent

    async def vote(self, agent: str, *args: Any) -> None:
        await self.node.publish_agent_insight(agent, insight(*args))

    async def price(self, symbol: str, last: float) -> None:
        await self.node.intake.context("test").emit([quote(symbol, last, self.clock.now())])

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(self.clock.now() + timedelta(seconds=seconds))
        await self.agent.settled()

    async def until(self, predicate: Any) -> None:
        for _ in range(500):
            await self.agent.settled()
            if predicate():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("condition not reached")


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    clock = VirtualClock(OPEN)
    agent = SignalAgent({"threshold": 0.25, "weights": {"gamma": 2.0}, "horizon": "30m"})
    node = Node(
        Settings(data_dir=tmp_path, publish_token="t"),
        agents=[agent],
        watchlist=["SPY", "GME"],
        clock=clock,
    )
    await node.start()
    await agent.started()
    try:
        yield Desk(node, clock, agent)
    finally:
        await node.stop()


def test_the_documented_hand_checked_combination() -> None:
    """The module docstring's example: S = 0.2267 equal weights; 0.29 with gamma weighted 2."""
    votes = [
        Vote("gamma", "bullish", 0.6, 0.8, "", OPEN),
        Vote("darkpool", "bullish", 0.5, 0.6, "", OPEN),
        Vote("reddit", "bearish", -0.2, 0.5, "", OPEN),
    ]
    s, agreeing, voting = combine(votes, {})
    assert (round(s, 4), agreeing, voting) == (0.2267, 2, 3)
    s, _, _ = combine(votes, {"gamma": 2.0})
    assert round(s, 4) == 0.29


async def test_agreeing_agents_raise_one_signal_that_hits_its_target(desk: Desk) -> None:
    """Gamma (weight 2) and darkpool bullish, reddit bearish: S = 0.29 >= 0.25 gives one buy
    at the last price with 1 % stop and 2 % target; a quote at the target closes it as a hit,
    and the record says so (on the market-wide insight and performance())."""
    async with (
        desk.node.subscribe(["signals"]) as signals,
        desk.node.subscribe(["agent_signal"]) as insights,
    ):
        await desk.price("SPY", 100.0)
        await desk.vote("gamma", "SPY", "bullish", 0.6, 0.8, OPEN)
        await desk.vote("darkpool", "SPY", "bullish", 0.5, 0.6, OPEN)
        await desk.vote("reddit", "SPY", "bearish", -0.2, 0.5, OPEN)
        await desk.until(lambda: desk.agent.tally["signals"] == 1)
        (message,) = [await asyncio.wait_for(anext(aiter(signals)), 5)]
        sig = message["signal"]
        assert (sig["symbol"], sig["action"], sig["entry"], sig["stop"], sig["target"]) == (
            "SPY",
            "buy",
            100.0,
            99.0,
            102.0,
        )
        assert sig["confidence"] == 0.1933 and sig["timeframe"] == "30m"
        assert sig["rationale"].startswith(
            "buy SPY: combined score +0.29 from darkpool bullish +0.50"
        )
        assert (
            "gamma bullish +0.60 (SPY looks bullish)" in sig["rationale"]
            and "against: reddit" in sig["rationale"]
        )
        # Still agreeing: no second signal while one is open.
        await desk.vote("gamma", "SPY", "bullish", 0.7, 0.8, OPEN)
        await desk.advance(60)
        assert desk.agent.tally["signals"] == 1
        await desk.price("SPY", 101.5)
        await desk.price("SPY", 102.0)
        await desk.until(lambda: not desk.agent.open)
        await desk.advance(60)
        latest = None
        async for item in insights:
            if (
                item["insight"]["symbol"] is None
                and item["insight"]["metrics"]["record"]["hits"] == 1
            ):
                latest = item["insight"]
                break
    assert latest is not None
    assert latest["metrics"]["record"] == {
        "signals": 1,
        "hits": 1,
        "stops": 0,
        "expired": 0,
        "open": 0,
        "hit_rate": 1.0,
    }
    assert latest["headline"] == "0 open signals; record 1 hit, 0 stops, 0 expired"
    assert latest["confidence"] == 0.1  # hit rate 1.0 on one closed signal of 10
    (closed,) = desk.agent.performance()["closed"]
    assert (closed["outcome"], closed["exit"]) == ("hit", 102.0)


async def test_a_signal_is_stopped_or_expires_on_the_clock(desk: Desk) -> None:
    """A sell stopped by a rise of 1 %; a buy neither hit nor stopped expires at opened + 30m."""
    await desk.price("GME", 20.0)
    await desk.price("SPY", 50.0)
    for agent in ("gamma", "squeeze"):
        await desk.vote(agent, "GME", "bearish", -0.9, 0.9, OPEN)
        await desk.vote(agent, "SPY", "bullish", 0.9, 0.9, OPEN)
    await desk.until(lambda: desk.agent.tally["signals"] == 2)
    opened = {s: t.opened for s, t in desk.agent.open.items()}
    await desk.price("GME", 20.2)
    await desk.until(lambda: "GME" not in desk.agent.open)
    for _ in range(31):
        await desk.advance(60)
    record = desk.agent.record()
    assert record == {"signals": 2, "hits": 0, "stops": 1, "expired": 1, "open": 0, "hit_rate": 0.0}
    closed = {c["symbol"]: c for c in desk.agent.performance()["closed"]}
    assert closed["GME"]["outcome"] == "stopped" and closed["GME"]["exit"] == 20.2
    assert closed["SPY"]["outcome"] == "expired"
    assert closed["SPY"]["closed"] == (opened["SPY"] + timedelta(minutes=30)).isoformat()


async def test_stale_neutral_or_lone_votes_raise_nothing(desk: Desk) -> None:
    """One agent alone, or votes older than max_age (30 min), never make a signal."""
    await desk.price("SPY", 100.0)
    await desk.vote("gamma", "SPY", "bullish", 1.0, 1.0, OPEN)
    await desk.advance(60)
    old = OPEN - timedelta(hours=1)
    await desk.vote("darkpool", "SPY", "bullish", 1.0, 1.0, old)
    await desk.vote("reddit", "SPY", "bullish", 1.0, 1.0, old)
    await desk.advance(60)
    await desk.vote("options", "GME", "neutral", 0.0, 1.0, OPEN)
    await desk.advance(60)
    assert desk.agent.tally["signals"] == 0
    assert desk.agent.latest["SPY"].metrics["votes"] == {"gamma": 1.0}


async def test_after_a_close_a_symbol_rearms_only_after_15_minutes_and_new_votes(
    desk: Desk,
) -> None:
    """A hit closes the signal; fresh agreeing votes at once raise nothing (rearm 15 min);
    at the first evaluation 15 minutes after the close, with those votes newer than the last
    signal, a second signal fires."""
    await desk.price("SPY", 100.0)
    for agent in ("gamma", "darkpool"):
        await desk.vote(agent, "SPY", "bullish", 0.9, 0.9, OPEN)
    await desk.until(lambda: desk.agent.tally["signals"] == 1)
    await desk.price("SPY", 102.5)
    await desk.until(lambda: desk.agent.tally["hits"] == 1)
    await desk.advance(60)
    for agent in ("gamma", "darkpool"):
        await desk.vote(agent, "SPY", "bullish", 0.9, 0.9, desk.clock.now())
    await desk.advance(60)
    assert desk.agent.tally["signals"] == 1
    for _ in range(12):  # to 14:44: the hit was at 14:30, rearm is 15 minutes
        await desk.advance(60)
    assert desk.agent.tally["signals"] == 1
    await desk.advance(60)
    assert desk.agent.tally["signals"] == 2
    (second,) = desk.agent.open.values()
    assert second.entry == 102.5 and second.opened == OPEN + timedelta(minutes=15)
