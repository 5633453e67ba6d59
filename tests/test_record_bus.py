"""The record bus between sources and agents: typed, filtered, bounded with a stated policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from alphawire.sources.bus import RecordBus
from alphawire.sources.records import MacroObservation, Quote, Trade

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def quote(symbol: str, last: float, i: int = 0) -> Quote:
    return Quote("t", symbol, T0 + timedelta(seconds=i), last - 0.01, last + 0.01, 1, 1, last, 1, i)


def trade(symbol: str, i: int) -> Trade:
    return Trade("t", symbol, T0 + timedelta(seconds=i), 10.0, 100.0, "D", off_exchange=True)


def macro(i: int) -> MacroObservation:
    return MacroObservation("t", None, T0, "DGS10", T0.date(), 4.0 + i / 100)


def test_streams_get_only_their_kinds_and_symbols_in_order() -> None:
    """A stream takes the kinds (and symbols) it asked for, in emission order; market-wide
    records (symbol None) reach symbol-filtered streams too."""
    bus = RecordBus()
    trades = bus.stream(["trade"], symbols=["spy"])
    everything = bus.stream(["trade", "quote", "macro"])
    bus.put([trade("SPY", 1), quote("SPY", 10), trade("QQQ", 2), macro(0), trade("SPY", 3)])
    assert [r.ts.second for r in trades.drain()] == [1, 3]
    assert [r.kind for r in everything.drain()] == ["trade", "quote", "trade", "macro", "trade"]
    assert bus.counts["trade"] == 3 and bus.counts["quote"] == 1


def test_a_queued_quote_is_replaced_by_the_newer_one_in_place() -> None:
    """Quotes are conflated per symbol (newest wins, order kept); prints are never conflated."""
    bus = RecordBus()
    stream = bus.stream(["quote", "trade"])
    bus.put([quote("SPY", 1, 0), trade("SPY", 1), quote("QQQ", 5, 2), quote("SPY", 2, 3)])
    got = stream.drain()
    assert [(r.kind, r.symbol, getattr(r, "last", None)) for r in got] == [
        ("quote", "SPY", 2),
        ("trade", "SPY", None),
        ("quote", "QQQ", 5),
    ]
    assert stream.conflated == 1 and stream.dropped == 0


def test_a_full_stream_drops_its_oldest_records_and_counts_them() -> None:
    """Bounded: past maxlen the oldest waiting record goes, counted in `dropped`."""
    bus = RecordBus()
    stream = bus.stream(["trade"], maxlen=100)
    bus.put([trade("SPY", i) for i in range(250)])
    assert stream.pending() == 100
    assert stream.dropped == 150
    assert [r.ts.second for r in stream.drain()][:3] == [150 % 60, 151 % 60, 152 % 60]


@pytest.mark.anyio
async def test_readers_wait_for_records_and_end_when_closed() -> None:
    """`async for` waits for the next record and ends once the stream is closed."""
    bus = RecordBus()
    stream = bus.stream(["macro"])

    async def read() -> list[float]:
        return [r.value async for r in stream]  # type: ignore[union-attr]

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    bus.put([macro(1), macro(2)])
    await asyncio.sleep(0)
    stream.close()
    assert await asyncio.wait_for(reader, 5) == [4.01, 4.02]
    bus.put([macro(3)])  # a closed stream is no longer fed
    assert stream.pending() == 0


def test_unknown_kinds_and_bad_bounds_are_refused() -> None:
    """A typo in a kind names the valid ones; maxlen must be positive."""
    bus = RecordBus()
    with pytest.raises(ValueError, match=r"unknown record kind\(s\) \['quotes'\]: expected"):
        bus.stream(["quotes"])
    with pytest.raises(ValueError, match="maxlen must be at least 1"):
        bus.stream(["quote"], maxlen=0)
