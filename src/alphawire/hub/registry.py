"""Which local connections take which channel, and fan-out of broker deliveries to them."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from alphawire.brokers.base import Broker, HistoryPage
from alphawire.hub.collector import CollectorTuner
from alphawire.hub.connection import Connection, Corker
from alphawire.hub.frames import message_frame
from alphawire.hub.stats import Stats


class Registry:
    """The local hub: subscriptions by channel, reference-counted against the broker."""

    def __init__(self, broker: Broker, stats: Stats) -> None:
        self._broker = broker
        self._stats = stats
        self._subscribers: dict[str, set[Connection]] = {}
        self._connections: set[Connection] = set()
        self._per_ip: dict[str, int] = {}
        # Subscriptions in progress: deliveries that arrive while a subscriber is reading
        # history (the broker may suspend there) are held here, then handed over in order.
        self._joining: dict[str, dict[Connection, list[tuple[int, bytes]]]] = {}
        self._remote: set[str] = set()  # channels this process subscribed to at the broker
        self.corker = Corker()
        self.collector = CollectorTuner()

    # -- connections -------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self._connections.add(conn)
        self._per_ip[conn.ip] = self._per_ip.get(conn.ip, 0) + 1
        self._stats.connections_opened += 1
        self.collector.connection_opened()

    def connections_from(self, ip: str) -> int:
        return self._per_ip.get(ip, 0)

    async def detach(self, conn: Connection) -> None:
        """Forget a connection that is gone, with all its subscriptions."""
        if conn not in self._connections:
            return
        self._connections.discard(conn)
        left = self._per_ip.get(conn.ip, 1) - 1
        if left:
            self._per_ip[conn.ip] = left
        else:
            self._per_ip.pop(conn.ip, None)
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

    async def subscribe(
        self, conn: Connection, channel: str, *, since: int | None = None, epoch: str | None = None
    ) -> None:
        """Subscribe ``conn``, queue its ``subscribed`` frame, and recover or snapshot.

        Without ``since``: ``subscribed`` carries the channel's last seq, and a ``market_*``
        channel's newest tick follows at once, marked ``"snapshot": true``. With ``since``
        (and the ``epoch`` it belongs to): every message after ``since`` is replayed in order
        before live ones, or one ``recovery`` frame says why that is impossible.

        No gap, no duplicate: the connection joins the channel's deliveries *before* the
        broker is asked for the last seq or the history; whatever is delivered meanwhile is
        held, and after the answer only what is newer than it is passed on.
        """
        broker = self._broker
        if conn in self._subscribers.get(channel, ()):
            ack = {"type": "subscribed", "channel": channel, "seq": await broker.last_seq(channel)}
            conn.push_control(orjson.dumps({**ack, "epoch": broker.epoch}).decode())
            return
        joining = self._joining.setdefault(channel, {})
        if conn in joining:
            return  # the same subscription is already being made
        held = joining[conn] = []
        try:
            if channel not in self._remote:
                self._remote.add(channel)
                try:
                    await broker.subscribe(channel)
                except BaseException:
                    self._remote.discard(channel)
                    raise
            page = await broker.history(channel, since) if since is not None else None
            last = page.last_seq if page is not None else await broker.last_seq(channel)
            latest = await broker.latest(channel) if channel.startswith("market_") else None
        finally:
            joining.pop(conn, None)
            if not joining:
                self._joining.pop(channel, None)
        # -- from here on, synchronous --
        if conn not in self._connections:  # it went away while we waited
            await self._release(channel)
            return
        self._subscribers.setdefault(channel, set()).add(conn)
        conn.channels.add(channel)
        self._acknowledge(conn, channel, last, since, epoch, page, latest)
        for seq, body in held:
            if seq > last:
                conn.push(message_frame(channel, seq, body))

    def _acknowledge(
        self,
        conn: Connection,
        channel: str,
        last: int,
        since: int | None,
        epoch: str | None,
        page: HistoryPage | None,
        latest: tuple[int, bytes] | None,
    ) -> None:
        current_epoch = self._broker.epoch
        ack: dict[str, object] = {
            "type": "subscribed",
            "channel": channel,
            "seq": last,
            "epoch": current_epoch,
        }
        if page is None or since is None:
            conn.push_control(orjson.dumps(ack).decode())
            if latest is not None and latest[0] <= last:
                conn.push(message_frame(channel, latest[0], latest[1], snapshot=True))
            return
        reason = _unrecoverable(since, epoch, current_epoch, page.first_seq, last)
        ack["recovered"] = reason is None
        conn.push_control(orjson.dumps(ack).decode())
        if reason is None:
            self._stats.recoveries += 1
            for seq, body in page.entries:
                if seq <= last:
                    conn.push(message_frame(channel, seq, body), bounded=False)
            return
        self._stats.recovery_failures += 1
        notice = {
            "type": "recovery",
            "channel": channel,
            "recovered": False,
            "reason": reason,
            "since": since,
            "seq": last,
            "epoch": current_epoch,
        }
        conn.push_control(orjson.dumps(notice).decode())
        if latest is not None and latest[0] <= last:
            conn.push(message_frame(channel, latest[0], latest[1], snapshot=True))

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        conn.channels.discard(channel)
        subs = self._subscribers.get(channel)
        if subs is None:
            return
        subs.discard(conn)
        if not subs:
            del self._subscribers[channel]
            await self._release(channel)

    async def _release(self, channel: str) -> None:
        """Unsubscribe at the broker when nobody here takes the channel any more."""
        if (
            self._subscribers.get(channel)
            or self._joining.get(channel)
            or channel not in self._remote
        ):
            return
        self._remote.discard(channel)
        await self._broker.unsubscribe(channel)

    # -- fan-out -----------------------------------------------------------------------------

    def deliver(self, channel: str, seq: int, body: bytes) -> None:
        """Frame a message once and hand it to every local subscriber of its channel."""
        joining = self._joining.get(channel)
        if joining:
            for held in joining.values():
                held.append((seq, body))
        subs = self._subscribers.get(channel)
        if not subs:
            return
        frame = message_frame(channel, seq, body)
        for conn in subs:
            conn.push(frame)

    def gap(self, channel: str, after: int, upto: int, reason: str) -> None:
        """Tell every subscriber of ``channel`` that messages ``after+1..upto`` are lost here.

        Called by a broker that missed deliveries it could not recover (a Redis outage longer
        than the history, or Redis losing its data): never a silent gap.
        """
        subs = self._subscribers.get(channel)
        if not subs:
            return
        self._stats.recovery_failures += len(subs)
        notice = {
            "type": "recovery",
            "channel": channel,
            "recovered": False,
            "reason": reason,
            "since": after,
            "seq": upto,
            "epoch": self._broker.epoch,
        }
        text = orjson.dumps(notice).decode()
        for conn in subs:
            conn.push_control(text)

    def close_all(self, code: int, reason: str) -> None:
        for conn in self._connections:
            conn.close(code, reason)


def _unrecoverable(
    since: int, epoch: str | None, current: str, first_seq: int, last: int
) -> str | None:
    """Why a gap after ``since`` cannot be filled, or None when it can."""
    if epoch is None:
        return "epoch_required"
    if epoch != current:
        return "epoch_changed"
    if since > last:
        return "since_ahead"
    if first_seq > since + 1:
        return "history_pruned"
    return None
