"""Batch mode: a subscription's messages of one loop turn (or linger) as one JSON-array frame.

Real hub, real WebSocket clients. Batching is an encoding of the same stream: every message
arrives exactly once, in seq order, replays and snapshots included."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import RunningHub, connect, recv_json, send_json
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from alphawire.client import Subscription
from alphawire.hub.connection import Connection, Corker
from alphawire.hub.frames import batch_frame, message_frame
from alphawire.hub.stats import Stats

pytestmark = pytest.mark.anyio


def _signals(n: int, start: int = 0) -> dict[str, Any]:
    return {
        "messages": [
            {"type": "signal", "signal": {"symbol": "SPY", "n": i}} for i in range(start, start + n)
        ]
    }


def _ticks(n: int, symbol: str = "SPY", start: int = 0) -> dict[str, Any]:
    return {
        "messages": [
            {"type": "market_data", "symbol": symbol, "data": {"price": 500 + i}}
            for i in range(start, start + n)
        ]
    }


async def _post(hub: RunningHub, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(hub.url + "/api/v1/publish", json=body, headers=hub.headers())
    assert r.status_code == 202, r.text


async def _collect(
    ws: ClientConnection, channel: str, count: int
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    """(messages of ``channel``, array frames that carried them, control frames) until
    ``count`` messages have arrived."""
    messages: list[dict[str, Any]] = []
    control: list[dict[str, Any]] = []
    arrays = 0
    while len(messages) < count:
        data = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if isinstance(data, list):
            arrays += 1
            assert data, "an empty batch frame"
            assert all(m["channel"] == channel for m in data)
            messages.extend(data)
        else:
            control.append(data)
    return messages, arrays, control


async def test_batch_subscribers_get_arrays_plain_ones_objects(hub: RunningHub) -> None:
    """One HTTP batch of 300 signals: a batch subscriber gets them in array frames (fewer
    frames than messages), a plain one as 300 objects; both exactly once, in seq order."""
    batched = await connect(hub.ws + "/ws/signals?batch=1")
    plain = await connect(hub.ws + "/ws/signals")
    for ws in (batched, plain):
        assert (await recv_json(ws))["type"] == "subscribed"
    await _post(hub, _signals(300))
    messages, arrays, control = await _collect(batched, "signals", 300)
    assert [m["seq"] for m in messages] == list(range(1, 301))
    assert [m["signal"]["n"] for m in messages] == list(range(300))
    assert control == [] and 1 <= arrays < 300
    got = [await recv_json(plain) for _ in range(300)]
    assert [m["seq"] for m in got] == list(range(1, 301))
    async with httpx.AsyncClient() as client:
        stats = (await client.get(hub.url + "/api/v1/ws/stats")).json()
    assert stats["delivered"] == 600  # counted per message, not per frame
    for ws in (batched, plain):
        await ws.close()


async def test_linger_gathers_messages_from_separate_publishes(hub: RunningHub) -> None:
    """With linger_ms, messages published by separate requests within the window share a frame."""
    ws = await connect(hub.ws + "/ws/market/SPY?batch=1&linger_ms=1000")
    assert (await recv_json(ws))["type"] == "subscribed"
    for i in range(5):
        await _post(hub, _ticks(1, start=i))
    messages, arrays, _ = await _collect(ws, "market_SPY", 5)
    assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    assert arrays < 5
    await ws.close()


async def test_multiplexed_modes_per_subscription(hub: RunningHub) -> None:
    """On /ws the mode is chosen per subscribe frame: batch for ticks, objects for alerts."""
    ws = await connect(hub.ws + "/ws")
    await send_json(
        ws, {"action": "subscribe", "channels": ["market_QQQ"], "batch": True, "linger_ms": 20}
    )
    await send_json(ws, {"action": "subscribe", "channels": ["unified"]})
    acks = [await recv_json(ws), await recv_json(ws)]
    assert {a["channel"] for a in acks} == {"market_QQQ", "unified"}
    await _post(hub, _ticks(50, "QQQ"))
    await _post(hub, _signals(3))
    ticks: list[dict[str, Any]] = []
    unified: list[dict[str, Any]] = []
    while len(ticks) < 50 or len(unified) < 3:
        data = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if isinstance(data, list):
            ticks.extend(data)
        else:
            assert data["channel"] == "unified"
            unified.append(data)
    assert [t["seq"] for t in ticks] == list(range(1, 51))
    assert [u["seq"] for u in unified] == [1, 2, 3]
    await ws.close()


async def test_replay_snapshot_and_live_are_arrays_exactly_once(hub: RunningHub) -> None:
    """Resuming with since replays the gap as arrays, then live arrays: no gap, no duplicate;
    a market channel's snapshot is an array of one, marked snapshot."""
    await _post(hub, _signals(40))
    first = await connect(hub.ws + "/ws/signals")
    ack = await recv_json(first)
    await first.close()
    epoch = ack["epoch"]
    ws = await connect(hub.ws + f"/ws/signals?batch=1&since=10&epoch={epoch}")
    ack = await recv_json(ws)
    assert ack["recovered"] is True and ack["seq"] == 40
    await _post(hub, _signals(20, start=40))
    messages, _, _ = await _collect(ws, "signals", 50)
    assert [m["seq"] for m in messages] == list(range(11, 61))
    await ws.close()

    await _post(hub, _ticks(3, "IWM"))
    ws = await connect(hub.ws + "/ws/market/IWM?batch=1")
    assert (await recv_json(ws))["type"] == "subscribed"
    snapshot = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert isinstance(snapshot, list) and len(snapshot) == 1
    assert snapshot[0]["seq"] == 3 and snapshot[0]["snapshot"] is True
    await ws.close()


@pytest.mark.parametrize(
    "query",
    [
        "batch=yes",
        "linger_ms=5",
        "batch=1&linger_ms=5000",
        "batch=1&linger_ms=-1",
        "batch=1&linger_ms=x",
    ],
)
async def test_bad_batch_options_in_the_query_are_refused(hub: RunningHub, query: str) -> None:
    ws = await connect(hub.ws + "/ws/unified?" + query)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1008
    assert "batch" in (ws.close_reason or "") or "linger_ms" in (ws.close_reason or "")


@pytest.mark.parametrize(
    "options",
    [{"batch": "yes"}, {"batch": True, "linger_ms": -1}, {"batch": True, "linger_ms": 1.5}],
)
async def test_bad_batch_options_in_a_frame_get_an_error(
    hub: RunningHub, options: dict[str, Any]
) -> None:
    ws = await connect(hub.ws + "/ws")
    await send_json(ws, {"action": "subscribe", "channels": ["unified"], **options})
    error = await recv_json(ws)
    assert error["type"] == "error" and error["code"] == "invalid_frame"
    await send_json(ws, {"action": "ping"})
    assert (await recv_json(ws))["type"] == "pong"  # still open, nothing subscribed
    await ws.close()


async def test_python_client_yields_single_messages_in_batch_mode(hub: RunningHub) -> None:
    async with Subscription(["signals"], url=hub.url, batch=True, linger_ms=10) as sub:
        await _post(hub, _signals(120))
        seqs = []
        async for message in sub:
            seqs.append(message["seq"])
            if len(seqs) == 120:
                break
    assert seqs == list(range(1, 121))


async def test_conflation_of_batch_frames_counts_every_message() -> None:
    """A slow consumer's queued batch frames conflate like ticks; the skipped notice counts
    the messages the dropped frames held, and its range ends just before the kept frame."""

    class Blocked:
        is_open = True

        def __init__(self) -> None:
            self.wire: list[bytes] = []

        def writable(self) -> bool:
            return False

        def write_bytes(self, data: bytes) -> None:
            self.wire.append(data)

        def try_write(self, frame: Any) -> bool:
            return False

        async def write(self, frame: Any) -> None:
            await asyncio.Event().wait()

        def close(self, code: int, reason: str) -> None:
            self.is_open = False

    stats = Stats()
    conn = Connection(Blocked(), stats, corker=Corker(), max_messages=3)
    seq = 1
    for size in (5, 5, 5, 5):  # four batch frames: seqs 1-5, 6-10, 11-15, 16-20
        frames = [message_frame("market_SPY", s, b'{"x":1}') for s in range(seq, seq + size)]
        conn.push(batch_frame(frames))
        seq += size
    # Four frames over the bound of three: conflated to the newest, 15 messages skipped.
    assert conn.skipped == 15 and stats.conflated == 15
    assert conn._gaps == {"market_SPY": (1, 15)}
    kept = conn._market
    assert kept is not None and len(kept) == 1 and kept[0].seq == 16 and kept[0].count == 5
    notice = conn._gap_notice(kept[0])
    assert notice is not None
    assert orjson.loads(notice.payload) == {
        "type": "skipped",
        "channel": "market_SPY",
        "count": 15,
        "from_seq": 1,
        "to_seq": 15,
    }
    conn.discard()
