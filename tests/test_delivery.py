"""Delivery guarantees end to end: recovery, slow consumers, conflation, lanes, snapshots."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import RawClient, RunningHub, connect, recv_json, send_json
from websockets.exceptions import ConnectionClosed

from alphawire.brokers.base import Limit, Retention
from alphawire.client import Subscription

pytestmark = pytest.mark.anyio


def alerts(n: int, start: int = 0, pad: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "type": "alert",
            "alert_type": "test",
            "source": "t",
            "content": f"#{start + i}" + "x" * pad,
        }
        for i in range(n)
    ]


def ticks(n: int, pad: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "market_data", "symbol": "SPY", "data": {"price": 500 + i / 100, "pad": "x" * pad}}
        for i in range(n)
    ]


async def publish(hub: RunningHub, batch: list[dict[str, Any]]) -> None:
    """Publish in-process on the hub's loop, in chunks of at most 1000."""
    for i in range(0, len(batch), 1000):
        await hub.acall(hub.node.publish_many(batch[i : i + 1000]))


async def stats(hub: RunningHub) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        data: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()
        return data


async def test_reconnect_with_since_receives_every_message_once_while_publishing(
    hub: RunningHub,
) -> None:
    """A client dropped twice mid-stream and resumed with since gets 1..N exactly once, in order."""
    total = 3000

    async def producer() -> None:
        for i in range(0, total, 50):
            await publish(hub, alerts(50, i))
            await asyncio.sleep(0)

    seqs: list[int] = []
    # The client is closed with messages still coming: with websockets' default max_queue,
    # more than 16 unread messages pause its reading, so it never reads the hub's answer to its
    # close frame and gives up after close_timeout (10 s) instead (websockets#1555).
    ws = await connect(hub.ws + "/ws/unified", max_queue=None)
    first = await recv_json(ws)
    epoch = first["epoch"]
    task = asyncio.create_task(producer())
    while len(seqs) < 400:
        seqs.append((await recv_json(ws))["seq"])
    await ws.close()  # dropped by the test while publishing goes on
    ws = await connect(f"{hub.ws}/ws/unified?since={seqs[-1]}&epoch={epoch}", max_queue=None)
    ack = await recv_json(ws)
    assert ack["type"] == "subscribed"
    assert ack["recovered"] is True
    while len(seqs) < 1500:
        seqs.append((await recv_json(ws))["seq"])
    await ws.close()
    ws = await connect(hub.ws + "/ws", max_queue=None)
    await send_json(
        ws,
        {
            "action": "subscribe",
            "channels": ["unified"],
            "since": {"unified": seqs[-1]},
            "epoch": epoch,
        },
    )
    ack = await recv_json(ws)
    assert ack["recovered"] is True
    await task
    while len(seqs) < total:
        seqs.append((await recv_json(ws))["seq"])
    await ws.close()
    assert seqs == list(range(1, total + 1))
    assert (await stats(hub))["recoveries"] == 2


async def test_slow_consumer_is_closed_with_4008_and_recovers(hub_factory: Any) -> None:
    """A client that stops reading is closed with 4008; reconnecting with since fills the gap."""
    hub = hub_factory(queue_max_messages=20, queue_max_bytes=64 * 1024)
    port = int(hub.url.rsplit(":", 1)[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    ws = await connect(hub.ws + "/ws/unified", sock=sock, max_queue=1)
    epoch = (await recv_json(ws))["epoch"]
    total = 2000
    await publish(hub, alerts(total, pad=2000))  # ~4 MB while the client reads nothing
    assert (await stats(hub))["slow_consumers"] == 1
    seqs: list[int] = []

    async def read_until_closed() -> None:
        while True:
            seqs.append((await recv_json(ws))["seq"])

    with pytest.raises(ConnectionClosed) as info:
        await read_until_closed()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4008
    assert 0 < len(seqs) < total
    assert seqs == list(range(1, len(seqs) + 1))
    ws = await connect(f"{hub.ws}/ws/unified?since={seqs[-1]}&epoch={epoch}")
    assert (await recv_json(ws))["recovered"] is True
    while len(seqs) < total:
        seqs.append((await recv_json(ws))["seq"])
    assert seqs == list(range(1, total + 1))
    await ws.close()


async def test_restart_with_persistent_epoch_recovers_across_it(
    hub_factory: Any, tmp_path: Any
) -> None:
    """A graceful restart on the same port keeps the epoch: a client resumes with no gap."""
    data_dir = tmp_path / "restart"
    first = hub_factory(data_dir=data_dir)
    port = int(first.url.rsplit(":", 1)[1])
    received: list[int] = []
    gaps: list[dict[str, Any]] = []

    subscribed = asyncio.Event()

    async def consume() -> None:
        async with Subscription(["unified"], url=first.url, max_backoff=0.5) as sub:
            subscribed.set()  # the Subscription returns once "unified" is subscribed
            async for msg in sub:
                if msg["type"] == "recovery":
                    gaps.append(msg)
                    continue
                received.append(msg["seq"])
                if len(received) == 40:
                    return

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(subscribed.wait(), 10)
    await publish(first, alerts(15))
    await asyncio.get_running_loop().run_in_executor(None, first.stop)
    second = hub_factory(port=port, data_dir=data_dir)
    await publish(second, alerts(25, 15))
    await asyncio.wait_for(consumer, 30)
    assert received == list(range(1, 41))
    assert gaps == []


async def test_unrecoverable_gaps_are_reported(hub_factory: Any) -> None:
    """A changed epoch or pruned history yields one explicit recovery frame, then the live stream."""
    small = Retention({**Retention().limits, "unified": Limit(5, 3600)})
    hub = hub_factory(history=small)
    await publish(hub, alerts(20))
    ws = await connect(f"{hub.ws}/ws/unified?since=2&epoch=not-this-one")
    ack = await recv_json(ws)
    assert ack["recovered"] is False
    notice = await recv_json(ws)
    assert notice == {
        "type": "recovery",
        "channel": "unified",
        "recovered": False,
        "reason": "epoch_changed",
        "since": 2,
        "seq": 20,
        "epoch": ack["epoch"],
    }
    epoch = ack["epoch"]
    await ws.close()
    for since, reason in ((2, "history_pruned"), (99, "since_ahead")):
        ws = await connect(f"{hub.ws}/ws/unified?since={since}&epoch={epoch}")
        await recv_json(ws)
        assert (await recv_json(ws))["reason"] == reason
        await publish(hub, alerts(1))
        live = await recv_json(ws)
        assert live["type"] == "alert"
        await ws.close()
    # 22 published, 5 kept (18..22): since=17 is the oldest point that can still be resumed.
    ws = await connect(f"{hub.ws}/ws/unified?since=17&epoch={epoch}")
    assert (await recv_json(ws))["recovered"] is True
    assert [(await recv_json(ws))["seq"] for _ in range(5)] == list(range(18, 23))
    await ws.close()
    ws = await connect(f"{hub.ws}/ws/unified?since=3")
    await recv_json(ws)
    assert (await recv_json(ws))["reason"] == "epoch_required"
    await ws.close()
    assert (await stats(hub))["recovery_failures"] == 4


async def test_bad_since_is_refused(hub: RunningHub) -> None:
    """A since that is not a non-negative integer closes a per-channel socket with 1008."""
    ws = await connect(hub.ws + "/ws/unified?since=-1")
    with pytest.raises(ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008


async def test_market_subscribe_gets_the_latest_tick_as_snapshot(hub: RunningHub) -> None:
    """A new market subscriber gets the newest tick at once, marked as a snapshot."""
    await publish(hub, ticks(3))
    ws = await connect(hub.ws + "/ws/market/spy")
    ack = await recv_json(ws)
    assert ack["seq"] == 3
    snap = await recv_json(ws)
    assert snap["snapshot"] is True
    assert snap["seq"] == 3
    assert snap["data"]["price"] == 500.02
    await publish(hub, ticks(1))
    live = await recv_json(ws)
    assert live["seq"] == 4
    assert "snapshot" not in live
    await ws.close()
    other = await connect(hub.ws + "/ws/market/QQQ")
    await recv_json(other)
    with pytest.raises(TimeoutError):
        await recv_json(other, timeout=0.3)
    await other.close()


def _stalled(hub: RunningHub, path: str) -> RawClient:
    port = int(hub.url.rsplit(":", 1)[1])
    return RawClient("127.0.0.1", port, "/api/v1" + path, rcvbuf=4096)


def _read_all(raw: RawClient, until: Any) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while True:
        opcode, payload = raw.read_frame()
        assert opcode == 1, (opcode, payload[:80])
        frame = orjson.loads(payload)
        frames.append(frame)
        if until(frame):
            return frames


async def test_conflation_keeps_the_newest_tick(hub_factory: Any) -> None:
    """A client too slow for the tick rate gets conflated ticks: skips announced, newest kept."""
    hub = hub_factory(queue_max_messages=10, queue_max_bytes=32 * 1024)
    raw = _stalled(hub, "/ws/market/SPY")
    total = 3000
    await publish(hub, ticks(total, pad=1000))
    frames = await asyncio.get_running_loop().run_in_executor(
        None, _read_all, raw, lambda f: f.get("seq") == total
    )
    raw.close()
    data = [f for f in frames if f["type"] == "market_data"]
    skipped = [f for f in frames if f["type"] == "skipped"]
    seqs = [f["seq"] for f in data]
    assert seqs == sorted(set(seqs))  # increasing, no repeats
    assert seqs[-1] == total  # the newest tick always arrives
    assert skipped
    assert len(seqs) + sum(s["count"] for s in skipped) == total
    for s in skipped:
        after = data[[f["seq"] for f in data].index(s["to_seq"] + 1)]
        assert after["seq"] == s["to_seq"] + 1
    st = await stats(hub)
    assert st["conflated"] == total - len(seqs)
    assert st["slow_consumers"] == 0


async def test_alerts_are_never_queued_behind_ticks(hub_factory: Any) -> None:
    """On a connection flooded with ticks, an alert overtakes the queued ticks."""
    hub = hub_factory(queue_max_messages=500, queue_max_bytes=4 * 1024 * 1024)
    raw = _stalled(hub, "/ws")
    raw.send_frame(1, b'{"action":"subscribe","channels":["market_SPY","unified"]}')
    for _ in range(2):
        assert orjson.loads(raw.read_frame()[1])["type"] == "subscribed"
    # 16 MB of ticks: more than the kernel and transport buffers hold, so ticks queue.
    await publish(hub, ticks(4000, pad=4000))
    await publish(hub, alerts(1))
    last_tick = 4000
    frames = await asyncio.get_running_loop().run_in_executor(
        None,
        _read_all,
        raw,
        lambda f: f.get("seq") == last_tick and f.get("channel") == "market_SPY",
    )
    raw.close()
    kinds = [f["type"] for f in frames]
    assert kinds.count("alert") == 1
    at = kinds.index("alert")
    later_ticks = [f for f in frames[at + 1 :] if f["type"] == "market_data"]
    assert later_ticks, "the alert should have overtaken queued ticks"
    assert later_ticks[0]["seq"] < last_tick


async def test_idempotent_publish(hub: RunningHub) -> None:
    """A retry with the same idempotency key returns the first id and publishes nothing new."""
    ws = await connect(hub.ws + "/ws/unified")
    await recv_json(ws)
    body = {"alert_type": "dp", "source": "s", "content": "once", "idempotency_key": "k-1"}
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        a = (await http.post("/api/v1/alerts", json=body)).json()
        b = (await http.post("/api/v1/alerts", json=body)).json()
        headers = {"Idempotency-Key": "k-2"}
        c = (
            await http.post(
                "/api/v1/alerts", json={**body, "idempotency_key": None}, headers=headers
            )
        ).json()
        d = (
            await http.post(
                "/api/v1/alerts",
                json={"alert_type": "dp", "source": "s", "content": "c"},
                headers=headers,
            )
        ).json()
        batch = [
            {
                "type": "alert",
                "alert_type": "dp",
                "source": "s",
                "content": "c",
                "idempotency_key": "k-3",
            },
            {
                "type": "alert",
                "alert_type": "dp",
                "source": "s",
                "content": "c",
                "idempotency_key": "k-3",
            },
            {
                "type": "alert",
                "alert_type": "dp",
                "source": "s",
                "content": "c",
                "idempotency_key": "k-1",
            },
        ]
        e = (await http.post("/api/v1/publish", json={"messages": batch})).json()
    assert a["id"] == b["id"]
    assert "duplicate" not in a
    assert b["duplicate"] is True
    assert c["id"] == d["id"]
    assert d["duplicate"] is True
    results = e["results"]
    assert results[0]["id"] == results[1]["id"]
    assert results[1]["duplicate"] is True
    assert results[2]["id"] == a["id"]
    got = [await recv_json(ws) for _ in range(3)]
    assert [m["seq"] for m in got] == [1, 2, 3]
    assert "idempotency_key" not in got[0]
    with pytest.raises(TimeoutError):
        await recv_json(ws, timeout=0.3)
    assert (await stats(hub))["duplicates"] == 4
    await ws.close()


async def test_unresponsive_client_is_closed_after_the_ping_deadline(hub_factory: Any) -> None:
    """A peer that never answers pings is closed with 1011; one that answers stays."""
    hub = hub_factory(ping_interval=0.3, ping_timeout=0.3)
    raw = _stalled(hub, "/ws/unified")
    good = await connect(hub.ws + "/ws/unified")
    await recv_json(good)

    def until_close() -> int:
        while True:
            opcode, payload = raw.read_frame()
            if opcode == 8:
                (code,) = struct.unpack("!H", payload[:2])
                return int(code)

    code = await asyncio.get_running_loop().run_in_executor(None, until_close)
    raw.close()
    assert code == 1011
    await asyncio.sleep(1.0)  # several ping intervals: the answering client is still served
    await send_json(good, {"action": "ping"})
    assert await recv_json(good) == {"type": "pong"}
    await good.close()


async def test_first_pings_are_spread_over_the_interval(hub_factory: Any) -> None:
    """Connections opened together are first pinged at different moments, not all at once."""
    hub = hub_factory(ping_interval=2.0, ping_timeout=5.0)
    clients = [_stalled(hub, "/ws/unified") for _ in range(30)]

    def first_ping(raw: RawClient) -> float:
        import time

        while True:
            opcode, _ = raw.read_frame(timeout=10)
            if opcode == 9:
                return time.monotonic()

    loop = asyncio.get_running_loop()
    times = await asyncio.gather(*(loop.run_in_executor(None, first_ping, c) for c in clients))
    for c in clients:
        c.close()
    assert max(times) - min(times) > 0.5  # uniform over 2 s: all within 0.5 s has p < 1e-15


async def test_history_over_http(hub: RunningHub) -> None:
    """GET /api/v1/history/{channel} serves the same history, with since and limit."""
    await publish(hub, alerts(10))
    async with httpx.AsyncClient(base_url=hub.url) as http:
        page = (await http.get("/api/v1/history/unified", params={"since": 3, "limit": 4})).json()
        newest = (await http.get("/api/v1/history/UNIFIED", params={"limit": 2})).json()
        bad = await http.get("/api/v1/history/unified", params={"limit": 0})
        unknown = await http.get("/api/v1/history/everything")
    assert [m["seq"] for m in page["messages"]] == [4, 5, 6, 7]
    assert page["messages"][0]["content"] == "#3"
    assert page["complete"] is True
    assert page["last_seq"] == 10
    assert [m["seq"] for m in newest["messages"]] == [9, 10]
    assert bad.status_code == 422
    assert "limit" in bad.json()["error"]["message"]
    assert unknown.status_code == 422
