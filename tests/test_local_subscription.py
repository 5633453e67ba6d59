"""In-process subscriptions (node.subscribe): the socket subscriber's semantics, in-process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.test_brokers import redis_url

from alphawire.brokers.base import Limit, Retention
from alphawire.node import Node
from alphawire.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    hub = Node(Settings(data_dir=tmp_path / "node", publish_token="t"))
    await hub.start()
    yield hub
    await hub.stop()


def signals(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"type": "signal", "signal": {"symbol": "SPY", "n": start + i}} for i in range(n)]


def ticks(n: int, symbol: str = "SPY") -> list[dict[str, Any]]:
    return [{"type": "market_data", "symbol": symbol, "data": {"price": i}} for i in range(n)]


async def take(sub: Any, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    it = aiter(sub)
    while len(out) < n:
        out.append(await asyncio.wait_for(anext(it), timeout))
    return out


async def test_messages_arrive_in_order_exactly_once(node: Node) -> None:
    """Every message of the subscribed channels arrives once, in seq order per channel."""
    async with node.subscribe(["signals", "unified"]) as sub:
        for i in range(0, 600, 200):
            await node.publish_many(signals(200, i))
        got = await take(sub, 1200)
    by_channel: dict[str, list[int]] = {}
    for item in got:
        by_channel.setdefault(item["channel"], []).append(item["seq"])
        assert item["type"] == "signal"
    assert by_channel == {"signals": list(range(1, 601)), "unified": list(range(1, 601))}
    assert sub.positions == {"signals": 600, "unified": 600}
    # Counted apart from socket deliveries: `delivered` stays "frames written to a socket".
    assert (node.stats.local_delivered, node.stats.delivered) == (1200, 0)


async def test_returns_only_once_subscribed_and_counts_in_stats(node: Node) -> None:
    """A publish right after entering is received; stats count open in-process subscriptions."""
    assert node.stats_snapshot()["local_subscriptions"] == 0
    async with node.subscribe(["narrative"]) as sub:
        assert node.stats_snapshot()["local_subscriptions"] == 1
        assert node.registry.local_channel_counts() == {"narrative": 1}
        assert node.stats_snapshot()["local_channels"] == {"narrative": 1}
        assert node.registry.channel_counts() == {}  # sockets only
        assert node.stats_snapshot()["total_connections"] == 0  # not a network connection
        await node.publish_narrative({"headline": "h"})
        (item,) = await take(sub, 1)
    assert item["narrative"] == {"headline": "h"}
    assert node.stats_snapshot()["local_subscriptions"] == 0
    assert node.registry.local_channel_counts() == {}


async def test_patterns_take_existing_and_new_channels(node: Node) -> None:
    """`market_*` takes channels that exist (with their newest tick as a snapshot, as on a
    socket) and channels that appear later, nothing else."""
    await node.publish_market_data("QQQ", {"price": 1})  # exists before the subscription
    async with node.subscribe(["market_*", "agent_*"]) as sub:
        await node.publish_many(
            [
                *ticks(2, "QQQ"),
                *ticks(1, "NVDA"),  # a new channel: joined before its first message
                {"type": "agent_insight", "agent": "Gamma", "insight": {"x": 1}},
                *signals(1),  # signals/unified: not matched
            ]
        )
        got = await take(sub, 5)
        assert sub.channels == {"market_QQQ", "market_NVDA", "agent_gamma"}
    assert got[0]["snapshot"] is True
    assert [(g["channel"], g["seq"]) for g in got] == [
        ("market_QQQ", 1),
        ("market_QQQ", 2),
        ("market_QQQ", 3),
        ("market_NVDA", 1),
        ("agent_gamma", 1),
    ]


async def test_since_replays_then_goes_live(node: Node) -> None:
    """since + epoch replay what came after, then live messages follow with no gap."""
    await node.publish_many(signals(10))
    epoch = node.broker.epoch
    async with node.subscribe(["signals"], since={"signals": 4}, epoch=epoch) as sub:
        await node.publish_many(signals(3, 10))
        got = await take(sub, 9)
    assert [g["seq"] for g in got] == list(range(5, 14))


@pytest.mark.parametrize(
    ("epoch", "since", "reason"),
    [("not-this-one", 2, "epoch_changed"), (None, 2, "history_pruned"), (None, 99, "since_ahead")],
)
async def test_an_unfillable_gap_is_reported(
    tmp_path: Path, epoch: str | None, since: int, reason: str
) -> None:
    """A gap history cannot fill is one recovery item naming the reason, then live messages."""
    small = Retention({**Retention().limits, "signals": Limit(5, 3600)})
    node = Node(Settings(data_dir=tmp_path, publish_token="t", history=small))
    await node.start()
    try:
        await node.publish_many(signals(20))
        given = epoch or node.broker.epoch
        async with node.subscribe(["signals"], since={"signals": since}, epoch=given) as sub:
            await node.publish_many(signals(1, 20))
            notice, live = await take(sub, 2)
    finally:
        await node.stop()
    assert notice["type"] == "recovery" and notice["reason"] == reason
    assert (notice["recovered"], notice["since"], notice["seq"]) == (False, since, 20)
    assert live["seq"] == 21


async def test_slow_consumer_ticks_are_conflated_with_a_skipped_notice(node: Node) -> None:
    """Ticks piling up past the lane bound are conflated to the newest; `skipped` accounts for
    every tick not delivered, and memory stays bounded."""
    async with node.subscribe(["market_SPY"], buffer=8, max_messages=64) as sub:
        for _ in range(10):
            await node.publish_many(ticks(500))
        conn = sub._conn
        assert conn is not None and conn.queued <= 64 + 1
        seen: list[int] = []
        skipped = 0
        while not seen or seen[-1] < 5000:
            (item,) = await take(sub, 1)
            if item["type"] == "skipped":
                assert item["to_seq"] - item["from_seq"] + 1 == item["count"]
                skipped += item["count"]
            else:
                seen.append(item["seq"])
    assert seen == sorted(seen) and seen[-1] == 5000
    assert skipped > 0 and len(seen) + skipped == 5000
    assert node.stats.conflated == skipped


async def test_slow_consumer_of_alerts_is_cut_off_then_resumes_from_history(node: Node) -> None:
    """Priority-lane overflow cuts the subscription off (4008) as a socket's would be; it
    resumes from the last seq it yielded and gets every message exactly once."""
    async with node.subscribe(["signals"], buffer=8, max_messages=32) as sub:
        for i in range(0, 500, 100):
            await node.publish_many(signals(100, i))  # not read meanwhile: overflow
        got = await take(sub, 500)
    assert [g["seq"] for g in got] == list(range(1, 501))
    assert sub.resumes == 1
    assert node.stats.slow_consumers == 1


async def test_memory_is_bounded_while_nobody_reads(node: Node) -> None:
    """10,000 unread ticks over 10 channels hold at most the buffer plus one tick per channel."""
    async with node.subscribe(["market_*"], buffer=16, max_messages=100) as sub:
        for symbol in "ABCDEFGHIJ":
            await node.publish_market_data(symbol, {"price": 0})
        for _ in range(10):
            await node.publish_many([t for s in "ABCDEFGHIJ" for t in ticks(100, s)])
        conn, sink = sub._conn, sub._sink
        assert conn is not None and sink is not None
        assert conn.queued <= 100 + 10
        assert len(sink._frames) <= 16


async def test_hub_shutdown_ends_the_iteration(tmp_path: Path) -> None:
    """When the node stops, an in-process subscription's iterator ends (no resume)."""
    node = Node(Settings(data_dir=tmp_path, publish_token="t"))
    await node.start()
    sub = node.subscribe(["unified"])
    await sub.start()

    async def drain() -> list[dict[str, Any]]:
        return [item async for item in sub]

    reader = asyncio.create_task(drain())
    await node.publish_alert(alert_type="t", source="s", content="one")
    await node.stop()
    items = await asyncio.wait_for(reader, 10)
    assert [i["content"] for i in items] == ["one"]
    assert sub.resumes == 0


async def test_patterns_discover_channels_published_by_another_process(tmp_path: Path) -> None:
    """On Redis, a channel first published by another hub is found and replayed from seq 1."""
    from alphawire.brokers.redis import RedisBroker

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    url = redis_url()
    a = Node(
        Settings(data_dir=tmp_path / "a", publish_token="t"),
        RedisBroker(url, prefix=prefix),
    )
    b = Node(
        Settings(data_dir=tmp_path / "b", publish_token="t"),
        RedisBroker(url, prefix=prefix),
    )
    await a.start()
    await b.start()
    try:
        async with a.subscribe(["market_*"]) as sub:
            await b.publish_many(ticks(3, "NEWCO"))
            await a.registry.discover()  # what the node's discovery task does every 2 s
            got = await take(sub, 3)
    finally:
        await a.stop()
        await b.stop()
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
    assert [(g["channel"], g["seq"]) for g in got] == [("market_NEWCO", i) for i in (1, 2, 3)]


async def test_the_hub_publisher_refuses_alerts_that_skip_the_alert_manager(node: Node) -> None:
    """An alert handed to the hub's internal Publisher directly is refused, not silently sent
    without outbox and Discord: the one path for alerts is the node's."""
    from alphawire import messages

    alert = messages.validate({"type": "alert", "alert_type": "t", "source": "s", "content": "x"})
    with pytest.raises(TypeError, match="through the AlertManager"):
        await node.publisher.publish_validated([alert])
    assert node.stats.published["alert"] == 0
    (result,) = await node.publish_many([alert])
    assert result.destinations == ("hub",) and node.alerts.stats()["hub"]["accepted"] == 1
