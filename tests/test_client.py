"""The Python clients (Subscription, PublisherClient) and the in-process publisher API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from tests.conftest import RunningHub, connect, recv_json, send_json, start_hub, wait_until
from websockets.asyncio.client import ClientConnection

from alphawire.client import PublisherClient, Subscription
from alphawire.errors import ClientError, ServerRejected, ValidationError
from alphawire.results import PublishResult
from alphawire.settings import Settings

pytestmark = pytest.mark.anyio

ALL_CHANNELS = ["unified", "signals", "market_SPY", "agent_marketagent", "narrative"]


async def publish(hub: RunningHub, batch: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.post("/api/v1/publish", json={"messages": batch})
    assert response.status_code == 202, response.text


async def published_total(hub: RunningHub) -> int:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        total: int = (await http.get("/api/v1/ws/stats")).json()["published_total"]
        return total


async def take(sub: Subscription, n: int) -> list[dict[str, Any]]:
    """The next ``n`` frames ``async for`` yields (the timeout is a hang guard)."""
    got: list[dict[str, Any]] = []
    with anyio.fail_after(20):
        async for frame in sub:
            got.append(frame)
            if len(got) == n:
                break
    return got


async def multiplex(hub: RunningHub, channels: list[str]) -> ClientConnection:
    """A raw /ws socket subscribed to ``channels`` (their subscribed frames consumed)."""
    ws = await connect(hub.ws + "/ws")
    await send_json(ws, {"action": "subscribe", "channels": channels})
    for _ in channels:
        assert (await recv_json(ws))["type"] == "subscribed"
    return ws


async def frames_by_channel(ws: ClientConnection, n: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for _ in range(n):
        frame = await recv_json(ws)
        out.setdefault(frame["channel"], []).append(frame)
    return out


# -- Subscription ----------------------------------------------------------------------------


async def test_subscription_yields_messages_of_several_channels(hub: RunningHub) -> None:
    """`async for` over a Subscription yields the messages of all its channels, in seq order."""
    await publish(hub, [{"type": "narrative", "narrative": {"n": 0}}] * 2)  # before subscribing
    channels = ["unified", "market_spy", "agent_MarketAgent", "narrative"]
    async with Subscription(channels, url=hub.url) as sub:
        got: list[dict[str, Any]] = []

        async def collect() -> None:
            got.extend(await take(sub, 5))

        async with anyio.create_task_group() as tg:
            tg.start_soon(collect)
            # The subscribed frames are not yielded, but they fill in last_seq.
            await wait_until(lambda: len(sub.last_seq) == 4)
            assert sub.last_seq == {
                "unified": 0,
                "market_SPY": 0,
                "agent_marketagent": 0,
                "narrative": 2,
            }
            await publish(
                hub,
                [
                    {"type": "alert", "alert_type": "gamma", "source": "gx", "content": "flip"},
                    {"type": "market_data", "symbol": "spy", "data": {"price": 1.5}},
                    {"type": "agent_insight", "agent": "MarketAgent", "insight": {"k": 1}},
                    {"type": "narrative", "narrative": {"n": 3}},
                    {"type": "signal", "signal": {"symbol": "SPY"}},  # also on signals: not ours
                ],
            )
        assert sub.last_seq == {
            "unified": 2,
            "market_SPY": 1,
            "agent_marketagent": 1,
            "narrative": 3,
        }
    assert [(f["type"], f["channel"], f["seq"]) for f in got] == [
        ("alert", "unified", 1),
        ("market_data", "market_SPY", 1),
        ("agent_insight", "agent_marketagent", 1),
        ("narrative", "narrative", 3),
        ("signal", "unified", 2),
    ]
    assert got[1]["data"] == {"price": 1.5}


async def test_subscription_yields_control_frames_only_when_asked(hub: RunningHub) -> None:
    """With control=True the subscribed frames are yielded too; by default they are not."""
    async with Subscription(["narrative", "signals"], url=hub.url, control=True) as sub:
        frames = await take(sub, 2)
        assert [(f["type"], f["channel"], f["seq"]) for f in frames] == [
            ("subscribed", "narrative", 0),
            ("subscribed", "signals", 0),
        ]
        await publish(hub, [{"type": "narrative", "narrative": {}}])
        (message,) = await take(sub, 1)
        assert (message["type"], message["seq"]) == ("narrative", 1)
    async with Subscription(["narrative"], url=hub.url) as sub:
        await publish(hub, [{"type": "narrative", "narrative": {}}])
        (first,) = await take(sub, 1)
        assert (first["type"], first["seq"]) == ("narrative", 2)


async def test_subscription_raises_client_error_on_an_error_frame(hub: RunningHub) -> None:
    """An error frame (here: a bad channel name) raises ClientError naming its code, from
    `async with` itself: the subscription is not returned half made."""
    sub = Subscription(["unified", "bogus"], url=hub.url)
    with anyio.fail_after(20), pytest.raises(ClientError, match="invalid_channel"):
        async with sub:
            raise AssertionError("not reached")


async def test_subscription_yields_error_frames_with_control(hub: RunningHub) -> None:
    """With control=True an error frame is yielded, not raised."""
    async with Subscription(["market_bad symbol"], url=hub.url, control=True) as sub:
        (frame,) = await take(sub, 1)
    assert frame["type"] == "error"
    assert frame["code"] == "invalid_channel"
    assert frame["channel"] == "market_bad symbol"


async def test_subscription_must_be_opened_before_iterating(hub: RunningHub) -> None:
    """Iterating a Subscription outside `async with` raises ClientError."""
    sub = Subscription(["unified"], url=hub.url)
    with pytest.raises(ClientError, match="async with"):
        async for _ in sub:
            pass


async def test_subscription_close_is_idempotent(hub: RunningHub) -> None:
    """close() may be called again after `async with` closed the socket: the hub sees one
    subscriber come and go, and iterating a closed subscription ends at once."""
    async with Subscription(["unified"], url=hub.url) as sub:
        assert hub.node.registry.channel_counts() == {"unified": 1}  # subscribed on return
        await sub.close()
        await sub.close()
    await sub.close()
    await wait_until(lambda: hub.node.registry.connection_count() == 0)
    assert hub.node.registry.channel_counts() == {}
    assert [m async for m in sub] == []


async def test_subscription_returns_only_once_subscribed(hub: RunningHub) -> None:
    """A message published right after `async with Subscription(...)` returns is received."""
    async with Subscription(["signals", "market_spy"], url=hub.url) as sub:
        await hub.acall(hub.node.publish_signal({"symbol": "SPY", "action": "buy"}))
        message = await asyncio.wait_for(anext(aiter(sub)), 10)
    assert message["channel"] == "signals" and message["seq"] == 1


# -- PublisherClient -------------------------------------------------------------------------


@pytest.fixture
async def publisher(hub: RunningHub) -> AsyncIterator[PublisherClient]:
    async with PublisherClient(hub.url, hub.token) as client:
        yield client


async def test_publisher_client_typed_methods_publish_end_to_end(
    hub: RunningHub, publisher: PublisherClient
) -> None:
    """Each typed publish_* method answers with id, channels, seq, and the message arrives."""
    ws = await multiplex(hub, ALL_CHANNELS)
    try:
        answers = [
            await publisher.publish_alert(
                alert_type="dark_pool", source="dp", symbol="spy", content="2M", severity=None
            ),
            await publisher.publish_signal({"symbol": "nvda", "action": "buy", "confidence": 0.8}),
            await publisher.publish_market_data("spy", {"price": 598.1, "bid": 598.0}),
            await publisher.publish_agent_insight("MarketAgent", {"regime": "risk_on"}),
            await publisher.publish_narrative({"headline": "Tech leads"}),
        ]
        got = await frames_by_channel(ws, 6)
    finally:
        await ws.close()
    assert [a["type"] for a in answers] == [
        "alert",
        "signal",
        "market_data",
        "agent_insight",
        "narrative",
    ]
    assert [a["seq"] for a in answers] == [
        {"unified": 1},
        {"signals": 1, "unified": 2},
        {"market_SPY": 1},
        {"agent_marketagent": 1},
        {"narrative": 1},
    ]
    alert, signal_unified = got["unified"]
    assert alert["id"] == answers[0]["id"]
    assert (alert["symbol"], alert["content"], alert["severity"]) == ("SPY", "2M", None)
    assert got["signals"][0]["id"] == signal_unified["id"] == answers[1]["id"]
    assert got["signals"][0]["signal"] == {"symbol": "NVDA", "action": "buy", "confidence": 0.8}
    tick = got["market_SPY"][0]
    assert (tick["symbol"], tick["data"]) == ("SPY", {"price": 598.1, "bid": 598.0})
    insight = got["agent_marketagent"][0]
    assert (insight["agent"], insight["insight"]) == ("MarketAgent", {"regime": "risk_on"})
    assert got["narrative"][0]["narrative"] == {"headline": "Tech leads"}


async def test_publisher_client_publish_many(hub: RunningHub, publisher: PublisherClient) -> None:
    """publish_many publishes a mixed batch in order and answers with every result."""
    ws = await multiplex(hub, ["signals", "narrative"])
    try:
        answer = await publisher.publish_many(
            [
                {"type": "narrative", "narrative": {"n": 1}},
                {"type": "signal", "signal": {"symbol": "QQQ"}},
                {"type": "narrative", "narrative": {"n": 2}},
            ]
        )
        got = await frames_by_channel(ws, 3)
    finally:
        await ws.close()
    assert answer["accepted"] == 3
    assert [r["channels"] for r in answer["results"]] == [
        ["narrative"],
        ["signals", "unified"],
        ["narrative"],
    ]
    assert [f["narrative"]["n"] for f in got["narrative"]] == [1, 2]
    assert [f["id"] for f in got["narrative"]] == [answer["results"][i]["id"] for i in (0, 2)]
    assert got["signals"][0]["signal"] == {"symbol": "QQQ"}


async def test_publisher_client_wrong_token_raises_401(hub: RunningHub) -> None:
    """A wrong token raises ServerRejected (a ClientError) with status 401; nothing published."""
    async with PublisherClient(hub.url, "wrong") as client:
        with pytest.raises(ServerRejected) as info:
            await client.publish_narrative({"headline": "x"})
    assert isinstance(info.value, ClientError)
    assert info.value.status == 401
    assert info.value.body["error"]["code"] == "unauthorized"
    assert await published_total(hub) == 0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.publish_signal({"action": "buy"}), "signal.symbol"),
        (lambda c: c.publish_signal({"symbol": "X", "confidence": 2}), "signal.confidence"),
        (lambda c: c.publish_alert(source="dp"), "alert_type"),
        (lambda c: c.publish_market_data("SPY", {"price": "cheap"}), "data.price"),
        (lambda c: c.publish_agent_insight("9lives", {}), "agent"),
        (
            lambda c: c.publish_many([{"type": "narrative", "narrative": {}}, {"type": "nope"}]),
            "type",
        ),
    ],
)
async def test_publisher_client_422_carries_the_error_list(
    hub: RunningHub, publisher: PublisherClient, call: Any, field: str
) -> None:
    """An invalid message raises ServerRejected 422 whose body lists each error by field."""
    with pytest.raises(ServerRejected) as info:
        await call(publisher)
    assert info.value.status == 422
    error = info.value.body["error"]
    assert error["code"] in ("invalid_message", "invalid_agent")
    assert isinstance(error["errors"], list) and error["errors"]
    assert field in [e["field"] for e in error["errors"]]
    assert await published_total(hub) == 0


async def test_publisher_client_without_a_token_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no token given and no token file, PublisherClient raises ClientError at once."""
    monkeypatch.setenv("ALPHAWIRE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("ALPHAWIRE_PUBLISH_TOKEN", raising=False)
    with pytest.raises(ClientError, match="no publish token"):
        PublisherClient("http://127.0.0.1:9")


async def test_publisher_client_reads_the_local_token_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no token given, PublisherClient uses the token file in the hub's data dir."""
    data_dir = tmp_path / "hubdata"
    hub = start_hub(Settings(data_dir=data_dir, publish_token=None))
    try:
        monkeypatch.setenv("ALPHAWIRE_DATA_DIR", str(data_dir))
        async with PublisherClient(hub.url) as client:
            answer = await client.publish_narrative({"headline": "x"})
        assert answer["seq"] == {"narrative": 1}
    finally:
        await anyio.to_thread.run_sync(hub.stop)


async def test_publisher_client_reads_the_token_from_the_environment(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ALPHAWIRE_PUBLISH_TOKEN, which the no-token error suggests, is used by PublisherClient."""
    monkeypatch.setenv("ALPHAWIRE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("ALPHAWIRE_PUBLISH_TOKEN", hub.token)
    async with PublisherClient(hub.url) as client:
        answer = await client.publish_narrative({"headline": "x"})
    assert answer["seq"] == {"narrative": 1}


@pytest.mark.parametrize("symbol", ["SPY?x=1", "SPY#frag"])
async def test_publisher_client_never_reroutes_an_invalid_symbol(
    hub: RunningHub, publisher: PublisherClient, symbol: str
) -> None:
    """A symbol with '?' or '#' is refused (422), never published to another symbol's channel."""
    try:
        answer = await publisher.publish_market_data(symbol, {"price": 1.0})
    except ServerRejected as exc:
        assert exc.status == 422
    else:
        raise AssertionError(f"{symbol!r} was published as {answer['channels']}")
    assert await published_total(hub) == 0


# -- the in-process publisher API ------------------------------------------------------------


async def test_in_process_publisher_delivers_to_websocket_subscribers(hub: RunningHub) -> None:
    """hub.node.publish_* (the original in-process API) reach WebSocket subscribers."""
    pub = hub.node
    ws = await multiplex(hub, ALL_CHANNELS)
    try:
        results = [
            await hub.acall(
                pub.publish_alert(alert_type="gamma", source="gx", symbol="qqq", content="flip")
            ),
            await hub.acall(pub.publish_signal({"symbol": "tsla", "action": "sell"})),
            await hub.acall(pub.publish_market_data("spy", {"price": 598.5})),
            await hub.acall(pub.publish_agent_insight("MarketAgent", {"regime": "risk_off"})),
            await hub.acall(
                pub.publish_narrative({"headline": "h"}, timestamp="2026-03-01T09:30:00-05:00")
            ),
            hub.call(pub.publish({"type": "narrative", "narrative": {"via": "call"}})),
        ]
        got = await frames_by_channel(ws, 7)
    finally:
        await ws.close()
    assert all(isinstance(r, PublishResult) for r in results)
    assert [r.channels for r in results] == [
        ["unified"],
        ["signals", "unified"],
        ["market_SPY"],
        ["agent_marketagent"],
        ["narrative"],
        ["narrative"],
    ]
    alert, signal_unified = got["unified"]
    assert (alert["id"], alert["alert_type"], alert["symbol"]) == (results[0].id, "gamma", "QQQ")
    assert signal_unified["signal"] == {"symbol": "TSLA", "action": "sell"}
    assert got["signals"][0]["id"] == results[1].id
    assert got["market_SPY"][0]["data"] == {"price": 598.5}
    assert got["agent_marketagent"][0]["insight"] == {"regime": "risk_off"}
    first, second = got["narrative"]
    assert first["timestamp"] == "2026-03-01T14:30:00Z"
    assert (second["seq"], second["narrative"]) == (2, {"via": "call"})


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "field"),
    [
        ("publish_alert", (), {"alert_type": "", "source": "gx"}, "alert_type"),
        ("publish_alert", (), {"alert_type": "g", "source": "gx", "severity": "dire"}, "severity"),
        ("publish_signal", ({"action": "buy"},), {}, "signal.symbol"),
        ("publish_signal", ({"symbol": "X", "entry": float("nan")},), {}, "signal.entry"),
        ("publish_market_data", ("bad symbol", {}), {}, "symbol"),
        ("publish_market_data", ("SPY", {"bid": "x"}), {}, "data.bid"),
        ("publish_agent_insight", ("market-agent", {}), {}, "agent"),
        ("publish_narrative", ({},), {"timestamp": "yesterday"}, "timestamp"),
    ],
)
async def test_in_process_publisher_rejects_invalid_input_naming_the_field(
    hub: RunningHub, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    """Invalid input raises alphawire.errors.ValidationError naming the field; nothing is sent."""
    call = getattr(hub.node, method)
    with pytest.raises(ValidationError) as info:
        await hub.acall(call(*args, **kwargs))
    assert str(info.value).startswith(f"{field}:")
    assert [e["field"] for e in info.value.errors] == [field]
    assert await published_total(hub) == 0


async def test_in_process_publish_many_is_all_or_nothing(hub: RunningHub) -> None:
    """publish_many validates the whole batch first: one bad message and none is published."""
    batch = [{"type": "narrative", "narrative": {}}, {"type": "signal", "signal": {}}]
    with pytest.raises(ValidationError, match=r"signal\.symbol"):
        await hub.acall(hub.node.publish_many(batch))
    assert await published_total(hub) == 0
