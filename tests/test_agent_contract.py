"""The Agent contract, run against every built-in agent together on the simulated market.

One node runs every agent of ``builtin_agents()`` at its default options on the sim's first
two minutes (VirtualClock); each agent must then: build from its options and refuse an unknown
key by name, satisfy the ``Agent`` protocol, report the status fields the REST endpoints read,
have run without an error, publish only insights that validate as ``Insight`` with every
number in their text backed and ``simulated: true``, and raise only alerts with an embed and
a severity. The dashboard's eight agents must each have published within those two minutes.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

from alphawire.agents.base import Agent
from alphawire.agents.builtin import builtin_agents
from alphawire.agents.insight import Insight
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.sim import DEFAULT_WATCHLIST, SimulatedSource
from sim_fixtures import OPEN

DASHBOARD_AGENTS = (
    "gamma",
    "darkpool",
    "squeeze",
    "options",
    "reddit",
    "macro",
    "market",
    "signal",
)
STATUS_FIELDS = ("name", "state", "cadence_seconds", "last_run", "last_error", "last_insight_at")
SECONDS = 120
NAMES = sorted(builtin_agents())


@functools.cache
def session() -> dict[str, Any]:
    """Every built-in agent on the sim's first two minutes: statuses and what they published."""
    return asyncio.run(_run())


async def _run() -> dict[str, Any]:
    agents = [factory({}) for factory in builtin_agents().values()]
    clock = VirtualClock(OPEN)
    end = OPEN + timedelta(seconds=SECONDS)
    with tempfile.TemporaryDirectory() as data_dir:
        node = Node(
            Settings(data_dir=Path(data_dir), publish_token="t"),
            sources=[SimulatedSource(seed=7, start=OPEN, end=end)],
            agents=agents,
            watchlist=DEFAULT_WATCHLIST,
            clock=clock,
        )
        seen: list[dict[str, Any]] = []
        async with node.subscribe(["agent_*", "unified"]) as sub:

            async def collect() -> None:
                async for item in sub:
                    seen.append(item)

            reader = asyncio.ensure_future(collect())
            await node.start()
            try:
                for second in range(5, SECONDS + 5, 5):
                    await clock.advance(OPEN + timedelta(seconds=second))
                    for agent in agents:
                        settled = getattr(agent, "settled", None)
                        if settled is not None:
                            await settled()
                published = sum(
                    s.get("insights", 0) + s.get("alerts", 0) for s in node.agents_status().values()
                )
                for _ in range(200):  # the last deliveries to the subscription
                    if sum(m.get("type") in ("agent_insight", "alert") for m in seen) >= published:
                        break
                    await asyncio.sleep(0.01)
                statuses = node.agents_status()
            finally:
                await node.stop()
                reader.cancel()
    return {"statuses": statuses, "messages": seen}


@pytest.mark.parametrize("name", NAMES)
def test_agent_builds_from_options_and_refuses_unknown_keys(name: str) -> None:
    """The factory builds an Agent from {} and refuses a misspelt key, naming it."""
    factory = builtin_agents()[name]
    agent = factory({})
    assert isinstance(agent, Agent)
    assert agent.name == name
    with pytest.raises(pydantic.ValidationError, match="cadense"):
        factory({"cadense": "1m"})


@pytest.mark.parametrize("name", NAMES)
def test_agent_runs_without_error_and_reports_its_status(name: str) -> None:
    """After two simulated minutes: running, no error, no restart, the REST status fields."""
    status = session()["statuses"][name]
    assert set(STATUS_FIELDS) <= set(status), status
    assert status["last_error"] is None, status["last_error"]
    assert status["task"]["restarts"] == 0
    assert status["state"] not in ("stopped", "starting")


@pytest.mark.parametrize("name", NAMES)
def test_agent_publishes_only_valid_backed_simulated_insights(name: str) -> None:
    """Each insight on agent_{name} validates as Insight, states no unbacked number and says
    simulated: true; the dashboard's agents have published at least one."""
    insights = [
        m["insight"]
        for m in session()["messages"]
        if m.get("type") == "agent_insight" and m["channel"] == f"agent_{name}"
    ]
    if name in DASHBOARD_AGENTS:
        assert insights, f"{name} published no insight in {SECONDS} simulated seconds"
    for raw in insights:
        insight = Insight.model_validate(raw)
        assert insight.unbacked() == [], (insight.headline, insight.summary)
        assert raw.get("simulated") is True, raw["headline"]


@pytest.mark.parametrize("name", NAMES)
def test_agent_alerts_carry_an_embed_and_a_severity(name: str) -> None:
    """Every alert an agent raised has a titled, coloured embed and a severity."""
    alerts = [
        m
        for m in session()["messages"]
        if m.get("type") == "alert" and m.get("source") in (f"{name}_agent", name)
    ]
    for alert in alerts:
        assert alert["severity"] in ("info", "low", "medium", "high", "critical")
        assert alert["embed"]["title"] and isinstance(alert["embed"]["color"], int)
