"""``StandaloneContext``: a ``SourceContext`` without a hub, for tests, ``record`` and tools.

It gives a source its watchlist, clock and calendar and hands each emitted batch to an
async callback, awaited before ``emit`` returns. Nothing is queued here: the bound on what
is in flight is one batch, and a slow callback slows the source (the contract's
back-pressure). ``RecordBuffer`` is a ready-made callback that keeps the newest records up
to a limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from alphawire.calendar import default_calendar
from alphawire.clock import Clock, WallClock
from alphawire.sources.base import MarketCalendar
from alphawire.sources.records import RECORD_TYPES, Record
from alphawire.sources.sim.profiles import DEFAULT_WATCHLIST

RecordSink = Callable[[Sequence[Record]], Awaitable[None]]
_TYPES = tuple(RECORD_TYPES.values())


class StandaloneContext:
    """A source's context outside the hub: each batch goes to ``sink`` (awaited) in order."""

    def __init__(
        self,
        sink: RecordSink | None = None,
        *,
        watchlist: Sequence[str] = DEFAULT_WATCHLIST,
        clock: Clock | None = None,
        calendar: MarketCalendar | None = None,
        produces: frozenset[str] | None = None,
    ) -> None:
        symbols = tuple(s.strip().upper() for s in watchlist)
        if not symbols:
            raise ValueError("watchlist is empty: give at least one symbol")
        bad = [s for s in symbols if not s or not s.replace(".", "").replace("-", "").isalnum()]
        if bad:
            raise ValueError(
                f"watchlist: {', '.join(map(repr, bad))} is not a symbol "
                "(letters and digits, with '.' or '-')"
            )
        self._watchlist = symbols
        self._clock = clock or WallClock()
        self._calendar = calendar or default_calendar()
        self._sink = sink
        self._produces = produces
        self.emitted = 0  # records handed to the sink
        self.batches = 0

    @property
    def watchlist(self) -> tuple[str, ...]:
        return self._watchlist

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def calendar(self) -> MarketCalendar:
        return self._calendar

    async def emit(self, records: Sequence[Record]) -> None:
        """Check each record's type (and kind, when ``produces`` was given), then hand the
        batch to the sink and wait for it: a TypeError or ValueError names the culprit."""
        batch = tuple(records)
        for n, record in enumerate(batch):
            if not isinstance(record, _TYPES):
                raise TypeError(f"emit: item {n} is a {type(record).__name__}, not a record")
            if self._produces is not None and record.kind not in self._produces:
                kinds = sorted(self._produces)
                raise ValueError(f"emit: item {n} is a {record.kind!r} record, not one of {kinds}")
        if self._sink is not None and batch:
            await self._sink(batch)
        self.emitted += len(batch)
        self.batches += 1


@dataclass
class RecordBuffer:
    """A sink keeping the newest ``limit`` records; older ones are dropped and counted."""

    limit: int = 100_000
    records: deque[Record] = field(init=False)
    dropped: int = 0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, not {self.limit}")
        self.records = deque(maxlen=self.limit)

    async def __call__(self, batch: Sequence[Record]) -> None:
        overflow = len(self.records) + len(batch) - self.limit
        if overflow > 0:
            self.dropped += overflow
        self.records.extend(batch)
