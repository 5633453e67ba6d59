"""The Broker contract, run against every broker implementation."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from alphawire.brokers import Broker, MemoryBroker, broker_from_url
from alphawire.brokers.base import Limit, Retention
from alphawire.errors import ValidationError

pytestmark = pytest.mark.anyio

Delivered = list[tuple[str, int, bytes]]
SMALL = Retention(
    {k: Limit(5, 3600) for k in ("unified", "signals", "narrative", "agent", "market")}
)


def redis_url() -> str:
    """The Redis the tests use: $ALPHAWIRE_TEST_REDIS_URL or the local one (CI has it)."""
    url = os.environ.get("ALPHAWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis at {url} is unreachable under CI: {exc}")
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture(params=["memory", "redis"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_broker(broker_kind: str) -> AsyncIterator[Callable[..., Awaitable[Broker]]]:
    """Builds started brokers of the parametrised kind (each Redis one under its own prefix)."""
    made: list[tuple[Broker, str]] = []

    async def make(retention: Retention = SMALL, deliver: Any = None) -> Broker:
        impl: Broker
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        if broker_kind == "memory":
            impl = MemoryBroker(retention=retention)
        else:
            from alphawire.brokers.redis import RedisBroker

            impl = RedisBroker(redis_url(), retention=retention, prefix=prefix)
        await impl.start(deliver or (lambda c, s, b: None))
        made.append((impl, prefix))
        return impl

    yield make
    for impl, prefix in made:
        await impl.stop()
        if broker_kind == "redis":
            import redis

            client = redis.Redis.from_url(redis_url())
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
            client.close()


@pytest.fixture
async def broker(make_broker: Callable[..., Awaitable[Broker]]) -> tuple[Broker, Delivered]:
    delivered: Delivered = []
    impl = await make_broker(SMALL, lambda c, s, b: delivered.append((c, s, b)))
    return impl, delivered


async def settle(delivered: Delivered, count: int) -> None:
    """Pub/sub is asynchronous: wait (bounded) until ``count`` deliveries arrived."""
    for _ in range(200):
        if len(delivered) >= count:
            return
        await asyncio.sleep(0.01)


async def test_seq_starts_at_one_and_increments_per_channel(
    broker: tuple[Broker, Delivered],
) -> None:
    """Each channel's seq counts 1, 2, 3, ... independently of other channels."""
    impl, _ = broker
    seqs = await impl.publish(
        [("unified", b"{}"), ("signals", b"{}"), ("unified", b"{}"), ("unified", b"{}")]
    )
    assert seqs == [1, 1, 2, 3]
    assert await impl.last_seq("unified") == 3
    assert await impl.last_seq("narrative") == 0


async def test_channels_lists_each_channel_with_its_last_seq(
    broker: tuple[Broker, Delivered],
) -> None:
    """``channels`` names every channel that had a message, with its last seq, up to a limit."""
    impl, _ = broker
    assert await impl.channels(10) == {}
    await impl.publish([("unified", b"{}"), ("market_SPY", b"{}"), ("unified", b"{}")])
    assert await impl.channels(10) == {"unified": 2, "market_SPY": 1}
    assert len(await impl.channels(1)) == 1


async def test_only_subscribed_channels_are_delivered_in_order(
    broker: tuple[Broker, Delivered],
) -> None:
    """Deliveries arrive for subscribed channels only, in seq order, with the body unchanged."""
    impl, delivered = broker
    await impl.publish([("unified", b'{"x":0}')])
    await impl.subscribe("unified")
    assert await impl.last_seq("unified") == 1
    await impl.publish([("unified", b'{"x":1}'), ("signals", b'{"x":2}'), ("unified", b'{"x":3}')])
    await settle(delivered, 2)
    assert delivered == [("unified", 2, b'{"x":1}'), ("unified", 3, b'{"x":3}')]
    await impl.unsubscribe("unified")
    await impl.publish([("unified", b"{}")])
    await asyncio.sleep(0.1)
    assert len(delivered) == 2


async def test_history_pages_and_bounds(broker: tuple[Broker, Delivered]) -> None:
    """History returns what follows ``since`` in order, keeps at most its limit, and says where it starts."""
    impl, _ = broker
    await impl.publish([("narrative", b'{"i":%d}' % i) for i in range(1, 9)])
    page = await impl.history("narrative", since=5)
    assert [seq for seq, _ in page.entries] == [6, 7, 8]
    assert page.entries[0][1] == b'{"i":6}'
    assert page.last_seq == 8
    assert page.first_seq == 4  # 5 kept: 4..8
    assert page.covers(3)
    assert not page.covers(2)
    assert not page.covers(9)
    assert [s for s, _ in (await impl.history("narrative", since=None, limit=2)).entries] == [7, 8]
    assert [s for s, _ in (await impl.history("narrative", since=3, limit=2)).entries] == [4, 5]
    empty = await impl.history("signals", since=0)
    assert (empty.first_seq, empty.last_seq, empty.entries) == (1, 0, [])
    assert empty.epoch == impl.epoch


async def test_latest_is_kept_for_market_channels(broker: tuple[Broker, Delivered]) -> None:
    """The newest tick of a market channel is available for snapshots."""
    impl, _ = broker
    assert await impl.latest("market_SPY") is None
    await impl.publish([("market_SPY", b'{"p":1}'), ("market_SPY", b'{"p":2}')])
    assert await impl.latest("market_SPY") == (2, b'{"p":2}')


async def test_history_age_limit(make_broker: Callable[..., Awaitable[Broker]]) -> None:
    """Entries older than the channel kind's age limit are pruned (memory and Redis alike)."""
    aged = await make_broker(Retention({**SMALL.limits, "signals": Limit(100, 0.05)}))
    await aged.publish([("signals", b"{}")] * 3)
    await asyncio.sleep(0.1)  # the age limit is the behaviour under test: time must pass
    page = await aged.history("signals", since=0)
    assert page.entries == []
    assert page.first_seq == 4
    assert not page.covers(0)
    await aged.publish([("signals", b'{"n":4}')])
    page = await aged.history("signals", since=0)
    assert page.entries == [(4, b'{"n":4}')]
    assert page.covers(3) and not page.covers(2)


async def test_channels_lists_every_channel_with_a_message(
    broker: tuple[Broker, Delivered],
) -> None:
    """channels() lists each channel that has had a message with its last seq, up to a limit."""
    impl, _ = broker
    assert await impl.channels(100) == {}
    await impl.publish([("market_SPY", b"{}"), ("unified", b"{}"), ("agent_gamma", b"{}")])
    await impl.publish([("unified", b"{}")])
    await impl.subscribe("narrative")  # subscribing alone does not make a channel
    assert await impl.channels(100) == {"agent_gamma": 1, "market_SPY": 1, "unified": 2}
    assert len(await impl.channels(2)) == 2


async def test_memory_snapshot_keeps_epoch_across_graceful_restart(tmp_path: Path) -> None:
    """A graceful stop and start keeps seq, history and epoch; a crash (no snapshot) changes the epoch."""
    path = tmp_path / "snap"
    first = MemoryBroker(retention=SMALL, snapshot_path=path)
    await first.start(lambda c, s, b: None)
    await first.publish([("unified", b'{"a":1}'), ("market_SPY", b'{"p":1}')])
    await first.stop()
    second = MemoryBroker(retention=SMALL, snapshot_path=path)
    await second.start(lambda c, s, b: None)
    assert second.epoch == first.epoch
    assert await second.last_seq("unified") == 1
    assert (await second.history("unified", since=0)).entries == [(1, b'{"a":1}')]
    assert await second.latest("market_SPY") == (1, b'{"p":1}')
    assert not path.exists()  # consumed: a crash now must not resurrect this epoch
    third = MemoryBroker(retention=SMALL, snapshot_path=path)
    await third.start(lambda c, s, b: None)
    assert third.epoch != first.epoch
    assert await third.last_seq("unified") == 0


def test_broker_url_selection() -> None:
    """memory:// picks the in-memory broker; an unknown scheme is refused by name."""
    assert isinstance(broker_from_url("memory://"), MemoryBroker)
    with pytest.raises(ValidationError, match="unsupported broker URL scheme 'kafka'"):
        broker_from_url("kafka://x")
