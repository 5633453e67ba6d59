"""One subscriber socket as the core sees it: two bounded lanes and a writer.

Frames are written straight to the socket while it keeps up, and queued only when it does
not (its transport buffer is above the high-water mark, or a backlog is already queued), so
a healthy client costs no task switch per message. The lanes and the writer task exist only
while there is a backlog: an idle or keeping-up connection holds neither (memory per idle
connection is a headline figure of a hub). What is queued waits in one of two lanes:

- the **priority lane** (alerts, signals, insights, narratives, control frames), bounded by
  messages and bytes; when it overflows the client is too slow to be served and is closed
  with 4008 (slow consumer), after which it reconnects and recovers from history;
- the **market lane** (``market_*`` ticks); when it overflows it is conflated: only the
  newest tick per channel is kept, preceded by a ``skipped`` frame saying how many were not
  sent. Ticks never delay the priority lane: the writer always drains it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

import orjson

from alphawire.hub.frames import Outgoing, control_frame
from alphawire.hub.stats import Stats
from alphawire.protocol import CLOSE_SLOW_CONSUMER

logger = logging.getLogger("alphawire.ws")

DEFAULT_MAX_MESSAGES = 2048
DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB of queued frames per lane


CORK_LIMIT = 64 * 1024  # bytes coalesced per connection before they are written


class Corker:
    """Coalesces what a connection is sent during one event-loop turn into one write.

    A publish of many messages (a batch, a burst of ticks) would otherwise cost one write
    and one system call per message per connection; corked, it costs one per connection.
    The flush runs at the end of the same loop turn, so no latency is added.
    """

    __slots__ = ("_dirty", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[Connection] = []
        self._scheduled = False

    def add(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()


class Sink(Protocol):
    """Where a connection's frames go: a transport we can write to directly, or ASGI ``send``."""

    def writable(self) -> bool:
        """True when bytes written now go straight out (no backpressure, not closing)."""

    def write_bytes(self, data: bytes) -> None:
        """Write already-framed bytes now if the socket is still open (after ``writable()``
        said so, earlier in the same loop turn); dropped if it closed meanwhile."""

    def try_write(self, frame: Outgoing) -> bool:
        """Write now if the socket can take it without queuing in memory; False otherwise."""

    async def write(self, frame: Outgoing) -> None:
        """Wait until the socket can take a frame, then write it."""

    def close(self, code: int, reason: str) -> None:
        """Start closing with ``code``; a peer that does not read is cut off after a grace."""

    @property
    def is_open(self) -> bool:
        """False once closing has started or the peer is gone."""


class Connection:
    """A subscriber connection; ``push`` never blocks, never awaits, never grows without bound."""

    __slots__ = (
        "_busy",
        "_closing",
        "_cork",
        "_cork_bytes",
        "_corker",
        "_gaps",
        "_market",
        "_market_bytes",
        "_prio",
        "_prio_bytes",
        "_sink",
        "_stats",
        "_writer",
        "batched",
        "channels",
        "client",
        "ip",
        "max_bytes",
        "max_messages",
        "skipped",
    )

    def __init__(
        self,
        sink: Sink,
        stats: Stats,
        *,
        client: str = "",
        ip: str = "",
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        corker: Corker | None = None,
    ) -> None:
        self._sink = sink
        self._corker = corker
        self._cork: list[bytes] = []
        self._cork_bytes = 0
        self._stats = stats
        # Lanes made on first use and dropped when drained (a deque is ~600 bytes).
        self._prio: deque[Outgoing] | None = None
        self._market: deque[Outgoing] | None = None
        self._prio_bytes = 0
        self._market_bytes = 0
        self._writer: asyncio.Task[None] | None = None  # runs only while lanes hold frames
        self._closing: tuple[int, str] | None = None
        self._gaps: dict[str, tuple[int, int]] | None = None  # channel -> (first seq, count)
        self._busy = False  # the writer holds a popped frame: direct writes would overtake it
        self.channels: set[str] = set()
        # channel -> linger (seconds) for channels subscribed in batch mode (JSON-array frames)
        self.batched: dict[str, float] | None = None
        self.client = client
        self.ip = ip
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.skipped = 0  # market ticks conflated away on this connection

    @property
    def is_closing(self) -> bool:
        return self._closing is not None

    @property
    def queued(self) -> int:
        return len(self._prio or ()) + len(self._market or ())

    def push(self, frame: Outgoing, *, bounded: bool = True) -> None:
        """Send or queue ``frame``.

        ``bounded=False`` is for a recovery replay, whose size the channel's history bounds.
        """
        if self._closing is not None:
            return
        if not (self._busy or self._prio or self._market):
            corker = self._corker
            if corker is not None:
                # writable() is False once the socket closes, so the hot path asks once.
                if self._sink.writable():
                    if not self._cork:
                        corker.add(self)
                    wire = frame.wire
                    self._cork.append(wire)
                    self._cork_bytes += len(wire)
                    if self._cork_bytes >= CORK_LIMIT:
                        self.flush()  # a big burst: hand it over in 64 KiB writes
                    if frame.seq is not None:
                        self._stats.delivered += frame.count
                    return
            elif self._sink.try_write(frame):
                if frame.seq is not None:
                    self._stats.delivered += frame.count
                return
        if not self._sink.is_open:
            return
        if frame.market:
            market = self._market
            if market is None:
                market = self._market = deque()
            market.append(frame)
            self._market_bytes += len(frame)
            if len(market) > self.max_messages or self._market_bytes > self.max_bytes:
                self._conflate()
        else:
            prio = self._prio
            if prio is None:
                prio = self._prio = deque()
            prio.append(frame)
            self._prio_bytes += len(frame)
            if bounded and (len(prio) > self.max_messages or self._prio_bytes > self.max_bytes):
                self._stats.slow_consumers += 1
                self.abort(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect and resume with since")
                return
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def flush(self) -> None:
        """Write what was corked this loop turn, in one write."""
        cork = self._cork
        if not cork:
            return
        data = cork[0] if len(cork) == 1 else b"".join(cork)
        cork.clear()
        self._cork_bytes = 0
        self._sink.write_bytes(data)

    def push_control(self, text: str) -> None:
        self.push(control_frame(text), bounded=False)

    def _conflate(self) -> None:
        """Keep only the newest queued tick of each market channel, remembering the gap.

        The gap (first skipped seq, how many) is announced by a ``skipped`` frame written
        just before the kept tick, so the client knows exactly what it did not get.
        """
        newest: dict[str, Outgoing] = {}
        assert self._market is not None
        gaps = self._gaps
        if gaps is None:
            gaps = self._gaps = {}
        for frame in self._market:
            kept = newest.get(frame.channel)
            if kept is not None:
                assert kept.seq is not None
                # A batch frame drops all its messages; they are consecutive, so the gap
                # stays one range: from the first dropped seq to just before the kept frame.
                first, count = gaps.get(frame.channel, (kept.seq, 0))
                gaps[frame.channel] = (first, count + kept.count)
                self._stats.conflated += kept.count
                self.skipped += kept.count
            newest[frame.channel] = frame
        self._market = deque(newest.values())
        self._market_bytes = sum(len(f) for f in self._market)

    def _gap_notice(self, frame: Outgoing) -> Outgoing | None:
        if not self._gaps:
            return None
        gap = self._gaps.pop(frame.channel, None)
        if gap is None or frame.seq is None:
            return None
        first, count = gap
        notice = {
            "type": "skipped",
            "channel": frame.channel,
            "count": count,
            "from_seq": first,
            "to_seq": frame.seq - 1,
        }
        return Outgoing(orjson.dumps(notice), frame.channel)

    def abort(self, code: int, reason: str) -> None:
        """Drop everything queued and close now with ``code`` (the slow-consumer path)."""
        self._prio = self._market = None
        self._cork.clear()
        self._prio_bytes = self._market_bytes = self._cork_bytes = 0
        if self._closing is None:
            self._closing = (code, reason)
            self._sink.close(code, reason)
        self._stop_writer()

    def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close with ``code`` (shutdown, policy closes)."""
        if self._closing is not None:
            return
        self._closing = (code, reason)
        if self._writer is None:  # nothing queued: close now (the writer would, at its end)
            self.flush()
            if self._sink.is_open:
                self._sink.close(code, reason)

    def discard(self) -> None:
        """The socket is gone: stop the writer, drop what is queued."""
        self._prio = self._market = None
        self._cork.clear()
        self._prio_bytes = self._market_bytes = self._cork_bytes = 0
        self._stop_writer()

    def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()

    async def _drain(self) -> None:
        """The writer: drains the lanes (priority first), then ends; push() starts it again."""
        sink = self._sink
        stats = self._stats
        try:
            self.flush()  # what was corked precedes what was queued
            while True:
                prio, market = self._prio, self._market
                if prio:
                    frame = prio.popleft()
                    self._prio_bytes -= len(frame)
                elif market:
                    frame = market.popleft()
                    self._market_bytes -= len(frame)
                else:
                    break
                # While a popped frame waits here, push() must queue rather than write
                # directly, or a newer frame would overtake it.
                self._busy = True
                try:
                    if frame.market:
                        notice = self._gap_notice(frame)
                        if notice is not None and not sink.try_write(notice):
                            await sink.write(notice)
                    if not sink.try_write(frame):
                        await sink.write(frame)
                finally:
                    self._busy = False
                if frame.seq is not None:
                    stats.delivered += frame.count
        except (OSError, RuntimeError) as exc:
            # The peer went away mid-send (OSError), or the server already closed the socket
            # for a protocol error (RuntimeError from the ASGI server); the reader sees the
            # disconnect and discards the connection.
            logger.debug("writer for %s ended: %s", self.client, exc)
            self._writer = None
            return
        self._prio = self._market = None  # drained: give the deques back
        self._writer = None
        if self._closing is not None and sink.is_open:
            sink.close(*self._closing)
