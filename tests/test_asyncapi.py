"""The AsyncAPI and OpenAPI documents: structure, resolvable $refs, and real frames validating."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from tests.conftest import RunningHub, connect, recv_json, send_json

pytestmark = pytest.mark.anyio

DOC_URI = "urn:alphawire:document"
DATA_TYPES = ["alert", "signal", "market_data", "agent_insight", "narrative"]
MODEL_OF = {
    "alert": "Alert",
    "signal": "Signal",
    "market_data": "MarketData",
    "agent_insight": "AgentInsight",
    "narrative": "Narrative",
}
BATCH: list[dict[str, Any]] = [
    {"type": "alert", "alert_type": "dark_pool", "source": "dp", "symbol": "spy", "content": "2M"},
    {"type": "signal", "signal": {"symbol": "nvda", "action": "buy", "confidence": 0.7, "x": 1}},
    {"type": "market_data", "symbol": "SPY", "data": {"price": 598.1, "bid": 598.0, "ask": 598.2}},
    {"type": "agent_insight", "agent": "MarketAgent", "insight": {"regime": "risk_on"}},
    {"type": "narrative", "narrative": {"headline": "Tech leads"}},
]


async def get_json(hub: RunningHub, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        response = await http.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    data: dict[str, Any] = response.json()
    return data


def resolve(doc: Any, ref: str) -> Any:
    """Follow a local JSON-pointer ``$ref`` ("#/a/b~1c/0") inside ``doc``; KeyError if absent."""
    if not ref.startswith("#"):
        raise KeyError(f"not a local reference: {ref}")
    node = doc
    pointer = unquote(ref[1:])
    if not pointer:
        return node
    if not pointer.startswith("/"):
        raise KeyError(f"not a JSON pointer: {ref}")
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(ref)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def references(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` (and discriminator mapping target) in ``node``, with where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            elif key == "mapping" and isinstance(value, dict):
                yield from ((f"{where}/mapping/{k}", v) for k, v in value.items())
            else:
                yield from references(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from references(item, f"{where}/{i}")


def unresolved(doc: dict[str, Any]) -> list[str]:
    bad = []
    for where, ref in references(doc):
        try:
            resolve(doc, ref)
        except KeyError:
            bad.append(f"{where}: {ref}")
    return bad


def validator(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A Draft 2020-12 validator for the schema at ``pointer``, its $refs resolved in ``doc``."""
    registry: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry)


def errors(doc: dict[str, Any], pointer: str, instance: Any) -> list[str]:
    return [e.message for e in validator(doc, pointer).iter_errors(instance)]


async def captured_frames(hub: RunningHub) -> dict[str, dict[str, Any]]:
    """One real frame of each kind the hub sends, captured from a multiplexed socket."""
    frames: dict[str, dict[str, Any]] = {}
    async with await connect(hub.ws + "/ws") as ws:
        await send_json(ws, {"action": "ping"})
        frames["pong"] = await recv_json(ws)
        await send_json(ws, {"action": "subscribe", "channels": ["bogus"]})
        frames["error"] = await recv_json(ws)
        channels = ["unified", "market_SPY", "agent_marketagent", "narrative"]
        await send_json(ws, {"action": "subscribe", "channels": channels})
        for _ in channels:
            frames["subscribed"] = await recv_json(ws)
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
            response = await http.post("/api/v1/publish", json={"messages": BATCH})
        assert response.status_code == 202, response.text
        for _ in BATCH:
            frame = await recv_json(ws)
            frames[frame["type"]] = frame
        await send_json(ws, {"action": "unsubscribe", "channels": ["narrative"]})
        frames["unsubscribed"] = await recv_json(ws)
    assert set(frames) == {*DATA_TYPES, "pong", "error", "subscribed", "unsubscribed"}
    return frames


@pytest.fixture
async def asyncapi(hub: RunningHub) -> dict[str, Any]:
    return await get_json(hub, "/api/v1/asyncapi.json")


# -- AsyncAPI --------------------------------------------------------------------------------


async def test_asyncapi_document_describes_the_channels(
    hub: RunningHub, asyncapi: dict[str, Any]
) -> None:
    """The AsyncAPI 3.0.0 document has every channel at its address, carrying its messages."""
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] == "alphawire"
    port = hub.url.rsplit(":", 1)[1]
    assert asyncapi["servers"]["hub"] == {
        "host": f"127.0.0.1:{port}",
        "protocol": "ws",
        "description": "alphawire hub",
    }
    addresses = {name: chan["address"] for name, chan in asyncapi["channels"].items()}
    assert addresses == {
        "unified": "/api/v1/ws/unified",
        "signals": "/api/v1/ws/signals",
        "market": "/api/v1/ws/market/{symbol}",
        "agent": "/api/v1/ws/agents/{agent_name}",
        "narrative": "/api/v1/ws/narrative",
        "multiplex": "/api/v1/ws",
        "publish": "/api/v1/ws/publish",
    }
    assert set(asyncapi["channels"]["market"]["parameters"]) == {"symbol"}
    assert set(asyncapi["channels"]["agent"]["parameters"]) == {"agent_name"}
    carried = {
        name: {m for m in chan["messages"] if m in DATA_TYPES}
        for name, chan in asyncapi["channels"].items()
    }
    for name, chan in asyncapi["channels"].items():
        assert ("batch" in chan["messages"]) == (name != "publish")
    assert carried == {
        "unified": {"alert", "signal"},
        "signals": {"signal"},
        "market": {"market_data"},
        "agent": {"agent_insight"},
        "narrative": {"narrative"},
        "multiplex": set(DATA_TYPES),
        "publish": set(),  # the producer socket: tested in test_publish_ws.py
    }
    control = {"subscribed", "unsubscribed", "pong", "error", "subscribe", "unsubscribe", "ping"}
    for name, chan in asyncapi["channels"].items():
        if name != "publish":
            assert control <= set(chan["messages"])
    for name in asyncapi["channels"]:
        assert asyncapi["operations"][f"deliver_{name}"]["action"] == "send"
        assert asyncapi["operations"][f"control_{name}"]["action"] == "receive"


async def test_asyncapi_every_ref_resolves(asyncapi: dict[str, Any]) -> None:
    """Every $ref in the AsyncAPI document points at something inside the document."""
    refs = list(references(asyncapi))
    assert len(refs) > 50
    assert {r for _, r in refs} >= {"#/channels/market", "#/components/messages/alert"}
    assert unresolved(asyncapi) == []


def test_ref_resolver_reports_what_is_missing() -> None:
    """The test's own resolver follows pointers (escapes included) and flags dangling refs."""
    doc = {"a": {"b/c": [{"$ref": "#/a/b~1c/1"}, 7]}, "d": {"$ref": "#/a/nope"}, "e": {"$ref": "#"}}
    assert resolve(doc, "#/a/b~1c/1") == 7
    assert resolve(doc, "#") is doc
    assert unresolved(doc) == ["#/d: #/a/nope"]


@pytest.mark.parametrize("kind", ["subscribed", "unsubscribed", "pong", "error"])
async def test_real_control_frames_validate_against_their_schemas(
    hub: RunningHub, asyncapi: dict[str, Any], kind: str
) -> None:
    """A control frame captured from a live socket satisfies its AsyncAPI payload schema."""
    frame = (await captured_frames(hub))[kind]
    pointer = f"/components/messages/{kind}/payload"
    assert errors(asyncapi, pointer, frame) == []
    assert errors(asyncapi, pointer, {**frame, "type": "bogus"}) != []


@pytest.mark.parametrize("kind", ["subscribe", "unsubscribe", "ping"])
async def test_client_frame_schemas_accept_what_the_hub_accepts(
    asyncapi: dict[str, Any], kind: str
) -> None:
    """The client-frame schemas accept the frames the hub understands and refuse empty ones."""
    frame: dict[str, Any] = {"action": kind}
    if kind != "ping":
        frame["channels"] = ["unified", "market_SPY"]
    pointer = f"/components/messages/{kind}/payload"
    assert errors(asyncapi, pointer, frame) == []
    assert errors(asyncapi, pointer, {}) != []


@pytest.mark.parametrize("kind", DATA_TYPES)
async def test_real_messages_minus_hub_fields_validate_against_their_models(
    hub: RunningHub, asyncapi: dict[str, Any], kind: str
) -> None:
    """A delivered message without id/channel/seq satisfies the schema of its message model."""
    frame = (await captured_frames(hub))[kind]
    body = {k: v for k, v in frame.items() if k not in ("id", "channel", "seq")}
    pointer = f"/components/schemas/{MODEL_OF[kind]}"
    assert errors(asyncapi, pointer, body) == []
    assert errors(asyncapi, pointer, {**body, "type": "bogus"}) != []


@pytest.mark.parametrize("kind", DATA_TYPES)
async def test_real_delivered_messages_validate_against_their_payload_schemas(
    hub: RunningHub, asyncapi: dict[str, Any], kind: str
) -> None:
    """A message captured from a live socket satisfies its AsyncAPI payload schema."""
    frame = (await captured_frames(hub))[kind]
    pointer = f"/components/messages/{kind}/payload"
    assert errors(asyncapi, pointer, frame) == []
    missing_seq = copy.deepcopy(frame)
    del missing_seq["seq"]
    assert errors(asyncapi, pointer, missing_seq) != []


# -- OpenAPI ---------------------------------------------------------------------------------

PUBLISH_PATHS = {
    "/api/v1/alerts": "Alert",
    "/api/v1/signals": "Signal",
    "/api/v1/market/{symbol}": "MarketDataFields",
    "/api/v1/agents/{agent_name}/insights": "AgentInsightFields",
    "/api/v1/narrative": "Narrative",
    "/api/v1/publish": "PublishBatch",
}


async def test_openapi_documents_the_publish_paths(hub: RunningHub) -> None:
    """/openapi.json has each publish path: POST, its body schema, the bearer token, 202."""
    doc = await get_json(hub, "/openapi.json")
    assert doc["openapi"].startswith("3.1")
    for path, schema in PUBLISH_PATHS.items():
        post = doc["paths"][path]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema}"}, path
        assert post["security"] == [{"publishToken": []}], path
        assert {"202", "401", "422"} <= set(post["responses"]), path
    assert doc["components"]["securitySchemes"]["publishToken"]["scheme"] == "bearer"
    for path in ("/api/v1/ws/stats", "/api/v1/health", "/api/v1/asyncapi.json"):
        assert "get" in doc["paths"][path]


async def test_openapi_every_ref_resolves(hub: RunningHub) -> None:
    """Every $ref in /openapi.json points at something inside the document."""
    doc = await get_json(hub, "/openapi.json")
    assert len(list(references(doc))) > 20
    assert unresolved(doc) == []


async def test_openapi_request_schemas_accept_what_the_hub_accepts(hub: RunningHub) -> None:
    """The documented PublishBatch schema accepts a batch the hub accepts and refuses bad ones."""
    doc = await get_json(hub, "/openapi.json")
    pointer = "/components/schemas/PublishBatch"
    assert errors(doc, pointer, {"messages": BATCH}) == []
    assert errors(doc, pointer, {"messages": [{"type": "alert", "source": "dp"}]}) != []
    assert errors(doc, pointer, {"messages": []}) != []
    market = "/components/schemas/MarketDataFields"
    assert errors(doc, market, {"data": {"price": 1.0}}) == []  # symbol comes from the path


async def test_real_batch_frames_validate_against_their_schema(
    hub: RunningHub, asyncapi: dict[str, Any]
) -> None:
    """An array frame captured from a batch-mode subscription satisfies the BatchFrame schema,
    and so does the subscribe frame that asked for it."""
    subscribe = {"action": "subscribe", "channels": ["unified"], "batch": True, "linger_ms": 5}
    assert errors(asyncapi, "/components/messages/subscribe/payload", subscribe) == []
    bad = {**subscribe, "linger_ms": 5000}
    assert errors(asyncapi, "/components/messages/subscribe/payload", bad) != []
    async with await connect(hub.ws + "/ws") as ws:
        await send_json(ws, subscribe)
        assert (await recv_json(ws))["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
            body = {"messages": [m for m in BATCH if m["type"] in ("alert", "signal")]}
            response = await http.post("/api/v1/publish", json=body)
        assert response.status_code == 202, response.text
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert isinstance(frame, list) and frame
    pointer = "/components/messages/batch/payload"
    assert errors(asyncapi, pointer, frame) == []
    assert errors(asyncapi, pointer, []) != []
    assert errors(asyncapi, pointer, [{**frame[0], "seq": "x"}]) != []
