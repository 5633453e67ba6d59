"""The Broker contract, run against every broker implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from alphawire.brokers import Broker, MemoryBroker, broker_from_url
from alphawire.errors import ValidationError

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory"])
async def broker(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Broker, list[tuple[str, int, bytes]]]]:
    delivered: list[tuple[str, int, bytes]] = []
    impl: Broker = MemoryBroker()
    await impl.start(lambda c, s, b: delivered.append((c, s, b)))
    yield impl, delivered
    await impl.stop()


async def test_seq_starts_at_one_and_increments_per_channel(broker: tuple[Broker, list]) -> None:  # type: ignore[type-arg]
    """Each channel's seq counts 1, 2, 3, ... independently of other channels."""
    impl, _ = broker
    seqs = await impl.publish([("a", b"{}"), ("b", b"{}"), ("a", b"{}"), ("a", b"{}")])
    assert seqs == [1, 1, 2, 3]
    assert await impl.last_seq("a") == 3
    assert await impl.last_seq("never") == 0


async def test_only_subscribed_channels_are_delivered_in_order(broker: tuple[Broker, list]) -> None:  # type: ignore[type-arg]
    """Deliveries arrive for subscribed channels only, in seq order, with the body unchanged."""
    impl, delivered = broker
    await impl.publish([("a", b'{"x":0}')])
    assert await impl.subscribe("a") == 1
    await impl.publish([("a", b'{"x":1}'), ("b", b'{"x":2}'), ("a", b'{"x":3}')])
    assert delivered == [("a", 2, b'{"x":1}'), ("a", 3, b'{"x":3}')]
    await impl.unsubscribe("a")
    await impl.publish([("a", b"{}")])
    assert len(delivered) == 2


def test_broker_url_selection() -> None:
    """memory:// picks the in-memory broker; an unknown scheme is refused by name."""
    assert isinstance(broker_from_url("memory://"), MemoryBroker)
    with pytest.raises(ValidationError, match="unsupported broker URL scheme 'kafka'"):
        broker_from_url("kafka://x")
