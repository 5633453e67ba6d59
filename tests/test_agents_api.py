"""The agents' REST endpoints and CLI against a real hub (uvicorn on a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from alphawire.agents.market import MarketAgent
from alphawire.agents.signal import SignalAgent
from alphawire.cli import main
from alphawire.clock import VirtualClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.records import Quote
from conftest import RunningHub, start_hub

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def quote(symbol: str, last: float, seconds: float) -> Quote:
    return Quote(
        source="test",
        symbol=symbol,
        ts=OPEN + timedelta(seconds=seconds),
        bid=last - 0.01,
        ask=last + 0.01,
        bid_size=1,
        ask_size=1,
        last=last,
        last_size=1,
        volume=5000,
        open=100.0,
        prev_close=99.0,
    )


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    clock = VirtualClock(OPEN)
    node = Node(
        Settings(data_dir=tmp_path, publish_token="test-token"),
        agents=[MarketAgent({"cadence": "1m"}), SignalAgent({"cadence": "1m"})],
        watchlist=["SPY", "QQQ"],
        clock=clock,
    )
    running = start_hub(node.settings, node=node)
    running.call(node.agents["market"].started())  # type: ignore[attr-defined]

    async def emit() -> None:
        intake = node.intake.context("test")
        await intake.emit([quote("SPY", 100.5, 1), quote("QQQ", 98.0, 2)])
        await clock.advance(OPEN + timedelta(seconds=60))
        await node.agents["market"].settled()  # type: ignore[attr-defined]
        await intake.emit([quote("SPY", 101.0, 61)])

    running.call(emit())
    yield running
    running.stop()


def test_agents_list_latest_history_and_run(hub: RunningHub) -> None:
    """GET /agents lists both with cadence and last run; POST run (token) evaluates now and
    returns the insights; GET /agents/market has the latest per symbol, market-wide first;
    /insights filters by symbol and time and bounds limit."""
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        listed = http.get("/api/v1/agents").json()["agents"]
        assert set(listed) == {"market", "signal"}
        market = listed["market"]
        assert (market["state"], market["cadence_seconds"]) == ("running", 60.0)
        assert market["last_run"] == "2026-12-04T14:31:00+00:00"
        assert market["last_error"] is None and market["task"]["state"] == "running"

        assert http.post("/api/v1/agents/market/run").status_code == 401
        ran = http.post("/api/v1/agents/market/run", headers=hub.headers())
        assert ran.status_code == 200
        insights = ran.json()["insights"]
        assert [i["symbol"] for i in insights] == ["SPY", "QQQ", None]
        spy = insights[0]
        assert spy["metrics"]["last"] == 101.0 and spy["metrics"]["gap_pct"] == pytest.approx(
            1.0101, abs=1e-4
        )
        assert insights[2]["metrics"]["breadth"] == {"advancers": 1, "decliners": 1, "unchanged": 0}

        latest = http.get("/api/v1/agents/MARKET").json()
        assert [i["symbol"] for i in latest["insights"]] == [None, "QQQ", "SPY"]
        assert latest["status"]["runs"] == 2

        page = http.get("/api/v1/agents/market/insights", params={"symbol": "spy"}).json()
        assert page["channel"] == "agent_market"
        assert [i["insight"]["metrics"]["last"] for i in page["items"]] == [100.5, 101.0]
        assert page["items"][0]["seq"] < page["items"][1]["seq"]
        assert (
            len(http.get("/api/v1/agents/market/insights", params={"limit": 1}).json()["items"])
            == 1
        )
        market_wide = http.get("/api/v1/agents/market/insights", params={"symbol": "market"}).json()
        assert {i["insight"]["symbol"] for i in market_wide["items"]} == {None}
        insights_url = "/api/v1/agents/market/insights"
        before = http.get(insights_url, params={"since": "2026-12-04T14:30:59Z"}).json()
        assert len(before["items"]) == 6  # the cadence's three and the run's, all at 14:31
        after = http.get(insights_url, params={"since": "2026-12-04T14:31:00+00:00"}).json()
        assert after["items"] == []
        assert (
            http.get("/api/v1/agents/market/insights", params={"since": "yesterday"}).status_code
            == 422
        )
        assert http.get("/api/v1/agents/market/insights", params={"limit": 0}).status_code == 422
        missing = http.get("/api/v1/agents/nope")
        assert (
            missing.status_code == 404
            and "agents: market, signal" in missing.json()["error"]["message"]
        )
        assert http.post("/api/v1/agents/nope/run", headers=hub.headers()).status_code == 404


def test_narrative_latest_and_signal_performance(hub: RunningHub) -> None:
    """The newest narrative per symbol (market-wide without one), 404 for none; the signal
    agent's empty record."""
    batch = {
        "messages": [
            {
                "type": "narrative",
                "narrative": {"symbol": None, "headline": "old", "stance": "neutral"},
            },
            {
                "type": "narrative",
                "narrative": {"symbol": "SPY", "headline": "spy up", "stance": "bullish"},
            },
            {
                "type": "narrative",
                "narrative": {
                    "symbol": None,
                    "headline": "tape is calm",
                    "stance": "neutral",
                    "drivers": [{"agent": "market", "text": "breadth even"}],
                },
            },
        ]
    }
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        assert http.post("/api/v1/publish", json=batch, headers=hub.headers()).status_code == 202
        assert (
            http.get("/api/v1/narrative/latest").json()["narrative"]["headline"] == "tape is calm"
        )
        assert (
            http.get("/api/v1/narrative/latest", params={"symbol": "spy"}).json()["narrative"][
                "headline"
            ]
            == "spy up"
        )
        none = http.get("/api/v1/narrative/latest", params={"symbol": "QQQ"})
        assert (
            none.status_code == 404
            and none.json()["error"]["message"] == "no narrative about QQQ yet"
        )
        perf = http.get("/api/v1/signals/performance").json()
        assert perf == {
            "record": {
                "signals": 0,
                "hits": 0,
                "stops": 0,
                "expired": 0,
                "open": 0,
                "hit_rate": 0.0,
            },
            "open": [],
            "closed": [],
        }
    runner = CliRunner()
    shown = runner.invoke(main, ["narrative", "--url", hub.url])
    assert shown.exit_code == 0, shown.output
    assert "tape is calm" in shown.output and "  - breadth even" in shown.output


def test_openapi_documents_the_agent_endpoints_with_schemas(hub: RunningHub) -> None:
    """Every agent endpoint is in the OpenAPI document, its answer typed by a component,
    with the Insight schema among the components."""
    schema = httpx.get(hub.url + "/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/agents",
        "/api/v1/agents/{name}",
        "/api/v1/agents/{name}/insights",
        "/api/v1/agents/{name}/run",
        "/api/v1/narrative/latest",
        "/api/v1/signals/performance",
    ):
        assert path in paths, path
    ok = paths["/api/v1/agents/{name}/run"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]
    assert ok["schema"] == {"$ref": "#/components/schemas/RunResult"}
    components = schema["components"]["schemas"]
    assert {"Insight", "Evidence", "AgentList", "SignalPerformance"} <= set(components)
    assert components["Insight"]["properties"]["stance"]["enum"] == [
        "bullish",
        "bearish",
        "neutral",
    ]


def test_cli_lists_agents_shows_one_and_runs_it(hub: RunningHub) -> None:
    """`alphawire agents` prints a row per agent; NAME its insights; --run with the token."""
    runner = CliRunner()
    listed = runner.invoke(main, ["agents", "--url", hub.url])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0].startswith("agent ")
    assert any(line.startswith("market ") and "60s" in line for line in listed.output.splitlines())
    one = runner.invoke(main, ["agents", "market", "--url", hub.url])
    assert one.exit_code == 0, one.output
    lines = one.output.splitlines()
    assert lines[0].startswith("market: running, last run 2026-12-04T14:31:00")
    assert [line.split()[0] for line in lines[1:]] == ["market", "QQQ", "SPY"]
    assert lines[3].endswith("SPY 100.50, +1.52% on the day, going sideways")
    refused = runner.invoke(
        main, ["agents", "market", "--run", "--url", hub.url, "--token", "wrong"]
    )
    assert refused.exit_code == 1 and "hub answered 401: wrong publish token" in refused.output
    ran = runner.invoke(main, ["agents", "market", "--run", "--url", hub.url, "--token", hub.token])
    assert ran.exit_code == 0 and ran.output.startswith("market: 3 insights published")
