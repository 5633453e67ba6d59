"""WebSocket endpoints against a real uvicorn hub: routing, order, control frames, refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from tests.conftest import RawClient, RunningHub, connect, recv_json, send_json, without_epoch
from websockets.exceptions import ConnectionClosed

from alphawire.web import transport

pytestmark = pytest.mark.anyio

ENDPOINTS = {
    "unified": "/ws/unified",
    "signals": "/ws/signals",
    "narrative": "/ws/narrative",
    "market_SPY": "/ws/market/spy",
    "market_BRK.B": "/ws/market/BRK.B",
    "agent_marketagent": "/ws/agents/MarketAgent",
}

MIXED: list[dict[str, Any]] = [
    {
        "type": "alert",
        "alert_type": "dark_pool",
        "source": "dp",
        "symbol": "spy",
        "content": "print",
    },
    {
        "type": "signal",
        "signal": {"symbol": "nvda", "action": "buy", "confidence": 0.7, "note": "x"},
    },
    {"type": "market_data", "symbol": "SPY", "data": {"price": 598.1, "bid": 598.0, "ask": 598.2}},
    {"type": "market_data", "symbol": "brk.b", "data": {"price": 470.0}},
    {"type": "market_data", "symbol": "QQQ", "data": {"price": 515.0}},
    {"type": "agent_insight", "agent": "MarketAgent", "insight": {"regime": "risk_on"}},
    {"type": "agent_insight", "agent": "GammaAgent", "insight": {"flip": 590}},
    {"type": "narrative", "narrative": {"headline": "Tech leads"}},
    {
        "type": "alert",
        "alert_type": "gamma",
        "source": "gx",
        "content": "flip",
        "embed": {"title": "t"},
    },
    {"type": "signal", "signal": {"symbol": "SPY", "action": "sell"}},
]

EXPECTED_TYPES = {
    "unified": ["alert", "signal", "alert", "signal"],
    "signals": ["signal", "signal"],
    "narrative": ["narrative"],
    "market_SPY": ["market_data"],
    "market_BRK.B": ["market_data"],
    "agent_marketagent": ["agent_insight"],
}


async def _publish(hub: RunningHub, batch: list[dict[str, Any]]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.post("/api/v1/publish", json={"messages": batch})
        assert response.status_code == 202, response.text
        data: dict[str, Any] = response.json()
        return data


async def test_every_endpoint_receives_exactly_its_routed_messages(hub: RunningHub) -> None:
    """Each per-channel endpoint gets a subscribed frame, then exactly its messages, in seq order."""
    sockets = {ch: await connect(hub.ws + path) for ch, path in ENDPOINTS.items()}
    for ch, ws in sockets.items():
        first = await recv_json(ws)
        assert without_epoch(first) == {"type": "subscribed", "channel": ch, "seq": 0}
    await _publish(hub, MIXED)
    for ch, ws in sockets.items():
        got = [await recv_json(ws) for _ in EXPECTED_TYPES[ch]]
        assert [m["type"] for m in got] == EXPECTED_TYPES[ch]
        assert [m["seq"] for m in got] == list(range(1, len(got) + 1))
        assert all(m["channel"] == ch for m in got)
        assert len({m["id"] for m in got}) == len(got)
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=0.3)  # nothing else was routed here
        await ws.close()


async def test_delivered_fields_match_the_wire_format(hub: RunningHub) -> None:
    """Delivered messages carry the seed's field names plus id, channel, seq and a UTC timestamp."""
    ws = await connect(hub.ws + "/ws")
    await send_json(
        ws,
        {
            "action": "subscribe",
            "channels": ["unified", "market_spy", "agent_MarketAgent", "narrative"],
        },
    )
    for _ in range(4):
        assert (await recv_json(ws))["type"] == "subscribed"
    await _publish(hub, MIXED[:3] + MIXED[5:6] + MIXED[7:8])
    by_type = {}
    for _ in range(5):
        m = await recv_json(ws)
        by_type[m["type"]] = m
    alert = by_type["alert"]
    assert set(alert) == {
        "id",
        "channel",
        "seq",
        "type",
        "alert_type",
        "source",
        "symbol",
        "content",
        "embed",
        "severity",
        "timestamp",
    }
    assert alert["symbol"] == "SPY" and alert["embed"] is None and alert["timestamp"].endswith("Z")
    assert len(alert["id"]) == 26
    signal = by_type["signal"]
    assert signal["signal"] == {"symbol": "NVDA", "action": "buy", "confidence": 0.7, "note": "x"}
    tick = by_type["market_data"]
    assert tick["channel"] == "market_SPY" and tick["data"] == {
        "price": 598.1,
        "bid": 598.0,
        "ask": 598.2,
    }
    insight = by_type["agent_insight"]
    assert insight["agent"] == "MarketAgent" and insight["channel"] == "agent_marketagent"
    assert by_type["narrative"]["narrative"] == {"headline": "Tech leads"}
    await ws.close()


async def test_producer_timestamp_is_kept_and_normalised_to_utc(hub: RunningHub) -> None:
    """An event time set by the producer is kept (converted to UTC); naive times are UTC."""
    ws = await connect(hub.ws + "/ws/narrative")
    await recv_json(ws)
    await _publish(
        hub,
        [
            {"type": "narrative", "narrative": {}, "timestamp": "2026-03-01T09:30:00-05:00"},
            {"type": "narrative", "narrative": {}, "timestamp": "2026-03-01T14:30:00"},
        ],
    )
    a, b = await recv_json(ws), await recv_json(ws)
    assert a["timestamp"] == "2026-03-01T14:30:00Z"
    assert b["timestamp"] == "2026-03-01T14:30:00Z"
    await ws.close()


async def test_subscribed_frame_carries_the_last_seq(hub: RunningHub) -> None:
    """A late subscriber is told the channel's last seq; its first message is the next one."""
    await _publish(hub, [MIXED[7]] * 3)
    ws = await connect(hub.ws + "/ws/narrative")
    assert without_epoch(await recv_json(ws)) == {
        "type": "subscribed",
        "channel": "narrative",
        "seq": 3,
    }
    await _publish(hub, [MIXED[7]])
    assert (await recv_json(ws))["seq"] == 4
    await ws.close()


async def test_multiplex_subscribe_unsubscribe_and_ping(hub: RunningHub) -> None:
    """/ws takes channels by subscribe frames, drops them by unsubscribe, and answers pings."""
    ws = await connect(hub.ws + "/ws")
    await send_json(ws, {"action": "ping"})
    assert await recv_json(ws) == {"type": "pong"}
    await send_json(ws, {"action": "subscribe", "channels": ["signals", "MARKET_qqq"]})
    assert without_epoch(await recv_json(ws)) == {
        "type": "subscribed",
        "channel": "signals",
        "seq": 0,
    }
    assert without_epoch(await recv_json(ws)) == {
        "type": "subscribed",
        "channel": "market_QQQ",
        "seq": 0,
    }
    await _publish(hub, [MIXED[1], MIXED[4]])
    got = {(m["channel"], m["seq"]) for m in [await recv_json(ws), await recv_json(ws)]}
    assert got == {("signals", 1), ("market_QQQ", 1)}
    await send_json(ws, {"action": "unsubscribe", "channels": ["signals"]})
    assert await recv_json(ws) == {"type": "unsubscribed", "channel": "signals"}
    await _publish(hub, [MIXED[1], MIXED[4]])
    m = await recv_json(ws)
    assert (m["channel"], m["seq"]) == ("market_QQQ", 2)
    with pytest.raises(asyncio.TimeoutError):
        await recv_json(ws, timeout=0.3)
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "code", "fragment"),
    [
        ("not json", "invalid_json", "not valid JSON"),
        ("[1,2]", "invalid_frame", "JSON object"),
        ('{"action":"dance"}', "unknown_action", "subscribe, unsubscribe, ping"),
        ('{"nothing":1}', "invalid_frame", 'needs "action"'),
        ('{"action":"subscribe"}', "invalid_frame", "non-empty list"),
        ('{"action":"subscribe","channels":[]}', "invalid_frame", "non-empty list"),
        (
            '{"action":"subscribe","channels":["bogus"]}',
            "invalid_channel",
            "unified, signals, narrative",
        ),
        (
            '{"action":"subscribe","channels":["market_bad symbol"]}',
            "invalid_channel",
            "1-20 characters",
        ),
        ('{"action":"subscribe","channels":[42]}', "invalid_channel", "must be a string"),
        (
            '{"action":"unsubscribe","channels":["agent_9x"]}',
            "invalid_channel",
            "not starting with a digit",
        ),
    ],
)
async def test_bad_client_frames_get_an_error_and_the_socket_stays_open(
    hub: RunningHub, frame: str, code: str, fragment: str
) -> None:
    """A malformed or unknown client frame is answered by an error frame without closing."""
    ws = await connect(hub.ws + "/ws")
    await ws.send(frame)
    answer = await recv_json(ws)
    assert answer["type"] == "error" and answer["code"] == code
    assert fragment in answer["message"]
    await send_json(ws, {"action": "ping"})
    assert await recv_json(ws) == {"type": "pong"}
    await ws.close()


async def test_binary_frame_closes_with_1003(hub: RunningHub) -> None:
    """Binary frames close the socket with 1003 (unsupported data) and a reason."""
    ws = await connect(hub.ws + "/ws")
    await ws.send(b"\x00\x01")
    with pytest.raises(ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1003
    assert "binary" in info.value.rcvd.reason


async def test_oversized_frame_closes_with_1009(hub: RunningHub) -> None:
    """A client frame over 64 KiB closes the socket with 1009 (message too big) and a reason."""
    ws = await connect(hub.ws + "/ws")
    await ws.send('{"action":"ping","pad":"' + "x" * (64 * 1024) + '"}')
    with pytest.raises(ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009
    assert info.value.rcvd.reason


async def test_oversized_frame_close_is_followed_by_the_hubs_fin(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a 1009 close the hub half-closes at once: the peer reads its close frame, then EOF.

    The grace before the hub drops the link is set far beyond the read timeout, so the EOF can
    only come from the half-close (without it, a client waits out the grace to see the end).
    """
    monkeypatch.setattr(transport, "ABORT_GRACE", 3600.0)
    port = int(hub.url.rsplit(":", 1)[1])
    raw = RawClient("127.0.0.1", port, "/api/v1/ws")
    try:
        raw.send_frame(1, b'{"action":"ping","pad":"' + b"x" * (64 * 1024) + b'"}')
        opcode, payload = raw.read_frame()
        assert (opcode, int.from_bytes(payload[:2])) == (8, 1009)
        assert raw.sock.recv(1) == b""  # the hub's FIN (a read timeout raises instead)
    finally:
        raw.close()


async def test_frame_at_the_limit_is_accepted(hub: RunningHub) -> None:
    """A frame of exactly 64 KiB is within the limit."""
    ws = await connect(hub.ws + "/ws")
    head = '{"action":"ping","pad":"'
    await ws.send(head + "x" * (64 * 1024 - len(head) - 2) + '"}')
    assert await recv_json(ws) == {"type": "pong"}
    await ws.close()


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/ws/market/WAYTOOLONGSYMBOL123456", "1-20 characters"),
        ("/ws/market/SP%20Y", "1-20 characters"),
        ("/ws/market/SPY$", "1-20 characters"),
        ("/ws/agents/9lives", "not starting with a digit"),
        ("/ws/agents/market-agent", "letters, digits and _"),
    ],
)
async def test_bad_symbol_or_agent_is_refused_with_1008(
    hub: RunningHub, path: str, rule: str
) -> None:
    """A symbol or agent name that breaks the rules is closed with 1008 and a reason naming the rule."""
    ws = await connect(hub.ws + path)
    with pytest.raises(ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008
    assert rule in info.value.rcvd.reason


async def test_symbols_with_punctuation_work(hub: RunningHub) -> None:
    """BRK.B, ^VIX, ES=F and BTC-USD are valid symbols, case-insensitive."""
    for raw, channel in (
        ("brk.b", "market_BRK.B"),
        ("^vix", "market_^VIX"),
        ("es=f", "market_ES=F"),
        ("btc-usd", "market_BTC-USD"),
    ):
        ws = await connect(hub.ws + "/ws/market/" + raw.replace("^", "%5E").replace("=", "%3D"))
        assert without_epoch(await recv_json(ws)) == {
            "type": "subscribed",
            "channel": channel,
            "seq": 0,
        }
        await ws.close()


async def test_shutdown_closes_sockets_with_1001(hub_factory: Any) -> None:
    """A hub shutting down closes every socket with 1001 (going away)."""
    hub = hub_factory()
    ws = await connect(hub.ws + "/ws/unified")
    await recv_json(ws)
    await asyncio.get_running_loop().run_in_executor(None, hub.stop)
    with pytest.raises(ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1001
