"""Sources in a running hub: supervised, their state at /api/v1/sources and in `alphawire
sources`, quotes on market_{SYMBOL}, records to agents, failures as state (never a crash)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import connect, recv_json, start_hub, wait_until

from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.base import SourceContext, SourceStatus, SourceUnavailable

pytestmark = pytest.mark.anyio


class RefusedSource:
    """A vendor that answers 403: the source says so and raises, the supervisor retries."""

    name = "refused"
    produces = frozenset({"quote"})

    def __init__(self) -> None:
        self.runs = 0
        self._status = SourceStatus()

    async def run(self, ctx: SourceContext) -> None:
        self.runs += 1
        self._status.state = "unavailable"
        self._status.last_error = "403 Forbidden from vendor.example (key [redacted])"
        raise SourceUnavailable("403 Forbidden")

    def status(self) -> SourceStatus:
        return self._status


async def test_the_simulated_market_runs_under_the_supervisor_and_reports_its_state(
    tmp_path: Path,
) -> None:
    """Settings(demo=True) runs the sim source: simulated quotes reach market_SPY, the agents'
    record bus carries every kind it emits, and /api/v1/sources and `alphawire sources` show
    it ok with items counted; a refusing vendor shows as unavailable, the hub stays up."""
    settings = Settings(data_dir=tmp_path, publish_token="t", demo=True, demo_symbols=("SPY",))
    refused = RefusedSource()
    node = Node(settings, sources=[refused])
    assert list(node.sources) == ["refused"]  # explicit sources replace the demo's
    settings_demo = Settings(
        data_dir=tmp_path / "demo", publish_token="t", demo=True, demo_symbols=("SPY", "GME")
    )
    demo_node = Node(settings_demo)
    stream = demo_node.records.stream(["quote", "trade", "option_chain"], name="test")
    hub = start_hub(settings_demo, node=demo_node)
    other = start_hub(settings, node=node)
    try:
        ws = await connect(f"{hub.ws}/ws/market/SPY")
        assert (await recv_json(ws))["type"] == "subscribed"
        tick = await recv_json(ws, timeout=30)
        await ws.close()
        await wait_until(lambda: stream.received > 0, 30)
        async with httpx.AsyncClient(base_url=hub.url) as http:
            await wait_until(lambda: demo_node.sources["sim"].status().items > 0, 30)
            body = (await http.get("/api/v1/sources")).json()
        await wait_until(lambda: refused.runs >= 2, 30)
        async with httpx.AsyncClient(base_url=other.url) as http:
            refused_body = (await http.get("/api/v1/sources")).json()
            health = (await http.get("/api/v1/health")).json()
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "alphawire", "sources", "--url", hub.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        hub.stop()
        other.stop()
    assert tick["type"] == "market_data" and tick["data"]["simulated"] is True
    assert tick["data"]["source"] == "sim" and isinstance(tick["data"]["bid_size"], int)
    sim = body["sources"]["sim"]
    assert sim["state"] == "ok" and sim["items"] > 0 and sim["detail"]["simulated"] is True
    assert "quote" in sim["produces"] and "option_chain" in sim["produces"]
    assert body["records"]["records"]["quote"] > 0
    assert body["records"]["streams"]["test"]["received"] > 0
    row = refused_body["sources"]["refused"]
    assert row["state"] == "unavailable" and "[redacted]" in row["last_error"]
    assert row["task"]["restarts"] >= 1 and row["task"]["last_error"].startswith(
        "SourceUnavailable"
    )
    assert health["status"] in ("ok", "degraded")  # the hub answers; the source is reported
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["source", "state", "items"]
    assert rows[0].split()[:2] == ["sim", "ok"]


async def test_records_reach_an_agent_and_quotes_are_published_once(tmp_path: Path) -> None:
    """One emit: the agent's record stream and market_{SYMBOL} each get every quote once."""
    from datetime import UTC, datetime

    from alphawire.sources.records import Quote

    settings = Settings(data_dir=tmp_path, publish_token="t")

    class OneShot:
        name = "oneshot"
        produces = frozenset({"quote"})

        async def run(self, ctx: SourceContext) -> None:
            quotes: Sequence[Any] = [
                Quote("oneshot", "SPY", datetime.now(UTC), 9.9, 10.1, 1, 2, 10.0 + i, 5, i)
                for i in range(5)
            ]
            await ctx.emit(quotes)
            await asyncio.Event().wait()

        def status(self) -> SourceStatus:
            return SourceStatus(state="ok")

    seen: list[float] = []

    class Reader:
        name = "reader"

        async def run(self, ctx: Any) -> None:
            async for quote in ctx.records(["quote"], maxlen=100):
                seen.append(quote.last)

    node = Node(settings, sources=[OneShot()], agents=[Reader()])
    async with node.subscribe(["market_SPY"]) as sub:
        await node.start()
        try:
            it = aiter(sub)
            ticks = [await asyncio.wait_for(anext(it), 10) for _ in range(5)]
            await wait_until(lambda: len(seen) >= 1)
        finally:
            await node.stop()
    assert [t["data"]["price"] for t in ticks] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert [t["seq"] for t in ticks] == [1, 2, 3, 4, 5]
    # The reader may see conflated quotes (newest per symbol), never an old one after a new.
    assert seen == sorted(seen) and seen[-1] == 14.0
