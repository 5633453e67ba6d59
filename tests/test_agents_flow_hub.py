"""The four market-structure agents in a real hub on the simulated market: alerts to
``unified`` and the fake Discord, insights on ``agent_*``, built from alphawire.toml."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import RunningHub, start_hub, wait_until
from tests.fake_discord import FakeDiscord

from alphawire.agents.builtin import builtin_agents
from alphawire.agents.darkpool import DarkPoolAgent, DarkPoolOptions
from alphawire.agents.gamma import GammaAgent
from alphawire.agents.options import OptionsAgent
from alphawire.agents.squeeze import SqueezeAgent
from alphawire.alerting.routes import RouteTable
from alphawire.calendar import default_calendar
from alphawire.cli_record import record_simulation
from alphawire.clock import AcceleratedClock, VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.records import ShortVolume
from alphawire.sources.replay import ReplaySource
from alphawire.sources.sim import DEFAULT_WATCHLIST, SimulatedSource
from sim_fixtures import first_minute

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)  # Friday 09:30 New York


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord(rate_limit=5, rate_period=0.05) as fake:
        yield fake


def sim_hub(
    tmp_path: Path, routes: RouteTable, agents: list[Any], watchlist: tuple[str, ...]
) -> tuple[RunningHub, VirtualClock]:
    clock = VirtualClock(OPEN)
    settings = Settings(data_dir=tmp_path / "hub", publish_token="test-token")
    node = Node(
        settings,
        routes=routes,
        sources=[SimulatedSource(seed=7, start=OPEN)],
        agents=agents,
        watchlist=watchlist,
        clock=clock,
        calendar=default_calendar(),
    )
    return start_hub(settings, node=node), clock


def play(hub: RunningHub, clock: VirtualClock, seconds: float) -> None:
    """Move the hub's virtual clock half a second at a time, letting each agent settle."""
    agents = list(hub.node.agents.values())
    for agent in agents:
        hub.call(agent.started())
    for step in range(1, int(seconds * 2) + 1):
        hub.call(clock.advance(OPEN + timedelta(seconds=step / 2)))
        for agent in agents:
            hub.call(agent.settled())


def history(hub: RunningHub, channel: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{hub.url}/api/v1/history/{channel}", params={"limit": 1000})
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def test_scripted_flip_gives_one_gamma_flip_on_unified_and_one_discord_message(
    tmp_path: Path, discord: FakeDiscord
) -> None:
    """SPY falls through zero gamma between 25 and 45 s: exactly one gamma_flip alert reaches
    unified and exactly one message the Discord route for gamma flips (an embed with the
    spot and the level), and SPY's insight on agent_gamma reads the negative regime."""
    url = discord.add_webhook("4242", "tok")
    routes = RouteTable.from_mapping(
        {
            "routes": [
                {"name": "gamma", "webhook_url": url, "match": {"alert_type": ["gamma_flip"]}}
            ]
        },
        "test",
    )
    hub, clock = sim_hub(tmp_path, routes, [GammaAgent({})], ("SPY",))
    try:
        play(hub, clock, 60)
        alerts = [m for m in history(hub, "unified") if m.get("type") == "alert"]
        flips = [m for m in alerts if m["alert_type"] == "gamma_flip"]
        assert len(flips) == 1
        (flip,) = flips
        assert flip["symbol"] == "SPY" and flip["severity"] == "high"
        assert flip["source"] == "gamma_agent"
        assert (
            OPEN + timedelta(seconds=25)
            < datetime.fromisoformat(flip["timestamp"])
            < OPEN + timedelta(seconds=46)
        )
        assert [m["alert_type"] for m in alerts] == ["gamma_flip", "gamma_wall_break"]
        deadline = time.monotonic() + 30
        while not discord.messages("4242") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # room for a second message, were one (wrongly) on its way
        (message,) = discord.messages("4242")
        (embed,) = message["embeds"]
        assert embed["title"].startswith("SPY gamma flip: spot ")
        assert "SIMULATED" in embed["footer"]["text"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Direction"] == "down" and fields["Regime"] in ("positive", "negative")
        insights = [m for m in history(hub, "agent_gamma") if m.get("type") == "agent_insight"]
        last = insights[-1]["insight"]
        assert last["symbol"] == "SPY" and last["metrics"]["regime"] == "negative"
        assert last["simulated"] is True
    finally:
        hub.stop()


def test_all_four_agents_speak_on_their_channels_within_a_minute(tmp_path: Path) -> None:
    """With the default watchlist each of the four publishes insights on agent_{name} in the
    first simulated minute, and the scripted events raise one alert each of
    darkpool_block (NVDA), squeeze_threshold (GME) and unusual_options (AMD)."""
    agents = [GammaAgent({}), DarkPoolAgent({}), SqueezeAgent({}), OptionsAgent({})]
    hub, clock = sim_hub(tmp_path, RouteTable(), agents, ("SPY", "NVDA", "AMD", "GME"))
    try:
        play(hub, clock, 60)
        for name in ("gamma", "darkpool", "squeeze", "options"):
            got = [m for m in history(hub, f"agent_{name}") if m.get("type") == "agent_insight"]
            assert got, name
            assert hub.node.agents[name].status()["last_error"] is None  # type: ignore[attr-defined]
        alerts = [
            (m["alert_type"], m["symbol"])
            for m in history(hub, "unified")
            if m.get("type") == "alert"
        ]
        assert alerts.count(("darkpool_block", "NVDA")) == 1
        assert alerts.count(("squeeze_threshold", "GME")) == 1
        assert alerts.count(("unusual_options", "AMD")) == 1
        assert alerts.count(("gamma_flip", "SPY")) == 1
    finally:
        hub.stop()


def short_ratio_z(ratios: list[float]) -> float | None:
    """The newest ratio's z against the earlier ones, as DarkPoolAgent documents it (ratios
    to 0.0001, sample stdev, z to 0.01); None below its min_history of 5 earlier days."""
    *earlier, newest = ratios
    if len(earlier) < 5:
        return None
    return round((newest - statistics.fmean(earlier)) / statistics.stdev(earlier), 2)


def test_first_minute_short_ratio_z_from_the_backfilled_history(tmp_path: Path) -> None:
    """At the first open the simulator sends 21 sessions of short volume per symbol: each
    DarkPoolAgent insight carries those 21 days and the z-score of the newest against the 20
    before it, as computed here from the records, and the DIX those 21 days; the
    short_ratio_extreme alerts are exactly the symbols whose newest day has |z| ≥ z_alert,
    none for a backfill day."""
    rows = [r for r in first_minute() if isinstance(r, ShortVolume)]
    days: dict[str, list[tuple[str, float]]] = {}
    for r in sorted(rows, key=lambda r: r.trade_date):
        ratio = round(r.short_volume / r.total_volume, 4)
        days.setdefault(r.symbol, []).append((r.trade_date.isoformat(), ratio))
    expected = {s: short_ratio_z([v for _, v in d]) for s, d in days.items()}
    assert {d[-1][0] for d in days.values()} == {"2026-12-03"}
    assert set(days) == set(DEFAULT_WATCHLIST)
    z_alert = DarkPoolOptions().z_alert
    extreme = sorted(s for s, z in expected.items() if z is not None and abs(z) >= z_alert)
    hub, clock = sim_hub(tmp_path, RouteTable(), [DarkPoolAgent({})], DEFAULT_WATCHLIST)
    try:
        play(hub, clock, 60)
        latest: dict[str | None, dict[str, Any]] = {}
        for m in history(hub, "agent_darkpool"):
            if m.get("type") == "agent_insight":
                latest[m["insight"]["symbol"]] = m["insight"]
        alerts = [
            m
            for m in history(hub, "unified")
            if m.get("type") == "alert" and m["alert_type"] == "short_ratio_extreme"
        ]
    finally:
        hub.stop()
    market = latest.pop(None)["metrics"]  # the DIX has a day per trade date too
    assert [h["date"] for h in market["dix_history"]] == [d for d, _ in days["SPY"]]
    assert set(latest) == set(DEFAULT_WATCHLIST)
    for symbol, insight in latest.items():
        assert symbol is not None
        metrics = insight["metrics"]
        assert [(h["date"], h["ratio"]) for h in metrics["short_ratio_history"]] == days[symbol]
        assert len(metrics["short_ratio_history"]) == 21
        assert expected[symbol] is not None
        assert metrics["short_ratio_z"] == expected[symbol], symbol
    assert sorted(a["symbol"] for a in alerts) == extreme
    for alert in alerts:  # each about the newest file, none about a backfill day
        assert "FINRA short volume on 2026-12-03 against" in json.dumps(alert), alert


def test_builtin_table_builds_each_agent_with_validated_options() -> None:
    """builtin_agents() has the four by name; an options table is checked by the agent's
    Options model (a bad threshold is refused, naming the key)."""
    table = builtin_agents()
    for name, cls in (
        ("gamma", GammaAgent),
        ("darkpool", DarkPoolAgent),
        ("squeeze", SqueezeAgent),
        ("options", OptionsAgent),
    ):
        assert table[name] is cls
    agent = table["squeeze"]({"threshold": 80, "cadence": "30s"})
    assert (agent.options.threshold, agent.options.cadence) == (80, 30.0)
    with pytest.raises(Exception, match="threshold"):
        table["squeeze"]({"threshold": 150})
    with pytest.raises(Exception, match="flip_bnd"):
        table["gamma"]({"flip_bnd": 0.1})


@pytest.mark.anyio
async def test_a_replayed_recording_raises_the_same_alerts(tmp_path: Path) -> None:
    """The first minute recorded with ``alphawire record`` and replayed (virtual clock, as
    fast as possible) raises the scripted alerts once each, as the live simulation does."""
    recording = tmp_path / "minute.jsonl.gz"
    watchlist = ("SPY", "NVDA", "AMD", "GME")
    await record_simulation(
        recording, seed=7, speed=60.0, seconds=1.0, watchlist=watchlist, start=OPEN, fast=True
    )
    finished = asyncio.Event()
    source = ReplaySource(recording, progress=lambda done, total: done == total and finished.set())
    agents = [GammaAgent({}), DarkPoolAgent({}), SqueezeAgent({}), OptionsAgent({})]
    node = Node(
        Settings(data_dir=tmp_path / "replay", publish_token="t"),
        sources=[source],
        agents=agents,
        watchlist=watchlist,
        clock=source.clock(None),
        calendar=default_calendar(),
    )
    await node.start()
    try:
        for agent in agents:
            await agent.started()
        await finished.wait()
        for agent in agents:
            agent.trigger("end of replay")
            await agent.settled()
        page = await node.broker.history("unified", None, 1000)
        bodies = [json.loads(body) for _, body in page.entries]
        alerts = [(b["alert_type"], b["symbol"]) for b in bodies if b.get("type") == "alert"]
    finally:
        await node.stop()
    for scripted in (
        ("gamma_flip", "SPY"),
        ("darkpool_block", "NVDA"),
        ("squeeze_threshold", "GME"),
        ("unusual_options", "AMD"),
    ):
        assert alerts.count(scripted) == 1, (scripted, alerts)


@pytest.mark.anyio
async def test_live_pace_reads_chains_in_a_worker_thread_with_the_same_alerts(
    tmp_path: Path,
) -> None:
    """On an accelerated (wall-based) clock the chains are read in a worker thread while
    quotes keep coming; quotes wait behind an unread chain, so the scripted flip still gives
    exactly one gamma_flip and one put-wall break for SPY."""
    clock = AcceleratedClock(OPEN, 40.0)
    source = SimulatedSource(seed=7, start=OPEN, end=OPEN + timedelta(seconds=60))
    agent = GammaAgent({})
    threads: list[str] = []
    original = agent.compute

    async def spy(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        threads.append(fn.__name__)
        return await original(fn, *args, **kwargs)

    agent.compute = spy  # type: ignore[method-assign]
    node = Node(
        Settings(data_dir=tmp_path / "live", publish_token="t"),
        sources=[source],
        agents=[agent],
        watchlist=("SPY",),
        clock=clock,
        calendar=default_calendar(),
    )
    async with node.subscribe(["unified"]) as sub:
        await node.start()
        try:
            await wait_until(lambda: clock.now() > OPEN + timedelta(seconds=62), 30)
            agent.trigger("end")
            await agent.settled()
            await wait_until(lambda: agent.counts["alerts"] == 2, 10)
            items = aiter(sub)
            got: list[dict[str, Any]] = []
            while len(got) < 2:
                item = await anext(items)
                if item.get("type") == "alert":
                    got.append(item)
        finally:
            await node.stop()
    assert [(m["alert_type"], m["symbol"]) for m in got] == [
        ("gamma_flip", "SPY"),
        ("gamma_wall_break", "SPY"),
    ]
    assert "read_chain" in threads


def test_a_monitors_dark_pool_alert_is_darkpool_evidence_for_its_symbol(tmp_path: Path) -> None:
    """A user's monitor posts a dark_pool alert for NVDA over HTTP: DarkPoolAgent's next NVDA
    insight carries it as external evidence (its text and id), beside the agent's own."""
    hub, clock = sim_hub(tmp_path, RouteTable(), [DarkPoolAgent({})], ("NVDA",))
    try:
        play(hub, clock, 15)
        posted = httpx.post(
            f"{hub.url}/api/v1/publish",
            headers=hub.headers(),
            json={
                "messages": [
                    {
                        "type": "alert",
                        "alert_type": "dark_pool",
                        "source": "my_dp_monitor",
                        "symbol": "NVDA",
                        "content": "NVDA 2.1M shares on FINN",
                    }
                ]
            },
        )
        assert posted.status_code == 202, posted.text
        (receipt,) = posted.json()["results"]
        agent = hub.node.agents["darkpool"]
        deadline = time.monotonic() + 10
        while agent.status()["monitor_evidence"] < 1 and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.02)
        hub.call(clock.advance(OPEN + timedelta(seconds=30)))
        hub.call(agent.settled())  # type: ignore[attr-defined]
        insights = [
            m["insight"]
            for m in history(hub, "agent_darkpool")
            if m.get("type") == "agent_insight" and m["insight"]["symbol"] == "NVDA"
        ]
        evidence = insights[-1]["evidence"]
        external = [e for e in evidence if e.get("external")]
        assert [(e["source"], e["text"], e["alert_id"]) for e in external] == [
            ("my_dp_monitor", "NVDA 2.1M shares on FINN", receipt["id"])
        ]
        assert any(e["source"] == "darkpool" for e in evidence)  # the agent's own blocks
    finally:
        hub.stop()
