"""CPU of the RedditAgent, MacroAgent and Narrative Brain at their default cadence.

    .venv/bin/python -m bench.voices [--minutes 30] [--json out.json]

A node on a ``VirtualClock`` runs the three agents with default options over ``--minutes`` of
the simulated market (default watchlist, from the open, scenarios on), fed one simulated
second at a time with the records they read (``post``, ``mentions``, ``macro``). To load the
Narrative Brain as in a full node, six stand-in agents (gamma, darkpool, squeeze, options,
market, signal) publish one insight per watchlist symbol every 60 simulated seconds. Measured:
each agent's ``busy_seconds`` (CPU in its handlers and evaluations, from ``status()``) and the
whole process's CPU (the node's publishing and fan-out included), both divided by the
simulated seconds: the share of one core each needs at speed 1 (the demo and live pace).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alphawire.agents.brain import NarrativeBrain
from alphawire.agents.macro import MacroAgent
from alphawire.agents.reddit import RedditAgent
from alphawire.calendar import default_calendar
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.sim import DEFAULT_WATCHLIST, MarketSimulation

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
KINDS = ("post", "mentions", "macro")
STAND_INS = ("gamma", "darkpool", "squeeze", "options", "market", "signal")


async def run(minutes: float) -> dict[str, Any]:
    sim = MarketSimulation(DEFAULT_WATCHLIST, seed=7, start=OPEN, calendar=default_calendar())
    end = OPEN + timedelta(minutes=minutes)
    records = [r for r in sim.advance_to(end, max_times=10**7) if r.kind in KINDS]
    agents = [RedditAgent(), MacroAgent(), NarrativeBrain()]
    clock = VirtualClock(OPEN)
    with tempfile.TemporaryDirectory() as data_dir:
        node = Node(
            Settings(data_dir=Path(data_dir), publish_token="t"),
            agents=list(agents),
            watchlist=list(DEFAULT_WATCHLIST),
            clock=clock,
        )
        await node.start()
        for agent in agents:
            await agent.started()
        intake = node.intake.context("sim")
        cpu0 = time.process_time()
        i = 0
        seconds = int(minutes * 60)
        for second in range(seconds + 1):
            now = OPEN + timedelta(seconds=second)
            batch = []
            while i < len(records) and records[i].ts <= now:
                batch.append(records[i])
                i += 1
            if batch:
                await intake.emit(batch)
            if second % 60 == 0:
                await node.publish_many(_stand_in_insights(now, second))
            await asyncio.sleep(0)
            await clock.advance(now)
            for agent in agents:
                await agent.settled()
        cpu = time.process_time() - cpu0
        statuses = {a.name: a.status() for a in agents}
        await node.stop()
    return {
        "minutes": minutes,
        "records": len(records),
        "process_cpu_s": round(cpu, 3),
        "process_core_share_pct": round(100 * cpu / seconds, 3),
        "agents": {
            name: {
                "busy_s": s["busy_seconds"],
                "core_share_pct": round(100 * s["busy_seconds"] / seconds, 4),
                "runs": s["runs"],
                "insights": s["insights"],
                "alerts": s["alerts"],
                "narratives": s.get("narratives", 0),
            }
            for name, s in statuses.items()
        },
    }


def post_throughput(count: int = 5000) -> dict[str, Any]:
    """RedditTracker.add on ``count`` simulated posts (extraction + VADER): posts per CPU s."""
    from alphawire.agents.reddit import RedditOptions, RedditTracker
    from alphawire.sources.sim import social
    from alphawire.sources.sim.draws import Draws

    draws = Draws(1, "bench-posts")
    posts = [
        social.background_post("sim", OPEN + timedelta(seconds=n), n, DEFAULT_WATCHLIST, draws)
        for n in range(count)
    ]
    tracker = RedditTracker(RedditOptions(), DEFAULT_WATCHLIST)
    t0 = time.process_time()
    tracker.add(posts)
    cpu = time.process_time() - t0
    return {"posts": count, "cpu_s": round(cpu, 3), "posts_per_cpu_s": round(count / cpu)}


def _stand_in_insights(now: datetime, second: int) -> list[dict[str, Any]]:
    out = []
    for n, agent in enumerate(STAND_INS):
        for k, symbol in enumerate(DEFAULT_WATCHLIST):
            score = ((n * 7 + k * 3 + second // 60) % 11 - 5) / 5
            stance = "bullish" if score > 0.15 else "bearish" if score < -0.15 else "neutral"
            out.append(
                {
                    "type": "agent_insight",
                    "agent": agent,
                    "timestamp": now,
                    "insight": {
                        "symbol": symbol,
                        "stance": stance,
                        "score": score,
                        "confidence": 0.6,
                        "headline": f"{agent} view of {symbol}",
                        "levels": {"key": 100.0 + k},
                        "as_of": now.isoformat(),
                    },
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.minutes))
    result["reddit_posts"] = post_throughput()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
