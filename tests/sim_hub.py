"""A real hub running the simulated market and every built-in agent on a virtual clock.

The clock only moves when a test says so (``SimHub.play``), half a second at a time, and each
agent settles after every step, so a run is deterministic: the same seed gives the same
insights, signals, narratives and alerts in the same order, however loaded the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import RunningHub, start_hub

from alphawire.agents.builtin import builtin_agents
from alphawire.alerting.routes import RouteTable
from alphawire.calendar import default_calendar
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.sim import DEFAULT_WATCHLIST, SimulatedSource

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)  # Friday 09:30 New York: a regular session


@dataclass
class SimHub:
    hub: RunningHub
    clock: VirtualClock
    played: float = 0.0  # simulated seconds since the open

    def play(self, seconds: float) -> None:
        """Move the virtual clock ``seconds`` further, half a second at a time, letting every
        agent settle after each step."""
        agents = list(self.hub.node.agents.values())
        for agent in agents:
            self.hub.call(agent.started())
        steps = int(seconds * 2)
        start = self.played
        for step in range(1, steps + 1):
            self.hub.call(self.clock.advance(OPEN + timedelta(seconds=start + step / 2)))
            for agent in agents:
                self.hub.call(agent.settled())
        self.played = start + steps / 2

    def history(self, channel: str) -> list[dict[str, Any]]:
        """Everything the hub still holds for ``channel``, oldest first."""
        response = httpx.get(
            f"{self.hub.url}/api/v1/history/{channel}", params={"limit": 1000}, timeout=10
        )
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def insights(self, agent: str, symbol: str | None) -> list[dict[str, Any]]:
        """``agent``'s insights about ``symbol`` (None: market-wide), oldest first."""
        return [
            m["insight"]
            for m in self.history(f"agent_{agent}")
            if m.get("type") == "agent_insight" and m["insight"].get("symbol") == symbol
        ]


def start_sim_hub(tmp_path: Path, watchlist: tuple[str, ...] = DEFAULT_WATCHLIST) -> SimHub:
    """A hub with the simulated market (seed 7, from the open) and all nine built-in agents."""
    clock = VirtualClock(OPEN)
    settings = Settings(data_dir=tmp_path / "sim-hub", publish_token="test-token")
    node = Node(
        settings,
        routes=RouteTable(),
        sources=[SimulatedSource(seed=7, start=OPEN)],
        agents=[factory({}) for factory in builtin_agents().values()],
        watchlist=watchlist,
        clock=clock,
        calendar=default_calendar(),
    )
    return SimHub(start_hub(settings, node=node), clock)
