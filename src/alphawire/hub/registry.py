"""Which local connections take which channel, and fan-out of broker deliveries to them."""

from __future__ import annotations

from collections.abc import Iterable

from alphawire.brokers.base import Broker
from alphawire.hub.connection import Connection
from alphawire.hub.stats import Stats


def frame_of(channel: str, seq: int, body: bytes) -> str:
    """The text frame for a message on ``channel``: ``channel`` and ``seq`` spliced in front.

    Channel names hold only ``[a-z0-9_A-Z.^=-]``, so they need no JSON escaping.
    """
    return f'{{"channel":"{channel}","seq":{seq},{body[1:].decode()}'


class Registry:
    """The local hub: subscriptions by channel, reference-counted against the broker."""

    def __init__(self, broker: Broker, stats: Stats) -> None:
        self._broker = broker
        self._stats = stats
        self._subscribers: dict[str, set[Connection]] = {}
        self._connections: set[Connection] = set()

    # -- connections -------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self._connections.add(conn)
        self._stats.connections_opened += 1

    async def detach(self, conn: Connection) -> None:
        """Forget a connection that is gone, with all its subscriptions."""
        if conn not in self._connections:
            return
        self._connections.discard(conn)
        self._stats.connections_closed += 1
        for channel in list(conn.channels):
            await self.unsubscribe(conn, channel)

    @property
    def connections(self) -> Iterable[Connection]:
        return self._connections

    def connection_count(self) -> int:
        return len(self._connections)

    def channel_counts(self) -> dict[str, int]:
        return {channel: len(subs) for channel, subs in sorted(self._subscribers.items())}

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, conn: Connection, channel: str) -> int:
        """Subscribe ``conn`` and queue its ``subscribed`` frame; returns the channel's last seq.

        The frame is queued in the same step as the subscription is recorded, so every message
        the connection then receives on the channel has a larger ``seq`` than the frame's.
        """
        if channel in conn.channels:
            seq = await self._broker.last_seq(channel)
        else:
            subs = self._subscribers.get(channel)
            if subs is None:
                seq = await self._broker.subscribe(channel)
                subs = self._subscribers.setdefault(channel, set())
            else:
                seq = await self._broker.last_seq(channel)
            subs.add(conn)
            conn.channels.add(channel)
        conn.push(f'{{"type":"subscribed","channel":"{channel}","seq":{seq}}}', message=False)
        return seq

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        conn.channels.discard(channel)
        subs = self._subscribers.get(channel)
        if subs is None:
            return
        subs.discard(conn)
        if not subs:
            del self._subscribers[channel]
            await self._broker.unsubscribe(channel)

    # -- fan-out -----------------------------------------------------------------------------

    def deliver(self, channel: str, seq: int, body: bytes) -> None:
        """Frame a message once and queue it on every local subscriber of its channel."""
        subs = self._subscribers.get(channel)
        if not subs:
            return
        frame = frame_of(channel, seq, body)
        for conn in subs:
            conn.push(frame)

    def close_all(self, code: int, reason: str) -> None:
        for conn in self._connections:
            conn.close(code, reason)
