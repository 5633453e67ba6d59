"""The producer WebSocket /api/v1/ws/publish: tokens, acks, errors, limits, delivery, order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.conftest import RawClient, RunningHub, connect, recv_json, send_json
from tests.fake_discord import FakeDiscord
from tests.test_asyncapi import errors, get_json, unresolved
from tests.test_security import capture_logs
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from alphawire import protocol
from alphawire.client import StreamPublisher
from alphawire.errors import BrokerUnavailable, ClientError, ServerRejected

pytestmark = pytest.mark.anyio

ALERT = {
    "type": "alert",
    "alert_type": "dark_pool",
    "source": "dp",
    "symbol": "SPY",
    "content": "2M",
}
TICK = {"type": "market_data", "symbol": "spy", "data": {"price": 598.1}}


def producer_url(hub: RunningHub, query: str = "") -> str:
    return hub.ws + "/ws/publish" + query


async def open_producer(hub: RunningHub, token: str | None = None, **kw: Any) -> ClientConnection:
    """A producer socket authenticated by the Authorization header (``token`` or the hub's)."""
    headers = {"Authorization": f"Bearer {token or hub.token}"}
    return await connect(producer_url(hub), additional_headers=headers, **kw)


async def stats(hub: RunningHub) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        data: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()
        return data


async def closed_with(ws: ClientConnection, timeout: float = 10) -> tuple[int | None, str]:
    """Read until the hub closes the socket; its close code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed:
        pass
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


@pytest.fixture
async def producer(hub: RunningHub) -> AsyncIterator[ClientConnection]:
    ws = await open_producer(hub)
    try:
        yield ws
    finally:
        await ws.close()


async def try_send(ws: ClientConnection, frame: Any) -> None:
    """Send unless the hub has already closed the socket (a refusal may come first)."""
    with contextlib.suppress(ConnectionClosed):
        await ws.send(frame if isinstance(frame, (str, bytes)) else orjson.dumps(frame).decode())


async def publish(ws: ClientConnection, frame: Any) -> dict[str, Any]:
    await send_json(ws, frame)
    return await recv_json(ws)


# -- authentication ----------------------------------------------------------------------------


async def test_header_token_publishes_and_acks_with_the_http_result_shape(
    producer: ClientConnection, hub: RunningHub
) -> None:
    """A message frame is acked with its ref and the same result as POST /api/v1/publish."""
    ack = await publish(producer, {**ALERT, "ref": "a-1"})
    assert ack["type"] == "ack" and ack["ref"] == "a-1" and ack["accepted"] == 1
    (result,) = ack["results"]
    assert result["type"] == "alert" and len(result["id"]) == 26
    assert result["channels"] == ["unified"] and result["seq"] == {"unified": 1}
    ack = await publish(producer, {"messages": [TICK, {**TICK, "data": {"price": 2}}], "ref": 7})
    assert ack["ref"] == 7 and ack["accepted"] == 2
    assert [r["seq"] for r in ack["results"]] == [{"market_SPY": 1}, {"market_SPY": 2}]
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        over_http = await http.post("/api/v1/publish", json={"messages": [ALERT]})
    assert set(over_http.json()["results"][0]) == set(result)


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
async def test_missing_or_wrong_header_token_closes_4001_and_publishes_nothing(
    hub: RunningHub, headers: dict[str, str]
) -> None:
    """Without the right token (a message as first frame counts as none) the socket gets 4001."""
    async with await connect(producer_url(hub), additional_headers=headers) as ws:
        await try_send(ws, ALERT)
        await try_send(ws, {"messages": [ALERT]})
        code, reason = await closed_with(ws)
    assert code == protocol.CLOSE_UNAUTHORIZED
    assert "test-token" not in reason
    assert (await stats(hub))["published_total"] == 0


async def test_auth_frame_token_is_answered_then_messages_publish(hub: RunningHub) -> None:
    """A first frame {"action":"auth"} with the publish token is answered, then frames publish."""
    async with await connect(producer_url(hub)) as ws:
        await send_json(ws, {"action": "auth", "token": hub.token, "ref": "hello"})
        await send_json(ws, {**ALERT, "ref": 1})
        assert await recv_json(ws) == {"type": "authenticated", "ref": "hello"}
        ack = await recv_json(ws)
        assert ack["type"] == "ack" and ack["ref"] == 1
        assert await publish(ws, {"action": "ping"}) == {"type": "pong", "ref": None}
        # A later auth frame is checked too: the right token is confirmed...
        assert (await publish(ws, {"action": "auth", "token": hub.token}))["type"] == (
            "authenticated"
        )
        # ...and a wrong one closes the socket.
        await send_json(ws, {"action": "auth", "token": "wrong"})
        await try_send(ws, ALERT)
        code, _ = await closed_with(ws)
    assert code == protocol.CLOSE_UNAUTHORIZED
    assert (await stats(hub))["published_total"] == 1


async def test_wrong_auth_frame_token_closes_4001(hub: RunningHub) -> None:
    """An auth frame with a wrong token, or a malformed one, closes with 4001."""
    for frame in (
        {"action": "auth", "token": "wrong"},
        {"action": "auth"},
        {"action": "auth", "token": 5},
        "not json",
    ):
        async with await connect(producer_url(hub)) as ws:
            await try_send(ws, frame)
            await try_send(ws, ALERT)
            code, reason = await closed_with(ws)
        assert code == protocol.CLOSE_UNAUTHORIZED, frame
        assert "publish token" in reason
    assert (await stats(hub))["published_total"] == 0


async def test_no_auth_frame_within_the_deadline_closes_4001(hub_factory: Any) -> None:
    """A socket without a token that stays silent past the auth deadline is closed with 4001."""
    hub = hub_factory(auth_timeout=0.3)
    async with await connect(producer_url(hub)) as ws:
        code, reason = await closed_with(ws)
    assert (code, reason) == (protocol.CLOSE_UNAUTHORIZED, "no auth frame within 0.3s")


async def test_token_in_the_url_is_refused_even_when_right(hub: RunningHub) -> None:
    """The publish token never goes in the URL: ?token= closes 4001 and says how to send it."""
    async with await connect(producer_url(hub, f"?token={hub.token}")) as ws:
        code, reason = await closed_with(ws)
    assert code == protocol.CLOSE_UNAUTHORIZED
    assert "not accepted in the URL" in reason and hub.token not in reason


async def test_foreign_origin_is_refused_before_the_handshake(hub: RunningHub) -> None:
    """A browser page from another origin cannot open a producer socket (HTTP 403)."""
    with pytest.raises(InvalidStatus) as info:
        await open_producer(hub, origin="https://evil.example")  # type: ignore[arg-type]
    assert info.value.response.status_code == 403


# -- delivery ----------------------------------------------------------------------------------


async def test_subscribers_get_what_the_producer_published_in_order_with_the_acked_seqs(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """Messages published over the socket reach unified and market_SPY in order, seqs as acked."""
    async with (
        await connect(hub.ws + "/ws/unified") as unified,
        await connect(hub.ws + "/ws/market/SPY") as market,
    ):
        assert (await recv_json(unified))["type"] == "subscribed"
        assert (await recv_json(market))["type"] == "subscribed"
        frames: list[Any] = [
            {**ALERT, "content": "one"},
            {**TICK, "data": {"price": 1}},
            {"type": "signal", "signal": {"symbol": "NVDA", "action": "buy"}},
            {"messages": [{**ALERT, "content": "two"}, {**TICK, "data": {"price": 2}}]},
            {**ALERT, "content": "three"},
        ]
        acked: list[dict[str, Any]] = []
        for frame in frames:
            await send_json(producer, frame)  # pipelined: acks are read afterwards
        for _ in frames:
            ack = await recv_json(producer)
            assert ack["type"] == "ack", ack
            acked.extend(ack["results"])
        got: dict[str, list[dict[str, Any]]] = {"unified": [], "market_SPY": []}
        for ws, channel in ((unified, "unified"), (market, "market_SPY")):
            expected = [r for r in acked if channel in r["seq"]]
            for _ in expected:
                got[channel].append(await recv_json(ws))
            assert [(m["id"], m["seq"]) for m in got[channel]] == [
                (r["id"], r["seq"][channel]) for r in expected
            ]
    assert [m.get("content") for m in got["unified"]] == ["one", None, "two", "three"]
    assert [m["data"]["price"] for m in got["market_SPY"]] == [1, 2]
    assert [m["seq"] for m in got["unified"]] == [1, 2, 3, 4]


async def test_ten_thousand_pipelined_messages_are_all_acked_and_delivered_exactly_once(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """10,000 frames pipelined over one socket: 10,000 acks in order, each delivered once."""
    total, window = 10_000, 500
    async with await connect(hub.ws + "/ws/agents/flood") as sub:
        assert (await recv_json(sub))["type"] == "subscribed"
        acks: list[dict[str, Any]] = []
        delivered: list[dict[str, Any]] = []

        window_left = asyncio.Semaphore(window)  # a bounded window of unacknowledged frames

        async def read_acks() -> None:
            while len(acks) < total:
                acks.append(await recv_json(producer))
                window_left.release()

        async def read_deliveries() -> None:
            while len(delivered) < total:
                delivered.append(await recv_json(sub, timeout=30))

        readers = [asyncio.create_task(read_acks()), asyncio.create_task(read_deliveries())]
        for i in range(total):
            await window_left.acquire()
            frame = {"type": "agent_insight", "agent": "flood", "insight": {"i": i}, "ref": i}
            await send_json(producer, frame)
        await asyncio.wait_for(asyncio.gather(*readers), 120)
    assert [a["ref"] for a in acks] == list(range(total))
    assert all(a["type"] == "ack" for a in acks)
    assert [a["results"][0]["seq"]["agent_flood"] for a in acks] == list(range(1, total + 1))
    assert [m["insight"]["i"] for m in delivered] == list(range(total))
    assert [m["seq"] for m in delivered] == list(range(1, total + 1))
    assert [m["id"] for m in delivered] == [a["results"][0]["id"] for a in acks]
    assert len({m["id"] for m in delivered}) == total
    assert (await stats(hub))["published"]["agent_insight"] == total


def test_a_producer_that_does_not_read_its_acks_is_held_back_by_tcp(hub_factory: Any) -> None:
    """Unread acks stop the hub reading frames: publishing pauses, nothing piles up in the hub,
    and once the producer reads again every frame it sent is published and acked, in order."""
    hub = hub_factory(ping_interval=0)  # the raw client answers no pings
    port = int(hub.url.rsplit(":", 1)[1])
    client = RawClient("127.0.0.1", port, "/api/v1/ws/publish", rcvbuf=4096)
    try:
        client.send_frame(1, orjson.dumps({"action": "auth", "token": hub.token}))
        assert orjson.loads(client.read_frame()[1])["type"] == "authenticated"
        # A long ref makes long acks, so that fewer frames fill the socket buffers.
        tick = {"type": "market_data", "symbol": "BP", "data": {"price": 1}, "ref": "r" * 256}
        payload = orjson.dumps(tick)
        wire = b"\x81\xfe" + struct.pack("!H", len(payload)) + b"\0\0\0\0" + payload
        chunk = wire * 1000
        client.sock.setblocking(False)
        sent = 0  # bytes
        idle = 0
        while idle < 100:  # until sending has been blocked for a while (TCP window closed)
            try:
                sent += client.sock.send(chunk[sent % len(wire) :])
                idle = 0
            except BlockingIOError:
                idle += 1
                threading.Event().wait(0.01)
        published = hub.call(_published(hub))
        threading.Event().wait(0.5)
        assert hub.call(_published(hub)) == published  # the hub stopped reading
        frames = -(-sent // len(wire))
        assert published < frames
        rest = wire[sent % len(wire) :] if sent % len(wire) else b""
        client.sock.setblocking(True)
        client.sock.settimeout(10)
        if rest:
            threading.Thread(target=client.sock.sendall, args=(rest,), daemon=True).start()
        seqs = []
        for _ in range(frames):
            opcode, data = client.read_frame()
            assert opcode == 1, (opcode, data[:100], len(seqs))
            ack = orjson.loads(data)
            assert ack["type"] == "ack", ack
            seqs.append(ack["results"][0]["seq"]["market_BP"])
        assert seqs == list(range(1, frames + 1))
        assert hub.call(_published(hub)) == frames
    finally:
        client.close()


async def _published(hub: RunningHub) -> int:
    return int(hub.node.stats_snapshot()["published_total"])


# -- errors: the frame is refused, the socket stays open ---------------------------------------


async def test_batch_is_all_or_nothing_and_the_error_names_index_and_field(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """One bad message refuses its whole batch; the error names its index and field."""
    batch = [ALERT, TICK, {"type": "alert", "source": "dp"}, {**TICK, "data": {"price": "x"}}]
    error = await publish(producer, {"messages": batch, "ref": "b"})
    assert error["type"] == "error" and error["code"] == "invalid_message" and error["ref"] == "b"
    assert [(e["index"], e["field"]) for e in error["errors"]] == [
        (2, "alert_type"),
        (3, "data.price"),
    ]
    assert error["errors"][0]["loc"] == ["messages", 2, "alert_type"]
    assert error["message"].startswith("messages.2.alert_type:")
    assert (await stats(hub))["published_total"] == 0
    ack = await publish(producer, ALERT)  # the socket is still open
    assert ack["results"][0]["seq"] == {"unified": 1}


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ({"type": "trade", "symbol": "SPY", "ref": "r"}, "invalid_message", "type"),
        ({**ALERT, "colour": "red", "ref": "r"}, "invalid_message", "colour"),
        ({"type": "market_data", "symbol": "not a symbol!", "data": {}}, "invalid_message", None),
        ({"messages": [], "ref": "r"}, "invalid_message", "messages"),
        ({"messages": [ALERT] * 1001}, "invalid_message", "messages"),
        ({"messages": "nope"}, "invalid_message", "messages"),
        ({"messages": [ALERT], "extra": 1}, "invalid_message", "extra"),
        ("{not json", "invalid_json", None),
        ("", "invalid_json", None),
        ("[1, 2]", "invalid_frame", None),
        ({"alert_type": "x", "source": "y", "ref": "r"}, "invalid_frame", None),
        ({**ALERT, "ref": {"a": 1}}, "invalid_frame", None),
        ({**ALERT, "ref": True}, "invalid_frame", None),
        ({**ALERT, "ref": "x" * 257}, "invalid_frame", None),
        ({"action": "subscribe", "channels": ["unified"]}, "unknown_action", None),
        ({"action": "auth", "token": 5}, "invalid_frame", None),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(
    hub: RunningHub, producer: ClientConnection, raw: Any, code: str, field: str | None
) -> None:
    """Each kind of bad frame is answered by an error naming what is wrong; nothing published."""
    await producer.send(raw if isinstance(raw, str) else orjson.dumps(raw).decode())
    error = await recv_json(producer)
    assert error["type"] == "error" and error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    valid_ref = isinstance(raw, dict) and raw.get("ref") == "r"
    assert error["ref"] == ("r" if valid_ref else None)
    if field is not None:
        assert field in [e["field"] for e in error["errors"]], error
    if code == "invalid_message" and field == "messages" and "ALERT" not in str(raw):
        assert all("index" not in e for e in error["errors"])
    assert (await stats(hub))["published_total"] == 0
    assert (await publish(producer, {"action": "ping", "ref": 2})) == {"type": "pong", "ref": 2}


async def test_broker_unavailable_is_an_error_frame_not_a_close(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """While the broker refuses publishes the frame gets error "unavailable"; later ones work."""
    broker = hub.node.broker
    original = broker.publish

    async def refuse(items: Any) -> list[int]:
        raise BrokerUnavailable("broker unreachable: connection refused")

    broker.publish = refuse  # type: ignore[method-assign]
    try:
        error = await publish(producer, {**TICK, "ref": "u"})
    finally:
        broker.publish = original  # type: ignore[method-assign]
    assert error["code"] == "unavailable" and error["ref"] == "u"
    assert error["retry_after"] == 2 and "nothing was published" in error["message"]
    ack = await publish(producer, TICK)
    assert ack["results"][0]["seq"] == {"market_SPY": 1}


async def test_full_outbox_refuses_a_batch_with_alerts_as_an_error_frame(
    hub_factory: Any, tmp_path: Path
) -> None:
    """Past the alert outbox's bound a frame with alerts gets error "outbox_full", whole."""
    with FakeDiscord(rate_limit=5, rate_period=0.05) as discord:
        url = discord.add_webhook("2101", "tok-w")
        discord.fail_for(60.0, status=503)  # Discord down: deliveries stay pending
        routes = tmp_path / "routes.toml"
        routes.write_text(f'[[routes]]\nname = "desk"\nwebhook_url = "{url}"\ncooldown = 0\n')
        hub = hub_factory(alert_routes=routes, alert_max_pending=2, alert_retry_base=5)
        async with await open_producer(hub) as ws:
            assert (await publish(ws, {"messages": [ALERT, ALERT]}))["type"] == "ack"
            error = await publish(ws, {"messages": [TICK, ALERT], "ref": "full"})
            assert error["code"] == "outbox_full" and error["retry_after"] == 5
            assert (await publish(ws, TICK))["type"] == "ack"  # ticks are not bounded by it
        published = (await stats(hub))["published"]
    assert (published["alert"], published["market_data"]) == (2, 1)


# -- limits: the socket is closed --------------------------------------------------------------


async def test_frames_up_to_the_request_limit_are_accepted_and_larger_ones_close_1009(
    hub_factory: Any,
) -> None:
    """A producer frame may be as large as a publish body (not 64 KiB); over it: close 1009."""
    hub = hub_factory(max_request_bytes=400_000)
    big = [{**ALERT, "content": "x" * 30_000} for _ in range(10)]  # ~300 KB, over 64 KiB
    async with await open_producer(hub) as ws:
        ack = await publish(ws, {"messages": big})
        assert ack["accepted"] == 10
        await send_json(ws, {"messages": big + big})  # ~600 KB
        await try_send(ws, ALERT)  # behind the refused frame: never published
        code, reason = await closed_with(ws)
    assert code == protocol.CLOSE_MESSAGE_TOO_BIG, reason
    assert (await stats(hub))["published_total"] == 10


async def test_subscriber_sockets_keep_their_64_kib_limit(hub: RunningHub) -> None:
    """Raising the producer socket's frame limit leaves the subscriber sockets' as it was."""
    async with await connect(hub.ws + "/ws") as ws:
        await ws.send('{"action":"ping","pad":"' + "x" * 70_000 + '"}')
        code, _ = await closed_with(ws)
    assert code == protocol.CLOSE_MESSAGE_TOO_BIG


async def test_binary_frame_closes_1003(hub: RunningHub, producer: ClientConnection) -> None:
    """A binary frame closes the producer socket with 1003; what follows is not published."""
    await producer.send(orjson.dumps(ALERT))
    await try_send(producer, ALERT)
    code, _ = await closed_with(producer)
    assert code == protocol.CLOSE_UNSUPPORTED_DATA
    assert (await stats(hub))["published_total"] == 0


async def test_shutdown_closes_producer_sockets_with_1001(hub: RunningHub) -> None:
    """A hub shutting down says goodbye to producers with 1001, as to subscribers."""
    ws = await open_producer(hub)
    assert (await publish(ws, ALERT))["type"] == "ack"
    await asyncio.get_running_loop().run_in_executor(None, hub.stop)
    code, _ = await closed_with(ws)
    assert code == protocol.CLOSE_GOING_AWAY


# -- idempotency, alerts, stats ----------------------------------------------------------------


async def test_idempotency_keys_work_as_over_http(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """A repeated idempotency_key (socket or HTTP) answers the first id and publishes nothing."""
    async with await connect(hub.ws + "/ws/market/SPY") as sub:
        assert (await recv_json(sub))["type"] == "subscribed"
        first = (await publish(producer, {**TICK, "idempotency_key": "k1"}))["results"][0]
        again = (await publish(producer, {**TICK, "idempotency_key": "k1"}))["results"][0]
        assert again == {**first, "duplicate": True}
        batch = await publish(
            producer,
            {"messages": [{**TICK, "idempotency_key": "k2"}, {**TICK, "idempotency_key": "k2"}]},
        )
        one, two = batch["results"]
        assert two == {**one, "duplicate": True} and "duplicate" not in one
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
            response = await http.post(
                "/api/v1/market/SPY", json={"data": {"price": 1}, "idempotency_key": "k2"}
            )
        assert response.json() == {**one, "duplicate": True}
        delivered = [await recv_json(sub) for _ in range(2)]
        assert [(m["id"], m["seq"]) for m in delivered] == [(first["id"], 1), (one["id"], 2)]
        assert all("idempotency_key" not in m for m in delivered)
        with pytest.raises(TimeoutError):
            await recv_json(sub, timeout=0.3)
    assert (await stats(hub))["duplicates"] == 3


async def test_alert_idempotency_keys_answer_the_first_id(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """An alert retried with its idempotency_key is published once; the retry gets its id."""
    first = (await publish(producer, {**ALERT, "idempotency_key": "a1"}))["results"][0]
    again = (await publish(producer, {**ALERT, "idempotency_key": "a1"}))["results"][0]
    assert (again["id"], again["duplicate"]) == (first["id"], True)
    assert (await stats(hub))["published"]["alert"] == 1


async def test_alerts_published_over_the_socket_are_in_the_alert_log(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """An alert from the producer socket goes through the AlertManager: GET /alerts/{id} has it."""
    ack = await publish(producer, {**ALERT, "content": "2M @ 598", "severity": "high"})
    alert_id = ack["results"][0]["id"]
    async with httpx.AsyncClient(base_url=hub.url) as http:
        response = await http.get(f"/api/v1/alerts/{alert_id}")
    assert response.status_code == 200, response.text
    stored = response.json()["alert"]
    assert (stored["id"], stored["content"], stored["severity"]) == (alert_id, "2M @ 598", "high")


async def test_stats_count_open_producer_sockets(hub: RunningHub) -> None:
    """publish_connections counts open producer sockets (they count as connections too)."""
    first = await open_producer(hub)
    second = await open_producer(hub)
    await publish(first, {"action": "ping"})
    await publish(second, {"action": "ping"})
    now = await stats(hub)
    assert (now["publish_connections"], now["total_connections"]) == (2, 2)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        metrics = (await http.get("/metrics")).text
    assert "alphawire_publish_connections 2.0" in metrics.splitlines()
    await first.close()
    await second.close()
    for _ in range(200):
        if (await stats(hub))["publish_connections"] == 0:
            break
        await asyncio.sleep(0.02)
    after = await stats(hub)
    assert (after["publish_connections"], after["total_connections"]) == (0, 0)


# -- the AsyncAPI document ---------------------------------------------------------------------


async def test_asyncapi_describes_the_producer_socket_and_its_real_frames_validate(
    hub: RunningHub, producer: ClientConnection
) -> None:
    """The publish channel is in the AsyncAPI document; frames the hub sends match its schemas."""
    doc = await get_json(hub, "/api/v1/asyncapi.json")
    chan = doc["channels"]["publish"]
    assert chan["address"] == "/api/v1/ws/publish"
    assert set(chan["messages"]) == {
        "publish",
        "publish_batch",
        "auth",
        "ping",
        "ack",
        "error",
        "authenticated",
        "pong",
    }
    assert doc["operations"]["control_publish"]["action"] == "receive"
    assert doc["operations"]["deliver_publish"]["action"] == "send"
    assert unresolved(doc) == []
    real = {
        "ack": [
            await publish(producer, {**ALERT, "ref": "x"}),
            await publish(producer, {"messages": [TICK, {**TICK, "idempotency_key": "i"}]}),
            await publish(producer, {**TICK, "idempotency_key": "i", "ref": 3}),
        ],
        "error": [
            await publish(producer, {"messages": [ALERT, {"type": "alert"}], "ref": 1}),
            await publish(producer, {"type": "nope"}),
            await publish(producer, "[]"),
        ],
        "authenticated": [await publish(producer, {"action": "auth", "token": hub.token})],
        "pong": [await publish(producer, {"action": "ping", "ref": "p"})],
    }
    for kind, frames in real.items():
        pointer = f"/components/messages/{kind}/payload"
        for frame in frames:
            assert errors(doc, pointer, frame) == [], frame
            assert errors(doc, pointer, {**frame, "type": "bogus"}) != []


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("publish", {**ALERT, "ref": "a"}, {"alert_type": "x", "source": "y"}),
        ("publish", {**TICK, "ref": 5}, {**TICK, "ref": {"no": 1}}),
        ("publish_batch", {"messages": [ALERT, TICK], "ref": 1}, {"messages": []}),
        ("auth", {"action": "auth", "token": "t"}, {"action": "auth"}),
    ],
)
async def test_asyncapi_producer_frame_schemas_accept_what_the_hub_accepts(
    hub: RunningHub, producer: ClientConnection, kind: str, good: Any, bad: Any
) -> None:
    """The documented client frames accept frames the hub takes and refuse ones it refuses."""
    doc = await get_json(hub, "/api/v1/asyncapi.json")
    pointer = f"/components/messages/{kind}/payload"
    assert errors(doc, pointer, good) == []
    assert errors(doc, pointer, bad) != []
    if kind != "auth":
        assert (await publish(producer, good))["type"] == "ack"
        assert (await publish(producer, bad))["type"] == "error"


# -- the Python client -------------------------------------------------------------------------


async def test_stream_publisher_publishes_pipelined_and_raises_refusals(hub: RunningHub) -> None:
    """StreamPublisher returns results as over HTTP, pipelines calls, raises a refused frame."""
    async with await connect(hub.ws + "/ws/signals") as sub:
        assert (await recv_json(sub))["type"] == "subscribed"
        async with StreamPublisher(hub.url, hub.token, window=16) as pub:
            first = await pub.publish(ALERT)
            assert first["seq"] == {"unified": 1}
            batch = await pub.publish_many([TICK, TICK])
            assert batch["accepted"] == 2
            signals = [
                {"type": "signal", "signal": {"symbol": "NVDA", "n": i}} for i in range(1000)
            ]
            results = await asyncio.gather(*(pub.publish(s) for s in signals))
            assert sorted(r["seq"]["signals"] for r in results) == list(range(1, 1001))
            with pytest.raises(ServerRejected) as refused:
                await pub.publish_many([ALERT, {"type": "alert"}])
            assert refused.value.status == 422
            assert refused.value.body["errors"][0]["index"] == 1
            assert (await pub.publish(TICK))["seq"] == {"market_SPY": 3}  # still usable
        got = [(await recv_json(sub))["signal"]["n"] for _ in range(1000)]
    assert sorted(got) == list(range(1000))


async def test_stream_publisher_fails_unacknowledged_frames_when_the_socket_closes(
    hub: RunningHub,
) -> None:
    """A closed socket fails the calls awaiting acks with ClientError naming the close code."""
    with pytest.raises(ClientError, match="4001"):
        async with StreamPublisher(hub.url, "wrong") as pub:
            await pub.publish(ALERT)
    assert (await stats(hub))["published_total"] == 0


# -- fuzz --------------------------------------------------------------------------------------

VALID = [
    ALERT,
    TICK,
    {"type": "signal", "signal": {"symbol": "NVDA"}},
    {"type": "agent_insight", "agent": "MarketAgent", "insight": {}},
    {"type": "narrative", "narrative": {"headline": "h"}},
]
PRODUCER_ERRORS = {
    protocol.ERR_INVALID_JSON,
    protocol.ERR_INVALID_FRAME,
    protocol.ERR_INVALID_MESSAGE,
    protocol.ERR_UNKNOWN_ACTION,
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
keys = st.sampled_from(
    ["type", "ref", "messages", "action", "token", "symbol", "data", "signal", "agent", "x"]
)
mutated = st.builds(
    lambda base, extra: {**base, **extra},
    st.sampled_from(VALID),
    st.dictionaries(keys, json_values | st.sampled_from(["alert", "ping", "auth"]), max_size=2),
)
frames = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=60)),
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("json"), mutated),
    st.tuples(st.just("json"), st.sampled_from(VALID)),
    st.tuples(
        st.just("json"),
        st.builds(
            lambda m, r: {"messages": m, "ref": r}, st.lists(mutated, max_size=3), json_values
        ),
    ),
    st.tuples(st.just("json"), st.fixed_dictionaries({"action": json_values | keys})),
    st.tuples(st.just("binary"), st.binary(max_size=20)),
)


def test_random_frames_get_a_documented_reply_or_close(hub: RunningHub) -> None:
    """Random frames on the producer socket: one reply each (ack or a documented error), or a
    documented close (1003 binary, 4001 wrong token); never an internal error."""
    state: dict[str, Any] = {"ws": None, "closes": [], "kinds": set()}

    async def exchange(kind: str, payload: Any) -> None:
        if state["ws"] is None:
            state["ws"] = await open_producer(hub)
        ws: ClientConnection = state["ws"]
        # Encoded with the standard library: big integers and NaN reach the hub as sent.
        data = {"binary": bytes, "text": str}.get(kind, json.dumps)(payload)
        await try_send(ws, data)
        await try_send(ws, {"action": "ping", "ref": "fuzz"})
        try:
            reply = await recv_json(ws)
            pong = await recv_json(ws)
        except ConnectionClosed as exc:
            state["ws"] = None
            assert exc.rcvd is not None, data
            state["closes"].append(exc.rcvd.code)
            wrong_auth = isinstance(payload, dict) and payload.get("action") == "auth"
            allowed = {protocol.CLOSE_UNSUPPORTED_DATA} if kind == "binary" else set()
            if wrong_auth:
                allowed.add(protocol.CLOSE_UNAUTHORIZED)
            assert exc.rcvd.code in allowed, (exc.rcvd.code, data)
            return
        assert kind != "binary"
        assert pong == {"type": "pong", "ref": "fuzz"}, (data, reply, pong)
        state["kinds"].add(reply["type"])
        if reply["type"] == "error":
            assert reply["code"] in PRODUCER_ERRORS and reply["message"], reply
        elif reply["type"] == "ack":
            assert reply["accepted"] == len(reply["results"]) >= 1
        else:
            assert reply["type"] in ("pong", "authenticated"), reply

    with asyncio.Runner() as runner:

        @settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=250)
        @given(frame=frames)
        @example(frame=("json", {"action": "auth", "token": "wrong"}))
        @example(frame=("binary", b"\x00"))
        @example(frame=("json", {"messages": [ALERT, TICK], "ref": 1}))
        def run(frame: tuple[str, Any]) -> None:
            runner.run(exchange(*frame))

        run()
        if state["ws"] is not None:
            runner.run(state["ws"].close())
    assert {"ack", "error"} <= state["kinds"]
    assert {protocol.CLOSE_UNSUPPORTED_DATA, protocol.CLOSE_UNAUTHORIZED} <= set(state["closes"])
    with httpx.Client(base_url=hub.url) as http:
        assert http.get("/api/v1/health").status_code == 200


async def test_the_publish_token_never_reaches_logs_or_replies(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the publish token nor a near miss of it appears in a log line, reply or reason."""
    secrets = (hub.token, hub.token + "x")
    said: list[str] = []
    with capture_logs(caplog, ("uvicorn.error", "uvicorn.access", "alphawire")):
        async with await connect(producer_url(hub, f"?token={hub.token}")) as ws:
            said.append((await closed_with(ws))[1])
        async with await open_producer(hub, token=hub.token + "x") as ws:
            said.append((await closed_with(ws))[1])
        async with await connect(producer_url(hub)) as ws:
            said.append(orjson.dumps(await publish(ws, {"action": "auth", "token": hub.token})))
            said.append(orjson.dumps(await publish(ws, {"action": "auth", "token": 5})))
            await send_json(ws, {"action": "auth", "token": hub.token + "x"})
            said.append((await closed_with(ws))[1])
    messages = [record.getMessage() for record in caplog.records]
    assert any("[redacted]" in m for m in messages), "no redacted log line: capture is vacuous"
    for secret in secrets:
        for text in (*messages, *map(str, said)):
            assert secret not in text, text[:200]


async def test_large_frames_only_after_authentication(hub: RunningHub) -> None:
    """Before its token is proven a peer gets the 64 KiB frame limit (nothing big is read from
    strangers); after an auth frame's reply, frames up to the request limit are taken."""
    big = {"messages": [{**ALERT, "content": "x" * 30_000} for _ in range(3)]}  # ~90 KB
    async with await connect(producer_url(hub)) as ws:
        await ws.send(orjson.dumps(big).decode())
        code, _ = await closed_with(ws)
    assert code == protocol.CLOSE_MESSAGE_TOO_BIG
    async with await connect(producer_url(hub)) as ws:
        assert (await publish(ws, {"action": "auth", "token": hub.token}))["type"] == (
            "authenticated"
        )
        assert (await publish(ws, big))["accepted"] == 3


async def test_a_refusal_racing_the_peers_close_is_quiet(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong token and the peer's own close in one packet: no error logged, nothing left open."""
    port = int(hub.url.rsplit(":", 1)[1])
    wrong = orjson.dumps({"action": "auth", "token": "wrong"})
    with capture_logs(caplog, ("uvicorn.error", "alphawire")):
        for _ in range(5):
            client = RawClient("127.0.0.1", port, "/api/v1/ws/publish")
            mask = b"\0\0\0\0"
            auth = bytes((0x81, 0x80 | len(wrong))) + mask + wrong
            close = bytes((0x88, 0x82)) + mask + struct.pack("!H", 1000)
            client.sock.sendall(auth + close)
            with contextlib.suppress(ConnectionError, OSError):
                while client.read_frame()[0] != 8:
                    pass
            client.close()
        for _ in range(200):
            if (await stats(hub))["total_connections"] == 0:
                break
            await asyncio.sleep(0.02)
    assert (await stats(hub))["total_connections"] == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
