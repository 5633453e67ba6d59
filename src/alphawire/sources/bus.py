"""The typed in-process interface between sources and agents: a bounded record bus.

Sources ``emit`` records; the node hands each batch to ``RecordBus.put``, which offers every
record to each subscribed ``RecordStream`` whose kinds (and symbols, if given) match. Nothing
here waits for a reader: a source is never slowed by a slow agent.

Policy when a stream is full (``maxlen`` records waiting, default 10,000): quotes are
conflated (a newer quote of a symbol replaces the queued one, as ticks are on sockets); any
other record pushes out the oldest waiting record, which is counted in ``dropped`` and logged
once per stream per minute. An agent that reads ``dropped > 0`` knows its view has holes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence

from alphawire.sources.records import RECORD_KINDS, Record

logger = logging.getLogger("alphawire.sources")

DEFAULT_MAXLEN = 10_000


class RecordStream:
    """One reader's view of the bus: ``async for record in stream`` (bounded; see module)."""

    def __init__(
        self,
        bus: RecordBus,
        kinds: frozenset[str],
        symbols: frozenset[str] | None,
        maxlen: int,
        name: str,
    ) -> None:
        self._bus = bus
        self.kinds = kinds
        self.symbols = symbols
        self.maxlen = maxlen
        self.name = name
        self._queue: deque[Record] = deque()
        self._quote_at: dict[str, Record] = {}  # symbol -> its quote waiting in the queue
        self._ready = asyncio.Event()
        self._closed = False
        self.received = 0
        self.dropped = 0
        self.conflated = 0
        self._warned = 0.0

    def wants(self, record: Record) -> bool:
        if record.kind not in self.kinds:
            return False
        return self.symbols is None or record.symbol is None or record.symbol in self.symbols

    def offer(self, record: Record) -> None:
        """Queue ``record`` without waiting (the bus's side)."""
        if self._closed:
            return
        self.received += 1
        if record.kind == "quote" and record.symbol is not None:
            waiting = self._quote_at.get(record.symbol)
            if waiting is not None:
                # Replace in place: order among other records is kept, the quote is newest.
                index = _index_of(self._queue, waiting)
                if index is not None:
                    self._queue[index] = record
                    self._quote_at[record.symbol] = record
                    self.conflated += 1
                    return
            self._quote_at[record.symbol] = record
        if len(self._queue) >= self.maxlen:
            old = self._queue.popleft()
            if old.kind == "quote" and old.symbol is not None:
                self._quote_at.pop(old.symbol, None)
            self.dropped += 1
            now = time.monotonic()
            if now - self._warned > 60:
                self._warned = now
                logger.warning(
                    "record stream %s is full (%d): dropping its oldest records (%d so far)",
                    self.name,
                    self.maxlen,
                    self.dropped,
                )
        self._queue.append(record)
        self._ready.set()

    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> list[Record]:
        """Everything waiting now, without waiting (for a batch-processing reader)."""
        out = list(self._queue)
        self._queue.clear()
        self._quote_at.clear()
        return out

    async def get(self) -> Record | None:
        """The next record, waiting for one; None once the stream is closed."""
        while not self._queue:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        record = self._queue.popleft()
        if record.symbol is not None and self._quote_at.get(record.symbol) is record:
            del self._quote_at[record.symbol]
        return record

    def __aiter__(self) -> AsyncIterator[Record]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Record]:
        while True:
            record = await self.get()
            if record is None:
                return
            yield record

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        self._bus._streams.pop(self, None)

    def stats(self) -> dict[str, int]:
        return {
            "pending": len(self._queue),
            "received": self.received,
            "dropped": self.dropped,
            "conflated": self.conflated,
        }


def _index_of(queue: deque[Record], item: Record) -> int | None:
    # Searched from the newest end: the waiting quote of a busy symbol is usually recent.
    for i in range(len(queue) - 1, -1, -1):
        if queue[i] is item:
            return i
    return None


class RecordBus:
    """Fans records out to bounded streams; never waits for a reader."""

    def __init__(self) -> None:
        # In creation order (a dict, not a set): readers are fed in the same order every run.
        self._streams: dict[RecordStream, None] = {}
        self.counts: dict[str, int] = dict.fromkeys(sorted(RECORD_KINDS), 0)

    def stream(
        self,
        kinds: Iterable[str],
        *,
        symbols: Iterable[str] | None = None,
        maxlen: int = DEFAULT_MAXLEN,
        name: str = "reader",
    ) -> RecordStream:
        """A new stream of the records of ``kinds`` (about ``symbols`` if given)."""
        wanted = frozenset(kinds)
        unknown = wanted - RECORD_KINDS
        if unknown:
            raise ValueError(
                f"unknown record kind(s) {sorted(unknown)}: expected some of {sorted(RECORD_KINDS)}"
            )
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, not {maxlen}")
        chosen = frozenset(s.upper() for s in symbols) if symbols is not None else None
        stream = RecordStream(self, wanted, chosen, maxlen, name)
        self._streams[stream] = None
        return stream

    def put(self, records: Sequence[Record]) -> None:
        counts = self.counts
        streams = self._streams
        for record in records:
            counts[record.kind] = counts.get(record.kind, 0) + 1
            for stream in streams:
                if stream.wants(record):
                    stream.offer(record)

    def stats(self) -> dict[str, object]:
        return {
            "records": dict(self.counts),
            "streams": {s.name: s.stats() for s in sorted(self._streams, key=lambda s: s.name)},
        }
