"""The HTTP publish API: tokens, validation, all-or-nothing batches, and exact stats."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.conftest import RunningHub, connect, recv_json

pytestmark = pytest.mark.anyio

ALERT = {"alert_type": "dark_pool", "source": "dp_checker", "symbol": "SPY", "content": "2M @ 598"}


async def _stats(hub: RunningHub) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        data: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()
        return data


@pytest.mark.parametrize(
    ("path", "body", "channels"),
    [
        ("/api/v1/alerts", ALERT, ["unified"]),
        (
            "/api/v1/signals",
            {"signal": {"symbol": "nvda", "action": "buy"}},
            ["signals", "unified"],
        ),
        ("/api/v1/market/spy", {"data": {"price": 1.5}}, ["market_SPY"]),
        ("/api/v1/market/SPY", {"symbol": "spy", "data": {"price": 1.5}}, ["market_SPY"]),
        ("/api/v1/agents/GammaAgent/insights", {"insight": {"flip": 1}}, ["agent_gammaagent"]),
        ("/api/v1/narrative", {"narrative": {"headline": "x"}}, ["narrative"]),
    ],
)
async def test_typed_endpoints_accept_and_route(
    hub: RunningHub, path: str, body: dict[str, Any], channels: list[str]
) -> None:
    """Each typed endpoint answers 202 with the new id, its channels and their seq."""
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.post(path, json=body)
    assert response.status_code == 202, response.text
    data = response.json()
    assert data["channels"] == channels
    assert data["seq"] == dict.fromkeys(channels, 1)
    assert len(data["id"]) == 26


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dGVzdC10b2tlbg=="},
        {"Authorization": "Bearer"},
        {"Authorization": "test-token"},
    ],
)
async def test_missing_or_wrong_token_is_401_and_nothing_is_published(
    hub: RunningHub, headers: dict[str, str]
) -> None:
    """Publishing without the right bearer token gets 401 and publishes nothing."""
    async with httpx.AsyncClient(base_url=hub.url, headers=headers) as http:
        for path, body in (
            ("/api/v1/alerts", ALERT),
            ("/api/v1/publish", {"messages": [{"type": "alert", **ALERT}]}),
            ("/api/v1/market/SPY", {"data": {}}),
            ("/api/v1/alerts", "not json at all"),
        ):
            if isinstance(body, str):
                response = await http.post(path, content=body)
            else:
                response = await http.post(path, json=body)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "test-token" not in response.text
    stats = await _stats(hub)
    assert stats["published_total"] == 0


@pytest.mark.parametrize(
    ("path", "body", "status", "field", "fragment"),
    [
        ("/api/v1/alerts", b"{oops", 400, None, "not valid JSON"),
        ("/api/v1/alerts", b"", 400, None, "empty"),
        ("/api/v1/alerts", b"[1]", 422, None, "JSON object"),
        ("/api/v1/alerts", b'{"source":"x"}', 422, "alert_type", "Field required"),
        (
            "/api/v1/alerts",
            b'{"alert_type":"x","source":"s","symbol":"no way"}',
            422,
            "symbol",
            "1-20 characters",
        ),
        (
            "/api/v1/alerts",
            b'{"alert_type":"x","source":"s","colour":1}',
            422,
            "colour",
            "unknown field",
        ),
        (
            "/api/v1/alerts",
            b'{"type":"signal","alert_type":"x","source":"s"}',
            422,
            "type",
            "alert",
        ),
        ("/api/v1/signals", b'{"signal":{"action":"buy"}}', 422, "signal.symbol", "Field required"),
        (
            "/api/v1/signals",
            b'{"signal":{"symbol":"X","confidence":3}}',
            422,
            "signal.confidence",
            "less than or equal to 1",
        ),
        ("/api/v1/market/SPY", b'{"data":{"price":"cheap"}}', 422, "data.price", "valid number"),
        (
            "/api/v1/market/SPY",
            b'{"symbol":"QQQ","data":{}}',
            422,
            "symbol",
            "differs from the path",
        ),
        ("/api/v1/market/S%20P", b'{"data":{}}', 422, "symbol", "1-20 characters"),
        (
            "/api/v1/agents/1x/insights",
            b'{"insight":{}}',
            422,
            "agent",
            "not starting with a digit",
        ),
        ("/api/v1/agents/ok/insights", b'{"insight":[]}', 422, "insight", "valid dictionary"),
        (
            "/api/v1/narrative",
            b'{"narrative":{},"timestamp":"yesterday"}',
            422,
            "timestamp",
            "datetime",
        ),
        ("/api/v1/publish", b'{"messages":[]}', 422, "messages", "at least one"),
        ("/api/v1/publish", b'{"msgs":[]}', 422, "msgs", "unknown field"),
        ("/api/v1/publish", b'{"messages":{}}', 422, "messages", "must be a list"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_nothing_is_published(
    hub: RunningHub, path: str, body: bytes, status: int, field: str | None, fragment: str
) -> None:
    """Every kind of bad body gets its documented status and names what was wrong."""
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.post(path, content=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment in error["message"] or any(fragment in e["message"] for e in error["errors"])
    if field is not None:
        assert field in [e["field"] for e in error["errors"]]
    assert (await _stats(hub))["published_total"] == 0


async def test_batch_is_all_or_nothing_and_errors_name_index_and_field(hub: RunningHub) -> None:
    """One bad message in a batch gets 422 listing its index and field; nothing is published."""
    ws = await connect(hub.ws + "/ws/unified")
    await recv_json(ws)
    batch: list[dict[str, Any]] = [{"type": "alert", **ALERT} for _ in range(10)]
    batch[7] = {"type": "signal", "signal": {"symbol": "BAD SYMBOL"}}
    batch[9] = {"type": "market_data", "symbol": "SPY"}
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.post("/api/v1/publish", json={"messages": batch})
    assert response.status_code == 422
    errors = response.json()["error"]["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(7, "signal.symbol"), (9, "data")}
    stats = await _stats(hub)
    assert stats["published_total"] == 0
    with pytest.raises(TimeoutError):
        await recv_json(ws, timeout=0.3)
    await ws.close()


async def test_batch_limits(hub: RunningHub) -> None:
    """A batch holds 1 to 1000 messages; 1001 is refused whole, 1000 is accepted whole."""
    one = {"type": "market_data", "symbol": "SPY", "data": {"price": 1}}
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        too_many = await http.post("/api/v1/publish", json={"messages": [one] * 1001})
        assert too_many.status_code == 422
        assert "at most 1000" in too_many.json()["error"]["message"]
        ok = await http.post("/api/v1/publish", json={"messages": [one] * 1000})
        assert ok.status_code == 202
        assert ok.json()["accepted"] == 1000
        assert ok.json()["results"][-1]["seq"] == {"market_SPY": 1000}


async def test_request_over_size_limit_is_413(hub_factory: Any) -> None:
    """A publish body over the configured size limit gets 413 naming the limit."""
    hub = hub_factory(max_request_bytes=1000)
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.post("/api/v1/alerts", json={**ALERT, "content": "x" * 2000})
    assert response.status_code == 413
    assert "1000-byte limit" in response.json()["error"]["message"]


async def test_stats_equal_the_traffic_sent(hub: RunningHub) -> None:
    """After a known burst, the stats count exactly what was published and delivered."""
    unified = [await connect(hub.ws + "/ws/unified") for _ in range(3)]
    spy = [await connect(hub.ws + "/ws/market/SPY") for _ in range(2)]
    multi = await connect(hub.ws + "/ws")
    await multi.send('{"action":"subscribe","channels":["signals","market_SPY","narrative"]}')
    for ws in unified + spy:
        await recv_json(ws)
    for _ in range(3):
        await recv_json(multi)
    batch: list[dict[str, Any]] = (
        [{"type": "alert", **ALERT}] * 4
        + [{"type": "signal", "signal": {"symbol": "SPY"}}] * 3
        + [{"type": "market_data", "symbol": "SPY", "data": {"price": 1}}] * 5
        + [{"type": "narrative", "narrative": {}}] * 2
        + [{"type": "agent_insight", "agent": "nobody_listens", "insight": {}}]
    )
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        assert (await http.post("/api/v1/publish", json={"messages": batch})).status_code == 202
    expected = {"unified": 7, "spy": 5, "multi": 3 + 5 + 2}
    for ws in unified:
        for _ in range(expected["unified"]):
            await recv_json(ws)
    for ws in spy:
        for _ in range(expected["spy"]):
            await recv_json(ws)
    for _ in range(expected["multi"]):
        await recv_json(multi)
    stats = await _stats(hub)
    assert stats["published"] == {
        "alert": 4,
        "signal": 3,
        "market_data": 5,
        "agent_insight": 1,
        "narrative": 2,
    }
    assert stats["delivered"] == 3 * 7 + 2 * 5 + 10
    assert stats["dropped"] == 0
    assert stats["total_connections"] == 6
    assert stats["channels"] == {"market_SPY": 3, "narrative": 1, "signals": 1, "unified": 3}
    assert stats["uptime_seconds"] > 0
    for ws in [*unified, *spy, multi]:
        await ws.close()
    async with httpx.AsyncClient(base_url=hub.url) as http:
        for _ in range(200):
            stats = (await http.get("/api/v1/ws/stats")).json()
            if stats["total_connections"] == 0:
                break
            import asyncio

            await asyncio.sleep(0.02)
    assert stats["total_connections"] == 0
    assert stats["channels"] == {}


async def test_health(hub: RunningHub) -> None:
    """GET /api/v1/health is 200 with status ok on a healthy hub."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        response = await http.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
