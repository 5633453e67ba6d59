"""BaseAgent: cadence on the clock, triggers, records and messages in, insights and alerts out."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

from alphawire.agents.base import Agent
from alphawire.agents.framework import AgentNotRunning, AgentOptions, BaseAgent, alert_embed
from alphawire.agents.insight import Evidence, Insight, numbers_backed, schema_text
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.records import Quote, Record

pytestmark = pytest.mark.anyio
# Friday 4 December 2026, 09:30 New York: a regular session.
OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def quote(symbol: str, last: float, at: datetime, simulated: bool = False) -> Quote:
    return Quote(
        source="test",
        symbol=symbol,
        ts=at,
        bid=last - 0.01,
        ask=last + 0.01,
        bid_size=100,
        ask_size=100,
        last=last,
        last_size=10,
        volume=1000,
        simulated=simulated,
    )


class EchoOptions(AgentOptions):
    threshold: float = 100.0


class EchoAgent(BaseAgent):
    """Reports each symbol's last price; alerts when it is above the threshold."""

    name = "echo"
    Options = EchoOptions
    records = ("quote",)
    channels = ("signals",)

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.last: dict[str, float] = {}
        self.evaluated_at: list[datetime] = []
        self.signals: list[str] = []
        self.claim: str | None = None  # a headline to publish instead (to test the check)
        self.fail = False

    def on_record(self, record: Record) -> None:
        assert isinstance(record, Quote)
        self.last[record.symbol] = record.last

    def on_message(self, message: Mapping[str, Any]) -> None:
        self.signals.append(message["signal"]["symbol"])
        self.trigger("signal")

    async def evaluate(self, now: datetime) -> list[Insight]:
        if self.fail:
            raise RuntimeError("bad data")
        self.evaluated_at.append(now)
        threshold = self.options.threshold  # type: ignore[attr-defined]
        out = []
        for symbol, last in sorted(self.last.items()):
            if last > threshold:
                await self.alert(
                    "above",
                    title=f"{symbol} above {threshold:g}",
                    symbol=symbol,
                    fields={"last": last},
                    severity="high",
                )
            out.append(
                Insight(
                    symbol=symbol,
                    stance="bullish" if last > threshold else "neutral",
                    score=0.5 if last > threshold else 0.0,
                    confidence=0.8,
                    headline=self.claim or f"{symbol} last {last:.2f}",
                    metrics={"last": last},
                    as_of=now,
                )
            )
        return out


@dataclass
class Harness:
    node: Node
    clock: VirtualClock
    agent: EchoAgent

    async def emit(self, *records: Record) -> None:
        await self.node.intake.context("test").emit(list(records))

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(self.clock.now() + timedelta(seconds=seconds))
        await self.agent.settled()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    clock = VirtualClock(OPEN)
    agent = EchoAgent({"cadence": "1m", "alert_cooldown": "5m"})
    node = Node(
        Settings(data_dir=tmp_path, publish_token="t"),
        agents=[agent],
        watchlist=["SPY", "GME"],
        clock=clock,
    )
    await node.start()
    await agent.started()
    try:
        yield Harness(node, clock, agent)
    finally:
        await node.stop()


async def test_an_agent_built_on_the_base_is_an_agent() -> None:
    """BaseAgent subclasses satisfy the Agent protocol and validate their options."""
    assert isinstance(EchoAgent(), Agent)
    with pytest.raises(pydantic.ValidationError, match="cadence"):
        EchoAgent({"cadence": "soon"})
    with pytest.raises(pydantic.ValidationError, match="threshhold"):
        EchoAgent({"threshhold": 1})
    with pytest.raises(AgentNotRunning):
        await EchoAgent().run_now()


async def test_evaluations_follow_the_cadence_of_the_clock_and_see_earlier_records(
    harness: Harness,
) -> None:
    """With cadence 1m, evaluations happen at open+60 s and +120 s exactly (not before), each
    seeing every record emitted before it, and publish on agent_echo with the due time."""
    async with harness.node.subscribe(["agent_echo"]) as sub:
        await harness.emit(quote("SPY", 99.0, OPEN))
        await harness.advance(59)
        assert harness.agent.evaluated_at == []
        await harness.emit(quote("SPY", 99.5, OPEN + timedelta(seconds=59)))
        await harness.advance(1)
        await harness.advance(60)
        assert harness.agent.evaluated_at == [
            OPEN + timedelta(seconds=60),
            OPEN + timedelta(seconds=120),
        ]
        first = await asyncio.wait_for(anext(aiter(sub)), 5)
    assert first["agent"] == "echo" and first["timestamp"].startswith("2026-12-04T14:31:00")
    assert first["insight"]["headline"] == "SPY last 99.50"
    assert first["insight"]["metrics"] == {"last": 99.5}
    assert "simulated" not in first["insight"]
    status = harness.agent.status()
    assert status["runs"] == 2 and status["insights"] == 2
    assert status["last_run"] == "2026-12-04T14:32:00+00:00" and status["last_error"] is None
    assert harness.agent.latest["SPY"].metrics == {"last": 99.5}


async def test_a_trigger_evaluates_without_waiting_for_the_cadence(harness: Harness) -> None:
    """A message on a declared channel that calls trigger() causes an evaluation at once."""
    await harness.emit(quote("GME", 20.0, OPEN))
    await harness.node.publish_signal({"symbol": "GME", "action": "buy"})
    for _ in range(100):
        if harness.agent.evaluated_at:
            break
        await asyncio.sleep(0.01)
    await harness.agent.settled()
    assert harness.agent.signals == ["GME"]
    assert harness.agent.evaluated_at == [OPEN]
    assert harness.agent.last_run_reason == "trigger: signal"


async def test_alerts_respect_the_dedup_key_cooldown_on_the_clock(harness: Harness) -> None:
    """Above the threshold every minute for 6 minutes with a 5-minute cooldown: exactly two
    alerts (at +1 min and +6 min), with the embed's colour, fields and dedup key."""
    async with harness.node.subscribe(["unified"]) as sub:
        await harness.emit(quote("SPY", 101.0, OPEN))
        for _ in range(6):
            await harness.advance(60)
        alerts = [await asyncio.wait_for(anext(aiter(sub)), 5) for _ in range(2)]
    assert [a["timestamp"][:19] for a in alerts] == ["2026-12-04T14:31:00", "2026-12-04T14:36:00"]
    alert = alerts[0]
    assert (alert["alert_type"], alert["symbol"], alert["source"]) == ("above", "SPY", "echo_agent")
    assert alert["content"] == "SPY above 100" and alert["severity"] == "high"
    assert alert["embed"]["color"] == 0xF0883E
    assert alert["embed"]["fields"] == [{"name": "last", "value": "101", "inline": True}]
    assert harness.agent.counts["alerts"] == 2 and harness.agent.counts["suppressed"] == 4


async def test_an_insight_stating_an_unbacked_number_is_not_published(harness: Harness) -> None:
    """A headline with a number its metrics do not hold is refused and named in last_error."""
    harness.agent.claim = "SPY last 42.00"
    await harness.emit(quote("SPY", 99.0, OPEN))
    insights = await harness.agent.run_now()
    assert insights == []
    assert harness.agent.counts["rejected"] == 1
    assert harness.agent.last_error is not None and "42.00" in harness.agent.last_error
    harness.agent.claim = None
    (insight,) = await harness.agent.run_now()
    assert insight.headline == "SPY last 99.00"


async def test_a_failing_evaluation_is_reported_and_the_agent_goes_on(harness: Harness) -> None:
    """An exception in evaluate is the agent's last_error; the next cadence runs again."""
    harness.agent.fail = True
    await harness.advance(60)
    assert harness.agent.last_error == "evaluate: RuntimeError: bad data"
    assert harness.agent.last_error_at == OPEN + timedelta(seconds=60)
    harness.agent.fail = False
    await harness.advance(60)
    assert harness.agent.evaluated_at == [OPEN + timedelta(seconds=120)]


async def test_simulated_inputs_mark_the_insights_simulated(harness: Harness) -> None:
    """An insight from simulated records says simulated: true; its alert footer says so."""
    await harness.emit(quote("SPY", 120.0, OPEN, simulated=True))
    (insight,) = await harness.agent.run_now()
    assert insight.to_json()["simulated"] is True


async def test_intraday_only_skips_the_cadence_while_the_market_is_closed(tmp_path: Path) -> None:
    """With intraday_only, no cadence evaluation happens after the close (16:00 New York)."""
    close = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    clock = VirtualClock(close - timedelta(minutes=2))
    agent = EchoAgent({"cadence": "1m", "intraday_only": True})
    node = Node(Settings(data_dir=tmp_path, publish_token="t"), agents=[agent], clock=clock)
    await node.start()
    try:
        await agent.started()
        for _ in range(4):
            await clock.advance(clock.now() + timedelta(minutes=1))
            await agent.settled()
    finally:
        await node.stop()
    assert agent.evaluated_at == [close - timedelta(minutes=1)]


def test_numbers_backed_by_metrics_levels_and_evidence_with_rounding() -> None:
    """The documented example: 1.3 % backed by 1.27, 2.4M by 2,412,000; 1.4 % is not."""
    metrics = {"gap_pct": 1.27, "volume": 2_412_000, "nested": [{"z": -2.0}], "flag": True}
    assert numbers_backed("SPY gapped up 1.3 % on 2.4M shares", metrics, []) == []
    assert numbers_backed("SPY gapped up 1.4 % on 2.4M shares", metrics, []) == ["1.4 %"]
    assert numbers_backed("z-score -2.0 at 2s10s and 10Y", metrics, []) == []
    assert numbers_backed("short ratio 62 %", {"short_ratio": 0.62}, []) == []
    assert numbers_backed("wall at 450", {}, [], levels={"call_wall": 450.0}) == []
    evidence = [Evidence(source="finra", value="block", time=OPEN, text="50,000 shares at 451.20")]
    assert numbers_backed("a block of 50,000 at 451.2", {}, evidence) == []
    assert numbers_backed("1 true thing", {"flag": True}, []) == ["1"]


def test_the_insight_schema_file_is_current() -> None:
    """docs/insight.schema.json is the model's schema as generated (regenerate on change)."""
    assert (ROOT / "docs" / "insight.schema.json").read_text() == schema_text()
    schema = json.loads(schema_text())
    assert set(schema["required"]) == {"score", "confidence", "headline", "as_of"}
    assert schema["properties"]["stance"]["enum"] == ["bullish", "bearish", "neutral"]


def test_insight_validation_names_the_bad_field() -> None:
    """A score outside -1..1 or an unknown stance is refused, naming the field."""
    with pytest.raises(pydantic.ValidationError, match="score"):
        Insight(score=2, confidence=0.5, headline="x", as_of=OPEN)
    with pytest.raises(pydantic.ValidationError, match="stance"):
        Insight(stance="moon", score=0, confidence=0.5, headline="x", as_of=OPEN)  # type: ignore[arg-type]
    wire = Insight(
        symbol="spy", score=0, confidence=0.5, headline="x", as_of=OPEN, extra=1
    ).to_json()
    assert (
        wire["symbol"] == "SPY" and wire["extra"] == 1 and wire["as_of"] == "2026-12-04T14:30:00Z"
    )


def test_alert_embed_cuts_to_discord_limits() -> None:
    """Long titles and too many fields are cut to Discord's limits, not refused."""
    embed = alert_embed("t" * 300, fields=[(f"f{i}", i) for i in range(30)], severity="critical")
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(embed["fields"]) == 25 and embed["color"] == 0xED4245


async def test_the_readme_example_agent_runs(tmp_path: Path) -> None:
    """The README's SpreadAgent, run in a node: a 0.5 % spread gives an insight and an alert."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Writing an agent") :]
    code = section[section.index("```python\n") + 10 : section.index("\n```\n")]
    assert 25 <= len(code.splitlines()) <= 45
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    agent = namespace["SpreadAgent"]({"cadence": "30s"})
    clock = VirtualClock(OPEN)
    node = Node(Settings(data_dir=tmp_path, publish_token="t"), agents=[agent], clock=clock)
    await node.start()
    try:
        await agent.started()
        async with node.subscribe(["unified"]) as sub:
            spy = quote("SPY", 100.0, OPEN)
            await node.intake.context("test").emit(
                [dataclasses.replace(spy, bid=99.75, ask=100.25)]
            )
            await clock.advance(OPEN + timedelta(seconds=30))
            await agent.settled()
            alert = await asyncio.wait_for(anext(aiter(sub)), 5)
    finally:
        await node.stop()
    assert (alert["alert_type"], alert["content"]) == ("wide_spread", "SPY spread 50.0 bps")
    assert agent.latest["SPY"].headline == "SPY trades 50.0 bps wide"


async def test_compute_runs_heavy_work_off_the_event_loop(harness: Harness) -> None:
    """compute() runs the function in a worker thread and returns its result."""
    import threading

    loop_thread = threading.get_ident()
    ident, total = await harness.agent.compute(
        lambda n: (threading.get_ident(), sum(range(n))), 1000
    )
    assert ident != loop_thread and total == 499_500


async def test_an_agent_alert_reaches_discord_once_per_cooldown(tmp_path: Path) -> None:
    """Above the threshold for 6 minutes, a 5-minute cooldown: the fake Discord webhook gets
    exactly the two alerts the hub got, each with the agent's embed."""
    from alphawire.alerting.routes import RouteTable
    from fake_discord import FakeDiscord

    with FakeDiscord() as discord:
        hook = discord.add_webhook("112233445566778899", "agent-token")
        routes = RouteTable.from_mapping(
            {"routes": [{"name": "desk", "webhook_url_env": "HOOK", "cooldown": 0}]},
            "test",
            {"HOOK": hook},
        )
        clock = VirtualClock(OPEN)
        agent = EchoAgent({"cadence": "1m", "alert_cooldown": "5m"})
        node = Node(
            Settings(data_dir=tmp_path, publish_token="t"),
            agents=[agent],
            routes=routes,
            clock=clock,
        )
        await node.start()
        try:
            await agent.started()
            await node.intake.context("test").emit([quote("SPY", 101.0, OPEN)])
            for minute in range(1, 7):
                await clock.advance(OPEN + timedelta(minutes=minute))
                await agent.settled()
            for _ in range(400):  # delivery to Discord is asynchronous
                if len(discord.messages("112233445566778899")) >= 2:
                    break
                await asyncio.sleep(0.02)
        finally:
            await node.stop()
        sent = discord.messages("112233445566778899")
    assert [m["content"] for m in sent] == ["SPY above 100", "SPY above 100"]
    assert [m["embeds"][0]["timestamp"][:19] for m in sent] == [
        "2026-12-04T14:31:00",
        "2026-12-04T14:36:00",
    ]
    assert sent[0]["embeds"][0]["footer"]["text"] == "alphawire · echo agent"
