"""MarketAgent on the simulated market: trend, volatility, breadth, gaps, relative volume."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alphawire.agents.market import MarketAgent
from alphawire.analytics.market import (
    breadth,
    gap_pct,
    realized_volatility,
    relative_volume,
    trend,
    volatility_regime,
)
from alphawire.clock import VirtualClock
from alphawire.errors import ValidationError
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.records import Quote, Record, ShortInterest, Trade
from alphawire.sources.sim import SimulatedSource
from sim_fixtures import DAY_WATCHLIST, OPEN, simulation

pytestmark = pytest.mark.anyio


def minute_closes(records: Sequence[Record], symbol: str) -> list[float]:
    """The newest print's price of each minute, oldest first (independently of the agent)."""
    by_minute: dict[datetime, float] = {}
    for r in sorted((r for r in records if r.symbol == symbol), key=lambda r: r.ts):
        if isinstance(r, Trade):
            by_minute[r.ts.replace(second=0, microsecond=0)] = r.price
    return [by_minute[k] for k in sorted(by_minute)]


def test_market_analytics_hand_checked() -> None:
    """The docstrings' examples: trend z 1.11 (up), 36 % volatility, 1.5 % gap, rel vol 2."""
    reading = trend([100, 101, 100.5, 102])
    assert (round(reading.z, 2), reading.label, reading.bars) == (1.11, "up", 3)
    assert trend([100, 100, 100]).label == "sideways"
    # Returns ±0.0009995 alternating: sample σ = 0.0011543; × √98,280 = 0.3619.
    assert round(realized_volatility([100.0, 100.1, 100.0, 100.1]) * 100, 1) == 36.2
    assert gap_pct(101.5, 100) == pytest.approx(1.5)
    assert relative_volume(3000, [1000, 2000, float("nan")]) == 2.0
    assert relative_volume(3000, []) is None
    assert volatility_regime(0.4, 0.2) == "high" and volatility_regime(0.1, 0.2) == "low"
    assert breadth([0.5, -0.1, 0.0, 2.0]) == {"advancers": 2, "decliners": 1, "unchanged": 1}
    with pytest.raises(ValidationError, match="closes must be positive"):
        trend([100, -1, 3])


async def test_ten_simulated_minutes_give_each_symbol_its_trend_and_the_breadth(
    tmp_path: Path,
) -> None:
    """The sim's first 10 minutes through a node: at 14:40 one insight per watchlist symbol
    whose trend z, volatility and change match the analytics on the same quotes, the
    market-wide breadth counts advancers/decliners, all marked simulated."""
    clock = VirtualClock(OPEN)
    agent = MarketAgent({})
    # The sim stops just before 14:40, so that what it stamps before then has been emitted
    # when the agent evaluates at 14:40 (prints of a step are emitted at the step's end).
    end = OPEN + timedelta(minutes=10) - timedelta(milliseconds=100)
    node = Node(
        Settings(data_dir=tmp_path, publish_token="t"),
        agents=[agent],
        sources=[SimulatedSource(seed=7, start=OPEN, end=end)],
        clock=clock,
    )
    await node.start()
    try:
        await agent.started()
        for minute in range(1, 11):
            await clock.advance(OPEN + timedelta(minutes=minute))
            await agent.settled()
    finally:
        await node.stop()
    records = simulation().advance_to(end, max_times=10**7)
    quotes = [r for r in records if isinstance(r, Quote)]
    assert agent.status()["runs"] == 20  # every 30 s
    assert agent.status()["last_error"] is None
    changes = []
    for symbol in node.watchlist:
        got = agent.latest[symbol]
        closes = minute_closes(records, symbol)
        last = [q for q in quotes if q.symbol == symbol][-1]
        reading = trend(closes)
        assert got.metrics["trend_z"] == round(reading.z, 4), symbol
        assert got.metrics["trend"] == reading.label
        assert got.metrics["volatility"] == round(realized_volatility(closes), 6)
        assert got.metrics["last"] == last.last and got.metrics["volume"] == last.volume
        assert last.prev_close is not None
        change = (last.last - last.prev_close) / last.prev_close * 100
        assert got.metrics["change_pct"] == round(change, 4)
        assert got.simulated is True and got.unbacked() == []
        # No earlier session seen yet: the pace of the average day from the short-interest
        # file (FINRA's average daily volume) over the 600 s of the session so far.
        si = [r for r in records if isinstance(r, ShortInterest) and r.symbol == symbol][-1]
        assert si.avg_daily_volume
        elapsed = (last.ts - OPEN).total_seconds()
        assert got.metrics["rel_volume_basis"] == "adv_pace"
        assert got.metrics["rel_volume"] == round(
            last.volume / (si.avg_daily_volume * elapsed / 23_400), 4
        )
        assert got.metrics["avg_volume"] == round(si.avg_daily_volume * elapsed / 23_400, 1)
        changes.append(change)
    market = agent.latest[None]
    assert market.metrics["breadth"] == breadth(changes)
    assert market.headline.startswith("Breadth: ")


async def test_a_gap_alerts_once_and_relative_volume_compares_the_same_minute(
    tmp_path: Path,
) -> None:
    """A whole session of SPY and GME, then 15 minutes of the next: SPY's 0.73 % gap (over
    the 0.5 % threshold) alerts exactly once, GME's does not; at 14:45 rel_volume is the
    volume so far over the first session's volume by the same minute."""
    end = datetime(2026, 12, 7, 14, 45, tzinfo=UTC)
    quotes = [
        r
        for r in simulation(watchlist=DAY_WATCHLIST).advance_to(end, max_times=10**7)
        if isinstance(r, Quote) and r.ts < end
    ]
    clock = VirtualClock(OPEN)
    agent = MarketAgent({"cadence": "1m", "gap_alert_pct": 0.5, "rel_volume_alert": 1000})
    node = Node(
        Settings(data_dir=tmp_path, publish_token="t"),
        agents=[agent],
        watchlist=DAY_WATCHLIST,
        clock=clock,
    )
    alerts: list[dict[str, Any]] = []
    await node.start()
    try:
        await agent.started()
        async with node.subscribe(["unified"]) as sub:
            await feed(node, clock, agent, quotes, end)
            while agent.counts["alerts"] > len(alerts):
                alerts.append(await asyncio.wait_for(anext(aiter(sub)), 5))
    finally:
        await node.stop()
    gaps = [a for a in alerts if a["alert_type"] == "gap"]
    spy_open = next(q for q in quotes if q.symbol == "SPY" and q.ts >= end - timedelta(minutes=15))
    assert spy_open.open is not None and spy_open.prev_close is not None
    gap = gap_pct(spy_open.open, spy_open.prev_close)
    assert round(gap, 2) == 0.73
    assert [(a["symbol"], a["content"]) for a in gaps] == [("SPY", "SPY gapped up 0.7%")]
    assert gaps[0]["timestamp"].startswith("2026-12-07T14:31:00")
    assert gaps[0]["embed"]["fields"][0] == {"name": "gap %", "value": "0.73", "inline": True}
    for symbol in DAY_WATCHLIST:
        today = [q for q in quotes if q.symbol == symbol and q.ts >= end - timedelta(minutes=15)]
        day_one = [q for q in quotes if q.symbol == symbol and q.ts < OPEN + timedelta(minutes=15)]
        expected = today[-1].volume / day_one[-1].volume
        assert agent.latest[symbol].metrics["rel_volume"] == round(expected, 4), symbol
        assert agent.latest[symbol].metrics["rel_volume_basis"] == "sessions"


async def test_paced_relative_volume_is_shown_but_never_alerts(tmp_path: Path) -> None:
    """Before any earlier session, rel_volume comes from the short-interest file's average
    daily volume at an even pace: 900,000 shares 2,340 s (10 %) into the session of a
    600,000-share average day is 900,000 / 60,000 = 15.0×, far over rel_volume_alert 3, yet
    no volume_spike alert (an even pace overstates every morning)."""
    clock = VirtualClock(OPEN)
    agent = MarketAgent({"cadence": "1m", "rel_volume_alert": 3})
    node = Node(
        Settings(data_dir=tmp_path, publish_token="t"),
        agents=[agent],
        watchlist=("SPY",),
        clock=clock,
    )
    at = OPEN + timedelta(seconds=2_340)
    records: list[Record] = [
        ShortInterest("test", "SPY", OPEN, date(2026, 11, 14), 1e6, avg_daily_volume=600_000.0),
        Quote("test", "SPY", at, 99.9, 100.1, 1, 1, 100.0, 100, 900_000, prev_close=100.0),
    ]
    await node.start()
    try:
        await agent.started()
        await feed(node, clock, agent, records, at + timedelta(minutes=1))
    finally:
        await node.stop()
    metrics = agent.latest["SPY"].metrics
    assert metrics["rel_volume_basis"] == "adv_pace"
    assert metrics["rel_volume"] == 15.0 and metrics["avg_volume"] == 60_000.0
    assert agent.counts["alerts"] == 0


async def feed(
    node: Node, clock: VirtualClock, agent: MarketAgent, records: Sequence[Record], end: datetime
) -> None:
    """Hand the records to the record bus minute by minute, moving the clock after each."""
    i = 0
    while i < len(records):
        boundary = records[i].ts.replace(second=0, microsecond=0) + timedelta(minutes=1)
        j = i
        while j < len(records) and records[j].ts < boundary:
            j += 1
        await clock.advance(records[i].ts)  # as a replay does: time first, then the records
        await agent.settled()
        node.records.put(records[i:j])
        await clock.advance(min(boundary, end))
        await agent.settled()
        i = j
