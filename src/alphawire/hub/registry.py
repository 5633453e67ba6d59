"""Which local connections take which channel, and fan-out of broker deliveries to them.

Batch mode (opt-in per subscription): the messages of a channel that arrive within one
event-loop turn, or within the subscription's linger, reach the connection as one frame, a
JSON array. The array is built once per channel and window and shared by every batch
subscriber with that linger, so a busy channel costs one push and one write per connection
per window instead of one per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import orjson

from alphawire.brokers.base import Broker, HistoryPage
from alphawire.hub.collector import CollectorTuner
from alphawire.hub.connection import Connection, Corker
from alphawire.hub.frames import Outgoing, batch_frame, message_frame
from alphawire.hub.stats import Stats

if TYPE_CHECKING:
    from alphawire.hub.local import LocalSubscription

logger = logging.getLogger("alphawire.hub")

BATCH_MAX_MESSAGES = 1000  # per batch frame; a fuller window is sent at once
BATCH_MAX_BYTES = 256 * 1024  # likewise, in bytes of JSON
BATCH_MAX_LINGER = 1.0
# Channels a pattern subscription considers at most (a broker lists no more per look).
PATTERN_SCAN_LIMIT = 100_000  # seconds a subscription may ask to wait for more messages


class Registry:
    """The local hub: subscriptions by channel, reference-counted against the broker."""

    def __init__(self, broker: Broker, stats: Stats) -> None:
        self._broker = broker
        self._stats = stats
        # Subscribers per channel in subscription order (a dict, not a set: a set's order
        # follows object addresses, and fan-out order must not change from run to run, or
        # in-process readers such as agents would see messages in a different order on replay).
        self._subscribers: dict[str, dict[Connection, None]] = {}
        self._connections: set[Connection] = set()
        # In-process subscribers (not network connections), in the order they came.
        self._local: dict[Connection, None] = {}
        # Pattern subscriptions (in-process only) and the channels already matched against
        # them: a channel seen for the first time is offered to each pattern before its first
        # message is published here (observe), or when the broker lists it (discover).
        self._pattern_subs: dict[LocalSubscription, None] = {}  # in subscription order
        self._seen: set[str] = set()
        self._per_ip: dict[str, int] = {}
        # Subscriptions in progress: deliveries that arrive while a subscriber is reading
        # history (the broker may suspend there) are held here, then handed over in order.
        self._joining: dict[str, dict[Connection, list[tuple[int, bytes]]]] = {}
        self._remote: set[str] = set()  # channels this process subscribed to at the broker
        # Batch mode: channel -> linger -> subscribers; (channel, linger) -> frames waiting for
        # the end of the window, and the timer or callback that ends it.
        self._batch_subs: dict[str, dict[float, set[Connection]]] = {}
        self._pending: dict[tuple[str, float], list[Outgoing]] = {}
        self._pending_bytes: dict[tuple[str, float], int] = {}
        self._flushers: dict[tuple[str, float], asyncio.Handle] = {}
        self.corker = Corker()
        self.collector = CollectorTuner()

    # -- connections -------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self._connections.add(conn)
        self._per_ip[conn.ip] = self._per_ip.get(conn.ip, 0) + 1
        self._stats.connections_opened += 1
        self.collector.connection_opened()

    def attach_local(self, conn: Connection) -> None:
        """Add an in-process subscriber (counted apart from network connections)."""
        self._local[conn] = None

    def connections_from(self, ip: str) -> int:
        return self._per_ip.get(ip, 0)

    async def detach(self, conn: Connection) -> None:
        """Forget a connection that is gone, with all its subscriptions."""
        if conn in self._local:
            del self._local[conn]
            for channel in list(conn.channels):
                await self.unsubscribe(conn, channel)
            return
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
        """Channel -> subscribed sockets (in-process subscribers are counted apart)."""
        local = self._local
        counts: dict[str, int] = {}
        for channel, subs in self._subscribers.items():
            n = len(subs) - (sum(1 for c in subs if c in local) if local else 0)
            if n:
                counts[channel] = n
        for channel, groups in self._batch_subs.items():
            counts[channel] = counts.get(channel, 0) + sum(len(g) for g in groups.values())
        return dict(sorted(counts.items()))

    def local_channel_counts(self) -> dict[str, int]:
        """Channel -> in-process subscribers (agents, the Narrative Brain, user code)."""
        counts: dict[str, int] = {}
        for conn in self._local:
            for channel in conn.channels:
                counts[channel] = counts.get(channel, 0) + 1
        return dict(sorted(counts.items()))

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(
        self,
        conn: Connection,
        channel: str,
        *,
        since: int | None = None,
        epoch: str | None = None,
        batch: float | None = None,
    ) -> None:
        """Subscribe ``conn``, queue its ``subscribed`` frame, and recover or snapshot.

        Without ``since``: ``subscribed`` carries the channel's last seq, and a ``market_*``
        channel's newest tick follows at once, marked ``"snapshot": true``. With ``since``
        (and the ``epoch`` it belongs to): every message after ``since`` is replayed in order
        before live ones, or one ``recovery`` frame says why that is impossible.

        No gap, no duplicate: the connection joins the channel's deliveries *before* the
        broker is asked for the last seq or the history; whatever is delivered meanwhile is
        held, and after the answer only what is newer than it is passed on.

        ``batch`` (a linger in seconds, 0 = one loop turn) subscribes in batch mode: every
        message frame of the channel, replays included, is a JSON array. Subscribing again
        to a channel already taken keeps its mode.
        """
        broker = self._broker
        if channel in conn.channels:
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
        if conn not in self._connections and conn not in self._local:  # gone while we waited
            await self._release(channel)
            return
        if batch is None:
            self._subscribers.setdefault(channel, {})[conn] = None
        else:
            # What is already waiting for this window was published before the subscriber
            # joined (its "subscribed" seq or its held messages cover it): send it out first.
            self._flush((channel, batch))
            self._batch_subs.setdefault(channel, {}).setdefault(batch, set()).add(conn)
            if conn.batched is None:
                conn.batched = {}
            conn.batched[channel] = batch
        conn.channels.add(channel)
        self._acknowledge(conn, channel, last, since, epoch, page, latest)
        self._push_messages(conn, channel, [(seq, body) for seq, body in held if seq > last])

    def _push_messages(
        self,
        conn: Connection,
        channel: str,
        messages: list[tuple[int, bytes]],
        *,
        bounded: bool = True,
        snapshot: bool = False,
    ) -> None:
        """Hand ``conn`` messages outside the live stream (replays, held, a snapshot)."""
        if not messages:
            return
        frames = [message_frame(channel, seq, body, snapshot=snapshot) for seq, body in messages]
        if conn.batched is None or channel not in conn.batched:
            for frame in frames:
                conn.push(frame, bounded=bounded)
            return
        for start in range(0, len(frames), BATCH_MAX_MESSAGES):
            conn.push(batch_frame(frames[start : start + BATCH_MAX_MESSAGES]), bounded=bounded)

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
                self._push_messages(conn, channel, [latest], snapshot=True)
            return
        reason = _unrecoverable(since, epoch, current_epoch, page.first_seq, last)
        ack["recovered"] = reason is None
        conn.push_control(orjson.dumps(ack).decode())
        if reason is None:
            self._stats.recoveries += 1
            replay = [(seq, body) for seq, body in page.entries if seq <= last]
            self._push_messages(conn, channel, replay, bounded=False)
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
            self._push_messages(conn, channel, [latest], snapshot=True)

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        if channel not in conn.channels:
            return
        conn.channels.discard(channel)
        linger = conn.batched.pop(channel, None) if conn.batched is not None else None
        if linger is None:
            subs = self._subscribers.get(channel)
            if subs is None:
                return
            subs.pop(conn, None)
            if not subs:
                del self._subscribers[channel]
        else:
            # Messages of the open window were published while it was subscribed: send them.
            self._flush((channel, linger))
            groups = self._batch_subs.get(channel, {})
            group = groups.get(linger)
            if group is not None:
                group.discard(conn)
                if not group:
                    del groups[linger]
                    if not groups:
                        del self._batch_subs[channel]
        if not self._subscribers.get(channel) and not self._batch_subs.get(channel):
            await self._release(channel)

    async def _release(self, channel: str) -> None:
        """Unsubscribe at the broker when nobody here takes the channel any more."""
        if (
            self._subscribers.get(channel)
            or self._batch_subs.get(channel)
            or self._joining.get(channel)
            or channel not in self._remote
        ):
            return
        self._remote.discard(channel)
        await self._broker.unsubscribe(channel)

    # -- patterns (in-process subscriptions) ----------------------------------------------------

    @property
    def epoch(self) -> str:
        return self._broker.epoch

    async def broker_channels(self) -> list[str]:
        return sorted(await self._broker.channels(PATTERN_SCAN_LIMIT))

    def add_pattern_subscription(self, sub: LocalSubscription) -> None:
        self._pattern_subs[sub] = None
        self._seen.clear()  # every channel is new to the new pattern

    def remove_pattern_subscription(self, sub: LocalSubscription) -> None:
        self._pattern_subs.pop(sub, None)
        if not self._pattern_subs:
            self._seen.clear()

    @property
    def watches_patterns(self) -> bool:
        return bool(self._pattern_subs)

    async def observe(self, channels: Sequence[str]) -> None:
        """Called before channels are published to here: pattern subscribers join new ones
        first, so they get the channel's first message live."""
        seen = self._seen
        for channel in channels:
            if channel in seen:
                continue
            seen.add(channel)
            for sub in list(self._pattern_subs):
                if sub.matches(channel):
                    await sub.join(channel)

    async def discover(self) -> None:
        """Join pattern subscribers to channels that appeared elsewhere (another process on
        the same Redis), replaying each from its first message."""
        if not self._pattern_subs:
            return
        for channel in await self.broker_channels():
            if channel in self._seen:
                continue
            self._seen.add(channel)
            for sub in list(self._pattern_subs):
                if sub.matches(channel):
                    await sub.join(channel, since=0)

    # -- fan-out -----------------------------------------------------------------------------

    def deliver(self, channel: str, seq: int, body: bytes) -> None:
        """Frame a message once and hand it to every local subscriber of its channel."""
        joining = self._joining.get(channel)
        if joining:
            for held in joining.values():
                held.append((seq, body))
        subs = self._subscribers.get(channel)
        groups = self._batch_subs.get(channel)
        if not subs and not groups:
            return
        frame = message_frame(channel, seq, body)
        if subs:
            for conn in subs:
                conn.push(frame)
        if groups:
            for linger in groups:
                self._add_pending((channel, linger), frame)

    def _add_pending(self, key: tuple[str, float], frame: Outgoing) -> None:
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = [frame]
            self._pending_bytes[key] = len(frame)
            loop = asyncio.get_running_loop()
            linger = key[1]
            self._flushers[key] = (
                loop.call_later(linger, self._flush, key)
                if linger > 0
                else loop.call_soon(self._flush, key)
            )
            return
        pending.append(frame)
        size = self._pending_bytes[key] + len(frame)
        self._pending_bytes[key] = size
        # Bounded: a window holds at most BATCH_MAX_MESSAGES messages or BATCH_MAX_BYTES;
        # a fuller one is sent at once and the next message opens a new window.
        if len(pending) >= BATCH_MAX_MESSAGES or size >= BATCH_MAX_BYTES:
            self._flush(key)

    def _flush(self, key: tuple[str, float]) -> None:
        """End a batch window: one array frame, pushed to each batch subscriber of the key."""
        frames = self._pending.pop(key, None)
        if frames is None:
            return
        del self._pending_bytes[key]
        handle = self._flushers.pop(key, None)
        if handle is not None:
            handle.cancel()  # harmless when it is the callback running now
        subs = self._batch_subs.get(key[0], {}).get(key[1])
        if not subs:
            return
        out = batch_frame(frames)
        for conn in subs:
            conn.push(out)

    def gap(self, channel: str, after: int, upto: int, reason: str) -> None:
        """Tell every subscriber of ``channel`` that messages ``after+1..upto`` are lost here.

        Called by a broker that missed deliveries it could not recover (a Redis outage longer
        than the history, or Redis losing its data): never a silent gap.
        """
        for linger in self._batch_subs.get(channel, {}):
            self._flush((channel, linger))  # what arrived before the gap goes out before it
        subs = self._all_subscribers(channel)
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
        for conn in self._all_subscribers(channel):
            conn.push_control(text)

    def _all_subscribers(self, channel: str) -> list[Connection]:
        out = list(self._subscribers.get(channel, ()))
        for group in self._batch_subs.get(channel, {}).values():
            out.extend(group)
        return out

    def close_all(self, code: int, reason: str) -> None:
        for conn in self._connections:
            conn.close(code, reason)
        for conn in list(self._local):
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
