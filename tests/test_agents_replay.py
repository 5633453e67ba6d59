"""Record → replay: the built-in agents do the same things, in the same order, every time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from alphawire.agents.builtin import builtin_agents
from alphawire.cli_record import record_simulation
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.replay import ReplaySource
from conftest import free_socket, wait_until
from sim_fixtures import OPEN

WATCHLIST = ("SPY", "NVDA", "AMD", "GME")
MINUTES = 6
# Tighter than the defaults so that a few minutes say something: signals from one agent.
OPTIONS: dict[str, dict[str, Any]] = {
    "market": {"cadence": "30s", "trend_window": 5, "trend_threshold": 0.5, "vol_high_ratio": 1.1},
    "signal": {
        "cadence": "30s",
        "min_agents": 1,
        "threshold": 0.1,
        "stop_pct": 0.2,
        "target_pct": 0.3,
    },
}


async def replay(path: Path, data_dir: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Replay the recording through a node running every built-in agent on a virtual clock;
    the alerts and signals it published, in order."""
    source = ReplaySource(path)
    agents = [factory(OPTIONS.get(name, {})) for name, factory in builtin_agents().items()]
    node = Node(
        Settings(data_dir=data_dir, publish_token="t"),
        sources=[source],
        agents=agents,
        watchlist=WATCHLIST,
        clock=source.clock(None),
    )
    alerts: list[tuple[Any, ...]] = []
    signals: list[tuple[Any, ...]] = []
    async with node.subscribe(["unified"]) as sub:

        async def collect() -> None:
            async for item in sub:
                if item.get("type") == "alert":
                    alerts.append(
                        (item["timestamp"], item["alert_type"], item.get("symbol"), item["content"])
                    )
                elif item.get("type") == "signal":
                    s = item["signal"]
                    signals.append(
                        (
                            item["timestamp"],
                            s["symbol"],
                            s["action"],
                            s["entry"],
                            s["stop"],
                            s["target"],
                            s["confidence"],
                            s["rationale"],
                        )
                    )

        reader = asyncio.ensure_future(collect())
        await node.start()
        try:
            await wait_until(lambda: source.status().detail.get("finished") is True, 60)
            for agent in agents:
                await agent.settled()
            published = sum(a.counts["alerts"] for a in agents)
            await wait_until(lambda: len(alerts) + len(signals) >= published, 10)
            assert all(a.last_error is None for a in agents), [a.last_error for a in agents]
        finally:
            await node.stop()
            reader.cancel()
    return alerts, signals


@pytest.mark.anyio
async def test_a_recorded_scenario_replays_to_identical_alerts_and_signals(tmp_path: Path) -> None:
    """Six simulated minutes recorded once, replayed twice through fresh nodes: the agents'
    alerts and signals are the same, with the same times, in the same order, both runs (and
    there are some). Same order across agents holds because everything a replay drives is
    ordered: records reach readers in stream-creation order and bus messages reach
    subscribers in subscription order (never a set's address order)."""
    path = tmp_path / "six.jsonl.gz"
    count = await record_simulation(
        path, seed=7, speed=60.0, seconds=MINUTES, watchlist=WATCHLIST, start=OPEN, fast=True
    )
    assert count > 1000
    first = await replay(path, tmp_path / "one")
    second = await replay(path, tmp_path / "two")
    assert first == second
    for run in (first, second):  # each agent's own alerts in time order
        by_source: dict[str, list[str]] = {}
        for alert in run[0]:
            by_source.setdefault(alert[1], []).append(alert[0])
        assert all(times == sorted(times) for times in by_source.values())
    alerts, signals = first
    assert alerts, "the scenario should produce at least one alert"
    assert signals, "the scenario should produce at least one signal"
    assert all(s[0] >= OPEN.isoformat()[:19] for s in signals)


def test_alphawire_replay_serves_the_recording_to_the_agents(tmp_path: Path) -> None:
    """`alphawire replay FILE --speed 120` runs a hub whose only source is the recording: it
    plays to the end, the market agent publishes from it (simulated), REST shows both."""
    path = tmp_path / "two.jsonl"
    asyncio.run(
        record_simulation(
            path, seed=7, speed=60.0, seconds=2, watchlist=("SPY", "GME"), start=OPEN, fast=True
        )
    )
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": "replay-token"}
    log = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphawire",
            "replay",
            str(path),
            "--speed",
            "120",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "hub"),
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,  # no alphawire.toml here: the defaults, every built-in agent on
        env=env,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        replay = None
        for _ in range(600):
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            try:
                replay = httpx.get(url + "/api/v1/sources", timeout=1).json()["sources"]["replay"]
                if replay["detail"].get("finished"):
                    break
            except (httpx.TransportError, KeyError):
                pass
            time.sleep(0.05)
        assert replay is not None and replay["detail"]["done"] == replay["detail"]["total"]
        assert list(httpx.get(url + "/api/v1/sources").json()["sources"]) == ["replay"]
        market = httpx.get(url + "/api/v1/agents/market").json()
        assert {i["symbol"] for i in market["insights"]} == {None, "SPY", "GME"}
        assert all(i["simulated"] for i in market["insights"])
        assert market["status"]["last_run"].startswith("2026-12-04T14:3")
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    assert "replaying" in (tmp_path / "stderr.txt").read_text()
