"""The agents' REST endpoints: status, latest insights, insight history, run now, the latest
narrative and the signals' record.

=======================================  ===========================================================
``GET /api/v1/agents``                   every agent: state, cadence, last run / error / insight
``GET /api/v1/agents/{name}``            its status and latest insight per symbol
``GET /api/v1/agents/{name}/insights``   ``agent_{name}``'s history, ``?symbol=&since=&limit=``
``POST /api/v1/agents/{name}/run``       evaluate now (publish token); the insights published
``GET /api/v1/narrative/latest``         the newest narrative for ``?symbol=`` (none: market-wide)
``GET /api/v1/signals/performance``      the signal agent's record, open and closed signals
=======================================  ===========================================================

Reads of history look at the newest ``SCAN`` messages of a channel (bounded work per request).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from alphawire import channels
from alphawire.agents.framework import AgentNotRunning
from alphawire.agents.insight import Insight
from alphawire.errors import ChannelError
from alphawire.node import Node
from alphawire.web.requests import ApiError, ORJSONResponse, authorize

router = APIRouter(prefix="/api/v1", tags=["agents"])

SCAN = 1000  # newest messages of a channel a history read looks at


class AgentStatus(BaseModel):
    """One agent's state (more keys for agents built on ``BaseAgent``: counters, stream)."""

    model_config = ConfigDict(extra="allow")

    name: str
    state: str | None = None
    cadence_seconds: float | None = None
    last_run: datetime | None = None
    last_error: str | None = None
    last_insight_at: datetime | None = None
    task: dict[str, Any] | None = Field(default=None, description="the supervised task")


class AgentList(BaseModel):
    """``GET /api/v1/agents``."""

    agents: dict[str, AgentStatus]


class AgentLatest(BaseModel):
    """``GET /api/v1/agents/{name}``: market-wide insight first, then by symbol."""

    agent: str
    status: AgentStatus
    insights: list[Insight]


class InsightItem(BaseModel):
    """One delivered insight of the channel's history."""

    seq: int
    id: str | None = None
    timestamp: datetime | None = None
    insight: Insight


class InsightPage(BaseModel):
    """``GET /api/v1/agents/{name}/insights``: oldest first."""

    agent: str
    channel: str
    items: list[InsightItem]


class RunResult(BaseModel):
    """``POST /api/v1/agents/{name}/run``."""

    agent: str
    insights: list[Insight]


class NarrativeLatest(BaseModel):
    """``GET /api/v1/narrative/latest``."""

    seq: int
    id: str | None = None
    timestamp: datetime | None = None
    narrative: dict[str, Any]


class SignalRecord(BaseModel):
    """Counts of signals and their outcomes; ``hit_rate`` = hits / closed (0..1)."""

    signals: int
    hits: int
    stops: int
    expired: int
    open: int
    hit_rate: float


class SignalPerformance(BaseModel):
    """``GET /api/v1/signals/performance``."""

    record: SignalRecord
    open: list[dict[str, Any]]
    closed: list[dict[str, Any]]


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _agent(node: Node, name: str) -> Any:
    agent = node.agents.get(name.lower())
    if agent is None:
        known = ", ".join(sorted(node.agents)) or "none"
        raise ApiError(404, "not_found", f"no agent called {name!r} runs here (agents: {known})")
    return agent


async def _history(node: Node, channel: str) -> list[tuple[int, dict[str, Any]]]:
    page = await node.broker.history(channel, None, SCAN)
    return [(seq, orjson.loads(body)) for seq, body in page.entries]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            422, "invalid_parameter", f"{name} must be an ISO-8601 time, got {value[:40]!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@router.get("/agents", response_model=AgentList, summary="Agents: state, cadence, last run")
async def list_agents(request: Request) -> Response:
    """Every agent by name: ``state``, ``cadence_seconds``, ``last_run``, ``last_error``,
    ``last_insight_at``, counters (runs, insights, alerts, suppressed), and its ``task``."""
    return ORJSONResponse({"agents": _node(request).agents_status()})


@router.get(
    "/agents/{name}", response_model=AgentLatest, summary="An agent's latest insight per symbol"
)
async def get_agent(request: Request, name: str) -> Response:
    """The agent's status and its latest insight per symbol (market-wide, ``symbol: null``,
    first); read from the agent, or from its channel's history when it keeps none."""
    node = _node(request)
    agent = _agent(node, name)
    status = node.agents_status()[agent.name]
    latest = getattr(agent, "latest", None)
    if latest is not None:
        found = {symbol: insight.to_json() for symbol, insight in latest.items()}
    else:
        found = {}
        for _, message in await _history(node, channels.AGENT_PREFIX + agent.name):
            insight = message.get("insight")
            if isinstance(insight, dict):
                found[insight.get("symbol")] = insight
    ordered = sorted(found.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    return ORJSONResponse(
        {"agent": agent.name, "status": status, "insights": [i for _, i in ordered]}
    )


@router.get(
    "/agents/{name}/insights", response_model=InsightPage, summary="An agent's insight history"
)
async def agent_insights(
    request: Request,
    name: str,
    symbol: str | None = Query(None, description="only this symbol ('market': market-wide)"),
    since: str | None = Query(None, description="only insights published after this ISO time"),
    limit: int = Query(100, ge=1, le=SCAN, description="at most this many, the newest"),
) -> Response:
    """``agent_{name}``'s recent insights, oldest first: of the newest 1,000 messages, those
    of ``symbol`` (``market`` for market-wide ones) published after ``since``, at most
    ``limit`` (the newest)."""
    try:
        channel = channels.normalize_channel(channels.AGENT_PREFIX + name)
    except ChannelError as exc:
        raise ApiError(422, "invalid_parameter", str(exc)) from None
    after = _when(since, "since")
    wanted: str | None = None
    if symbol is not None and symbol.lower() != "market":
        try:
            wanted = channels.normalize_symbol(symbol)
        except ChannelError as exc:
            raise ApiError(422, "invalid_parameter", str(exc)) from None
    items = []
    for seq, message in await _history(_node(request), channel):
        insight = message.get("insight")
        if not isinstance(insight, dict):
            continue
        if symbol is not None and insight.get("symbol") != wanted:
            continue
        stamp = _when(message.get("timestamp"), "timestamp") if message.get("timestamp") else None
        if after is not None and (stamp is None or stamp <= after):
            continue
        items.append(
            {
                "seq": seq,
                "id": message.get("id"),
                "timestamp": message.get("timestamp"),
                "insight": insight,
            }
        )
    return ORJSONResponse(
        {
            "agent": channel.removeprefix(channels.AGENT_PREFIX),
            "channel": channel,
            "items": items[-limit:],
        }
    )


@router.post(
    "/agents/{name}/run",
    response_model=RunResult,
    summary="Run an agent now (publish token)",
    openapi_extra={"security": [{"publishToken": []}]},
)
async def run_agent(request: Request, name: str) -> Response:
    """Evaluate the agent at once (its insights are published as on its cadence); the
    insights it published. 409 when the agent cannot run on demand or is not running."""
    node = authorize(request)
    agent = _agent(node, name)
    run_now = getattr(agent, "run_now", None)
    if run_now is None:
        raise ApiError(409, "not_supported", f"agent {agent.name!r} does not run on demand")
    try:
        insights = await run_now()
    except AgentNotRunning as exc:
        raise ApiError(409, "not_running", str(exc)) from None
    except Exception as exc:
        raise ApiError(
            500, "agent_failed", f"agent {agent.name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    return ORJSONResponse({"agent": agent.name, "insights": [i.to_json() for i in insights]})


@router.get("/narrative/latest", response_model=NarrativeLatest, summary="The newest narrative")
async def latest_narrative(
    request: Request,
    symbol: str | None = Query(None, description="the symbol's narrative; none: market-wide"),
) -> Response:
    """The newest narrative about ``symbol`` (market-wide without it) among the newest 1,000
    on ``narrative``; 404 when there is none yet."""
    wanted = None
    if symbol is not None:
        try:
            wanted = channels.normalize_symbol(symbol)
        except ChannelError as exc:
            raise ApiError(422, "invalid_parameter", str(exc)) from None
    for seq, message in reversed(await _history(_node(request), channels.NARRATIVE)):
        narrative = message.get("narrative")
        if isinstance(narrative, dict) and narrative.get("symbol") == wanted:
            return ORJSONResponse(
                {
                    "seq": seq,
                    "id": message.get("id"),
                    "timestamp": message.get("timestamp"),
                    "narrative": narrative,
                }
            )
    about = wanted or "the market"
    raise ApiError(404, "not_found", f"no narrative about {about} yet")


@router.get(
    "/signals/performance",
    response_model=SignalPerformance,
    summary="The signal agent's record",
)
async def signal_performance(request: Request) -> Response:
    """Every signal's outcome so far: ``record`` (signals, hits, stops, expired, open,
    hit_rate = hits / closed), the open signals and the closed ones (newest first)."""
    agent = _node(request).agents.get("signal")
    performance = getattr(agent, "performance", None)
    if performance is None or getattr(agent, "ctx", None) is None:
        raise ApiError(404, "not_found", "the signal agent is not running here")
    return ORJSONResponse(performance())


__all__ = ["router"]
