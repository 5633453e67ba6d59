"""In-process subscriptions: how agents, the Narrative Brain and user code read the bus.

``node.subscribe(["unified", "market_*"])`` gives a ``LocalSubscription``: an async context
manager and async iterator of decoded messages, with exactly a socket subscriber's semantics,
because it *is* a subscriber connection of the registry whose "socket" is an in-process buffer:

- **Bounded**: a buffer of ``buffer`` frames, then the connection's two lanes (each
  ``max_messages`` / ``max_bytes``). A consumer that keeps up costs no task switch.
- **Slow consumer**: ticks (``market_*``) are conflated to the newest per channel, announced
  by a ``skipped`` item; when the priority lane (alerts, signals, insights, narratives)
  overflows, the subscription is cut off (4008) as a socket would be, and then, like the
  Python client reconnecting, it re-subscribes at once from the last ``seq`` it yielded
  (``resume=True``, the default): the missed messages are replayed from history, or a
  ``recovery`` item says why they cannot be.
- **Recovery**: ``since={"unified": 41}`` with the ``epoch`` they belong to replays what came
  after, then live, with no gap and no duplicate.
- **Patterns**: ``*`` wildcards (``market_*``, ``agent_*``): every existing matching channel
  at once, and each new one as it appears (before its first message is published when it is
  published in this process; within ``discover_interval`` from the broker otherwise, replayed
  from its first message).

Items are dicts: channel messages as delivered on sockets (``channel``, ``seq``, then the
message's fields), and the control items ``skipped`` and ``recovery`` (``type`` says which).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any

import orjson

from alphawire.channels import normalize_channel
from alphawire.errors import ChannelError
from alphawire.hub.connection import DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES, Connection
from alphawire.hub.frames import Outgoing
from alphawire.hub.registry import Registry
from alphawire.hub.stats import Stats
from alphawire.protocol import CLOSE_NORMAL, CLOSE_SLOW_CONSUMER

logger = logging.getLogger("alphawire.hub.local")

DEFAULT_BUFFER = 256  # frames handed over without queuing in the lanes
DISCOVER_INTERVAL = 2.0  # seconds between looks at the broker for new pattern channels


class QueueSink:
    """A connection's "socket" inside the process: a buffer of at most ``capacity`` frames."""

    __slots__ = ("_capacity", "_frames", "_open", "_readable", "_space", "close_code")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._frames: deque[Outgoing] = deque()
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._open = True
        self.close_code: int | None = None

    def writable(self) -> bool:
        return False  # never corked: frames are objects here, not bytes

    def write_bytes(self, data: bytes) -> None:  # pragma: no cover - never corked
        raise RuntimeError("an in-process sink takes frames, not bytes")

    def try_write(self, frame: Outgoing) -> bool:
        if not self._open:
            return True  # closing: dropped, as a socket's would be
        if len(self._frames) >= self._capacity:
            return False
        self._frames.append(frame)
        self._readable.set()
        return True

    async def write(self, frame: Outgoing) -> None:
        while self._open and len(self._frames) >= self._capacity:
            self._space.clear()
            await self._space.wait()
        self.try_write(frame)

    def close(self, code: int, reason: str) -> None:
        if self._open:
            self._open = False
            self.close_code = code
            self._readable.set()
            self._space.set()

    @property
    def is_open(self) -> bool:
        return self._open

    async def get(self) -> Outgoing | None:
        """The next frame, waiting for one; None once closed and drained."""
        frames = self._frames
        while not frames:
            if not self._open:
                return None
            self._readable.clear()
            await self._readable.wait()
        frame = frames.popleft()
        self._space.set()
        return frame


class LocalCounters:
    """What an in-process subscriber's Connection counts, kept apart from the sockets':
    its deliveries go to ``local_delivered`` (``delivered`` stays "frames written to a
    socket"); conflation and slow-consumer cut-offs count with everyone's."""

    __slots__ = ("_stats",)

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    @property
    def delivered(self) -> int:
        return self._stats.local_delivered

    @delivered.setter
    def delivered(self, value: int) -> None:
        self._stats.local_delivered = value

    @property
    def conflated(self) -> int:
        return self._stats.conflated

    @conflated.setter
    def conflated(self, value: int) -> None:
        self._stats.conflated = value

    @property
    def slow_consumers(self) -> int:
        return self._stats.slow_consumers

    @slow_consumers.setter
    def slow_consumers(self, value: int) -> None:
        self._stats.slow_consumers = value


class LocalSubscription:
    """An in-process subscriber: ``async with node.subscribe([...]) as sub: async for m in sub``."""

    def __init__(
        self,
        registry: Registry,
        stats: Stats,
        channels: Iterable[str],
        *,
        since: Mapping[str, int] | None = None,
        epoch: str | None = None,
        buffer: int = DEFAULT_BUFFER,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        resume: bool = True,
        name: str = "in-process",
    ) -> None:
        self._registry = registry
        self._stats = stats
        self._exact: list[str] = []
        self._patterns: list[str] = []
        for raw in channels:
            self._add_name(raw)
        self._since = dict(since or {})
        self._epoch = epoch
        self._buffer = buffer
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._resume = resume
        self.name = name
        self.positions: dict[str, int] = {}  # channel -> seq of the last message yielded
        self.epoch: str | None = None
        self.resumes = 0  # times it was cut off as a slow consumer and resumed
        self._conn: Connection | None = None
        self._sink: QueueSink | None = None
        self._closed = False
        self._joined: set[str] = set()

    def _add_name(self, raw: str) -> None:
        if "*" in raw or "?" in raw:
            if not raw or len(raw) > 128:
                raise ChannelError(f"invalid channel pattern {raw!r}")
            # Symbols and agent names are case-insensitive: so are patterns.
            self._patterns.append(raw.lower())
        else:
            self._exact.append(normalize_channel(raw))

    @property
    def channels(self) -> set[str]:
        """The concrete channels subscribed now (patterns expanded)."""
        return set(self._joined)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(self._patterns)

    def matches(self, channel: str) -> bool:
        """True when ``channel`` is one of this subscription's patterns' channels."""
        name = channel.lower()
        return any(fnmatch.fnmatchcase(name, p) for p in self._patterns)

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> LocalSubscription:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Subscribe every channel; returns once each is subscribed (live from here on)."""
        await self._open(self._since, self._epoch)
        if self._patterns:
            self._registry.add_pattern_subscription(self)
            for channel in await self._registry.broker_channels():
                if self.matches(channel):
                    await self.join(channel)

    async def _open(self, since: Mapping[str, int], epoch: str | None) -> None:
        sink = QueueSink(self._buffer)
        conn = Connection(
            sink,
            LocalCounters(self._stats),  # type: ignore[arg-type]  # the counters it touches
            client=self.name,
            ip="in-process",
            max_messages=self._max_messages,
            max_bytes=self._max_bytes,
        )
        self._sink, self._conn = sink, conn
        self._registry.attach_local(conn)
        self._stats.local_subscriptions += 1
        joined, self._joined = self._joined | set(self._exact), set()
        for channel in sorted(joined):
            after = since.get(channel)
            await self._registry.subscribe(
                conn, channel, since=after, epoch=epoch if after is not None else None
            )
            self._joined.add(channel)

    async def join(self, channel: str, *, since: int | None = None) -> None:
        """Add a concrete channel (a pattern's new channel) to this subscription."""
        conn = self._conn
        if conn is None or self._closed or channel in self._joined:
            return
        self._joined.add(channel)
        epoch = self._registry.epoch if since is not None else None
        await self._registry.subscribe(conn, channel, since=since, epoch=epoch)

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Add channels or patterns to a running subscription."""
        before = len(self._patterns)
        for raw in channels:
            self._add_name(raw)
        for channel in self._exact:
            await self.join(channel)
        if len(self._patterns) > before:
            self._registry.add_pattern_subscription(self)
            for channel in await self._registry.broker_channels():
                if self.matches(channel):
                    await self.join(channel)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        """Drop channels or patterns (a pattern drops the channels it alone brought)."""
        drop = {c.lower() for c in channels}
        self._patterns = [p for p in self._patterns if p not in drop]
        self._exact = [c for c in self._exact if c.lower() not in drop]
        conn = self._conn
        for channel in sorted(self._joined):
            if channel in self._exact or self.matches(channel):
                continue
            self._joined.discard(channel)
            if conn is not None:
                await self._registry.unsubscribe(conn, channel)
        if not self._patterns:
            self._registry.remove_pattern_subscription(self)

    async def close(self) -> None:
        """Unsubscribe everything; the iterator ends."""
        if self._closed:
            return
        self._closed = True
        self._registry.remove_pattern_subscription(self)
        await self._detach(CLOSE_NORMAL)

    async def _detach(self, code: int) -> None:
        conn, sink = self._conn, self._sink
        self._conn = None
        if conn is not None:
            conn.discard()
            await self._registry.detach(conn)
            self._stats.local_subscriptions -= 1
        if sink is not None:
            sink.close(code, "closed")

    # -- reading -----------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._items()

    async def _items(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            sink = self._sink
            if sink is None:
                return
            frame = await sink.get()
            if frame is None:
                if self._closed or not self._resume or sink.close_code != CLOSE_SLOW_CONSUMER:
                    await self.close()  # the hub is stopping, or closed by the caller
                    return
                await self._resume_after_cutoff(sink.close_code)
                continue
            for item in _decode(frame):
                kind = item.get("type")
                if kind == "subscribed":
                    self.epoch = item.get("epoch", self.epoch)
                    channel = item["channel"]
                    self.positions.setdefault(channel, int(item.get("seq", 0)))
                    continue
                seq = item.get("seq")
                channel = item.get("channel")
                if kind not in ("recovery", "skipped") and channel and isinstance(seq, int):
                    self.positions[channel] = seq
                elif kind == "recovery" and channel:
                    self.positions[channel] = int(item.get("seq", 0))
                yield item

    async def _resume_after_cutoff(self, code: int | None) -> None:
        """Cut off (slow consumer): subscribe again from the last seq yielded, like a client
        that reconnects with ``since``."""
        self.resumes += 1
        logger.warning(
            "in-process subscription %s was cut off (%s): resuming from history", self.name, code
        )
        with contextlib.suppress(Exception):
            await self._detach(code or CLOSE_NORMAL)
        await self._open(dict(self.positions), self.epoch)


def _decode(frame: Outgoing) -> list[dict[str, Any]]:
    data = orjson.loads(frame.payload)
    if isinstance(data, list):  # a batch frame (not used in-process, but harmless)
        return [d for d in data if isinstance(d, dict)]
    return [data] if isinstance(data, dict) else []
