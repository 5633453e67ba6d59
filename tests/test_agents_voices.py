"""RedditAgent, MacroAgent and the Narrative Brain running in a node on the simulated first
minute (VirtualClock, second by second): exact alerts to the hub and the fake Discord, the
monitor bridge's evidence, and narratives citing what they used."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fake_discord import FakeDiscord

from alphawire.agents.brain import NarrativeBrain
from alphawire.agents.builtin import builtin_agents
from alphawire.agents.framework import BaseAgent
from alphawire.agents.insight import Insight
from alphawire.agents.macro import MacroAgent
from alphawire.agents.reddit import RedditAgent
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.sim import DEFAULT_WATCHLIST
from sim_fixtures import OPEN, at, first_minute

pytestmark = pytest.mark.anyio
KINDS = ("post", "mentions", "macro")


@dataclass
class Run:
    node: Node
    clock: VirtualClock
    agents: Sequence[BaseAgent]
    seen: list[dict[str, Any]] = field(default_factory=list)
    second: int = -1
    syncs: int = 0

    async def play(self, until: float) -> None:
        """Emit the simulated first minute's records up to ``until`` s, one second at a time."""
        records = [r for r in first_minute() if r.kind in KINDS]
        intake = self.node.intake.context("sim")
        while self.second < until:
            self.second += 1
            lo, hi = at(self.second - 1), at(self.second)
            batch = [r for r in records if (r.ts <= hi if self.second == 0 else lo < r.ts <= hi)]
            if batch:
                await intake.emit(batch)
            await asyncio.sleep(0)  # let the agents' readers take the records
            await self.clock.advance(hi)
            for agent in self.agents:
                await agent.settled()
        await self.sync()

    async def sync(self) -> None:
        """Return once every message published so far has reached ``seen``: a sentinel (an
        insight with confidence 0, which no narrative uses) is published and awaited."""
        self.syncs += 1
        mark = f"sync-{self.syncs}"
        await self.node.publish_agent_insight(
            "sentinel",
            {"symbol": None, "score": 0, "confidence": 0, "headline": mark, "as_of": OPEN},
        )
        await until(lambda: any(m.get("insight", {}).get("headline") == mark for m in self.seen))

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            m
            for m in self.seen
            if m.get("type") == kind and all(m.get(k) == v for k, v in match.items())
        ]


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until true (a generous cap only so a broken test cannot hang)."""
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


def routes_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "routes.toml"
    path.write_text(f'[[routes]]\nname = "desk"\nwebhook_url = "{url}"\ncooldown = 0\n')
    return path


@pytest.fixture
def discord() -> AsyncIterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake  # type: ignore[misc]


async def start(
    tmp_path: Path, agents: Sequence[BaseAgent], routes: Path | None = None
) -> tuple[Run, Any]:
    clock = VirtualClock(OPEN)
    node = Node(
        Settings(data_dir=tmp_path, publish_token="t", alert_routes=routes),
        agents=list(agents),
        watchlist=list(DEFAULT_WATCHLIST),
        clock=clock,
    )
    await node.start()
    for agent in agents:
        await agent.started()
    run = Run(node, clock, agents)
    sub = node.subscribe(["unified", "agent_*", "narrative"])
    await sub.__aenter__()

    async def collect() -> None:
        async for message in sub:
            run.seen.append(message)

    task = asyncio.create_task(collect())
    return run, (node, sub, task)


async def stop(handles: Any) -> None:
    node, sub, task = handles
    task.cancel()
    await sub.close()
    await node.stop()


async def test_sentiment_spike_alerts_once_to_hub_and_discord(
    tmp_path: Path, discord: FakeDiscord
) -> None:
    """The scripted GME spike gives exactly one reddit_spike alert in the first minute (severity
    high: 13.33 ≥ 2 × 3), on unified and at the fake Discord, with its embed fields."""
    url = discord.add_webhook("900", "tok")
    agent = RedditAgent({"cadence": "10s"})
    run, handles = await start(tmp_path, [agent], routes_file(tmp_path, url))
    try:
        await run.play(60)
        await until(lambda: bool(discord.messages("900")))
    finally:
        await stop(handles)
    alerts = run.of("alert")
    assert [(a["alert_type"], a["symbol"], a["severity"]) for a in alerts] == [
        ("reddit_spike", "GME", "high")
    ]
    assert alerts[0]["timestamp"].startswith(at(5).isoformat()[:19])
    assert alerts[0]["content"] == "GME mention spike: 13.3x normal"
    [message] = discord.messages("900")
    embed = message["embeds"][0]
    assert embed["title"] == "GME mention spike: 13.3x normal"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Mentions"] == "2,400"
    gme = agent.latest["GME"]
    assert gme.metrics["mentions"] == 3100 and gme.simulated is True
    market = agent.latest[None]
    assert market.metrics["tickers"][0]["symbol"] == "GME"
    assert agent.status()["last_error"] is None


async def test_curve_inversion_alerts_once_with_the_vix_regime(tmp_path: Path) -> None:
    """At 30 s the curve inverts and the VIX turns elevated: one curve_inversion (high) and one
    vix_regime (medium) alert, nothing else; the insight reads −0.09 pp and 21.4."""
    agent = MacroAgent({"cadence": "1m"})
    run, handles = await start(tmp_path, [agent])
    try:
        await run.play(60)
    finally:
        await stop(handles)
    assert [(a["alert_type"], a["severity"], a["content"]) for a in run.of("alert")] == [
        ("curve_inversion", "high", "Yield curve inverted: 2s10s -0.09 pp"),
        ("vix_regime", "medium", "VIX 21.4: volatility elevated"),
    ]
    insight = agent.latest[None]
    assert insight.metrics["curve_regime"] == "inverted" and insight.stance == "bearish"
    assert insight.metrics["spread_2s10s"] == -0.09 and insight.metrics["vix"] == 21.4
    assert insight.simulated is True


async def test_a_monitors_alert_is_evidence_and_the_narrative_cites_it(tmp_path: Path) -> None:
    """A user's `wsb` alert for GME shows in RedditAgent's GME evidence and in the Narrative
    Brain's GME narrative (drivers and alerts_cited); the brain uses reddit's GME insight."""
    reddit = RedditAgent({"cadence": "10s"})
    brain = NarrativeBrain({"cadence": "15s", "voice": "plain"})
    run, handles = await start(tmp_path, [reddit, brain])
    try:
        await run.play(2)
        await run.node.publish_alert(
            alert_type="wsb",
            source="wsb_monitor",
            symbol="GME",
            content="GME trending on r/wallstreetbets",
            severity="low",
        )
        await run.sync()
        await run.play(31)
    finally:
        await stop(handles)
    external = [e for e in reddit.latest["GME"].evidence if getattr(e, "external", False)]
    assert [(e.source, e.text) for e in external] == [
        ("wsb_monitor", "GME trending on r/wallstreetbets")
    ]
    stories = [m["narrative"] for m in run.of("narrative")]
    gme = [s for s in stories if s["symbol"] == "GME"]
    assert gme, "no GME narrative"
    last = gme[-1]
    assert {"agent": "monitor:wsb_monitor", "text": "GME trending on r/wallstreetbets"} in last[
        "drivers"
    ]
    assert last["alerts_cited"][0]["source"] == "wsb_monitor"
    reddit_ids = {m["id"] for m in run.of("agent_insight", agent="reddit")}
    used = [u for u in last["insights_used"] if u["agent"] == "reddit"]
    assert used and used[0]["symbol"] == "GME" and used[0]["id"] in reddit_ids
    assert last["voice"] == "plain" and last["stance"] == "bullish"
    assert any(s["symbol"] is None for s in stories)


async def test_the_brain_speaks_at_once_on_a_high_alert_and_not_when_nothing_changed(
    tmp_path: Path,
) -> None:
    """The high-severity spike at 5 s triggers a narrative at 5 s (not waiting for the 60 s
    cadence); an evaluation with unchanged inputs publishes nothing new."""
    reddit = RedditAgent({"cadence": "1m"})
    brain = NarrativeBrain({"cadence": "1m"})
    run, handles = await start(tmp_path, [reddit, brain])
    try:
        await run.play(8)
        first = list(run.of("narrative"))
        await brain.run_now()
        await run.sync()
        again = list(run.of("narrative"))
    finally:
        await stop(handles)
    assert first and {m["timestamp"][:19] for m in first} == {at(5).isoformat()[:19]}
    # the other symbols' insights so far have no posts behind them (confidence 0): no story
    assert {m["narrative"]["symbol"] for m in first} == {None, "GME"}
    assert again == first
    assert brain.last_run_reason == "manual"


def test_builtin_table_names_the_three_agents() -> None:
    """builtin_agents() builds reddit, macro and narrative with their validated options."""
    table = builtin_agents()
    assert isinstance(table["reddit"]({"spike_velocity": 4}), RedditAgent)
    assert isinstance(table["macro"]({}), MacroAgent)
    assert isinstance(table["narrative"]({"voice": "plain"}), NarrativeBrain)
    with pytest.raises(ValueError, match="voice"):
        table["narrative"]({"voice": "shouty"})
    assert OPEN + timedelta(0) == at(0)


def test_bad_options_name_the_key() -> None:
    """An unknown VIX regime or severity is refused with the key named."""
    with pytest.raises(ValueError, match="vix_alert_regimes"):
        MacroAgent({"vix_alert_regimes": ["panic"]})
    with pytest.raises(ValueError, match="event_severities"):
        NarrativeBrain({"event_severities": ["loud"]})
    with pytest.raises(ValueError, match="timeout"):
        NarrativeBrain({"llm": {"timeout": 0}})


async def test_a_signal_speaks_at_once_and_stale_insights_are_left_out(tmp_path: Path) -> None:
    """A signal triggers the brain now; the narrative cites it; an insight older than
    max_insight_age is not used while a fresh one is."""
    brain = NarrativeBrain({"cadence": "1h", "max_insight_age": "30m", "voice": "plain"})
    run, handles = await start(tmp_path, [brain])
    try:
        old = (OPEN - timedelta(hours=2)).isoformat()
        for agent, as_of, score in (("gamma", old, -0.9), ("market", OPEN.isoformat(), 0.5)):
            await run.node.publish_agent_insight(
                agent,
                {
                    "symbol": "AMD",
                    "stance": "bullish" if score > 0 else "bearish",
                    "score": score,
                    "confidence": 0.8,
                    "headline": f"{agent} on AMD",
                    "as_of": as_of,
                },
            )
        await run.node.publish_signal(
            {
                "symbol": "AMD",
                "action": "buy",
                "entry": 150.5,
                "stop": 147,
                "target": 158,
                "timeframe": "1d",
            }
        )
        await until(lambda: bool(run.of("narrative")))
        await brain.settled()
    finally:
        await stop(handles)
    [amd] = [m["narrative"] for m in run.of("narrative") if m["narrative"]["symbol"] == "AMD"]
    assert brain.last_run_reason is not None and brain.last_run_reason.startswith("trigger")
    assert [u["agent"] for u in amd["insights_used"]] == ["market"]
    assert amd["stance"] == "bullish"
    assert {"agent": "signal", "text": "buy AMD: entry 150.5, stop 147, target 158 (1d)"} in amd[
        "drivers"
    ]


class StubDarkPool(BaseAgent):
    """A stand-in named darkpool: one SPY insight per evaluation, no channels of its own."""

    name = "darkpool"

    def __init__(self) -> None:
        super().__init__({"cadence": "1m"})
        self.messages: list[dict[str, Any]] = []

    def on_message(self, message: Mapping[str, Any]) -> None:
        self.messages.append(dict(message))

    async def evaluate(self, now: datetime) -> list[Insight]:
        return [Insight(symbol="SPY", score=0.1, confidence=0.5, headline="SPY prints", as_of=now)]


async def test_the_base_adds_a_monitors_dark_pool_alert_to_darkpools_spy_evidence(
    tmp_path: Path,
) -> None:
    """A user's `dark_pool` alert for SPY lands in the darkpool agent's SPY evidence (once,
    with its id) without the agent reading unified itself; other types and agents' own alerts
    are not taken, and on_message never sees unified."""
    agent = StubDarkPool()
    run, handles = await start(tmp_path, [agent])
    try:
        ids = []
        for alert_type, source in (
            ("dark_pool", "dp_monitor"),
            ("gamma_flip", "gex_monitor"),
            ("dark_pool", "darkpool_agent"),
        ):
            result = await run.node.publish_alert(
                alert_type=alert_type, source=source, symbol="SPY", content=f"{source} says hi"
            )
            ids.append(result.id)
        await run.sync()
        await until(lambda: agent.external.taken == 1)
        await run.clock.advance(OPEN + timedelta(seconds=60))
        await agent.settled()
    finally:
        await stop(handles)
    evidence = agent.latest["SPY"].evidence
    assert [(e.source, e.text, getattr(e, "alert_id", None)) for e in evidence] == [
        ("dp_monitor", "dp_monitor says hi", ids[0])
    ]
    assert getattr(evidence[0], "external", None) is True
    assert agent.messages == [] and agent.status()["monitor_evidence"] == 1
