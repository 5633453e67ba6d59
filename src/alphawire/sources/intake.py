"""Where sources' records go: the agents' record bus, ``market_data`` on the hub, a recording.

Each source gets its own ``IntakeContext`` (its ``SourceContext``). ``emit`` is the whole
path, in this order: the record bus (agents; never waits), the recording (when one is being
made), then quotes as ``market_data`` messages through the node's one publish path, awaited
(a source emitting faster than the hub publishes is slowed down, never dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from alphawire.clock import Clock
from alphawire.publishing import Publishing
from alphawire.sources.base import MarketCalendar
from alphawire.sources.bus import RecordBus
from alphawire.sources.records import Quote, Record


class RecordWriter(Protocol):
    """A recording being made (``alphawire record``): takes every record in order."""

    def write(self, records: Sequence[Record]) -> None:
        """Append records to the recording."""


def quote_message(quote: Quote) -> dict[str, Any]:
    """A quote as the ``market_data`` message sockets and the dashboard receive.

    ``price`` is the last trade; ``change``/``change_pct`` are against the previous close
    (percent, 2.5 = +2.5 %) when the source knows it; ``simulated`` says where it came from.
    """
    data: dict[str, Any] = {
        "price": quote.last,
        "bid": quote.bid,
        "ask": quote.ask,
        "bid_size": quote.bid_size,
        "ask_size": quote.ask_size,
        "last_size": quote.last_size,
        "volume": quote.volume,
        "source": quote.source,
        "simulated": quote.simulated,
    }
    for key in ("open", "high", "low", "prev_close"):
        value = getattr(quote, key)
        if value is not None:
            data[key] = value
    if quote.prev_close:
        data["change"] = round(quote.last - quote.prev_close, 4)
        data["change_pct"] = round((quote.last / quote.prev_close - 1) * 100, 4)
    return {
        "type": "market_data",
        "symbol": quote.symbol,
        "data": data,
        "timestamp": quote.ts,
    }


class SourceIntake:
    """The node's intake of records; one per node, a context per source."""

    def __init__(
        self,
        bus: RecordBus,
        publisher: Publishing,
        *,
        watchlist: tuple[str, ...],
        clock: Clock,
        calendar: MarketCalendar,
        recorder: RecordWriter | None = None,
        publish_quotes: bool = True,
    ) -> None:
        self.bus = bus
        self.publisher = publisher
        self.watchlist = watchlist
        self.clock = clock
        self.calendar = calendar
        self.recorder = recorder
        self.publish_quotes = publish_quotes

    def context(self, source_name: str) -> IntakeContext:
        return IntakeContext(self, source_name)

    async def emit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self.bus.put(records)
        if self.recorder is not None:
            self.recorder.write(records)
        if self.publish_quotes:
            quotes = [quote_message(r) for r in records if isinstance(r, Quote)]
            if quotes:
                await self.publisher.publish_many(quotes)


class IntakeContext:
    """One source's ``SourceContext``."""

    def __init__(self, intake: SourceIntake, source_name: str) -> None:
        self._intake = intake
        self.source_name = source_name

    @property
    def watchlist(self) -> tuple[str, ...]:
        return self._intake.watchlist

    @property
    def clock(self) -> Clock:
        return self._intake.clock

    @property
    def calendar(self) -> MarketCalendar:
        return self._intake.calendar

    async def emit(self, records: Sequence[Record]) -> None:
        await self._intake.emit(records)
