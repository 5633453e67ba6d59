"""A connection's writer and lanes (against a sink whose backpressure the test controls), and
the lean inbox and event the hub's WebSocket protocol uses instead of asyncio's."""

from __future__ import annotations

import asyncio

import pytest

from alphawire.hub.connection import Connection, Corker
from alphawire.hub.frames import Outgoing, message_frame
from alphawire.hub.stats import Stats
from alphawire.web.transport import Inbox, LeanEvent

pytestmark = pytest.mark.anyio


class Sink:
    """A socket whose writability the test switches; records what reached the wire."""

    def __init__(self) -> None:
        self.open = True
        self.can_write = True
        self.ready = asyncio.Event()
        self.wire: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    @property
    def is_open(self) -> bool:
        return self.open

    def writable(self) -> bool:
        return self.open and self.can_write

    def write_bytes(self, data: bytes) -> None:
        if self.open:
            self.wire.append(data)

    def try_write(self, frame: Outgoing) -> bool:
        if not self.writable():
            return False
        self.wire.append(frame.wire)
        return True

    async def write(self, frame: Outgoing) -> None:
        while not self.can_write:
            self.ready.clear()
            await self.ready.wait()
        if not self.open:
            raise ConnectionResetError("peer gone")
        self.wire.append(frame.wire)

    def close(self, code: int, reason: str) -> None:
        self.open = False
        self.closed = (code, reason)

    def unblock(self) -> None:
        self.can_write = True
        self.ready.set()

    def seqs(self) -> list[int]:
        data = b"".join(self.wire)
        return [int(part.split(b",", 1)[0]) for part in data.split(b'"seq":')[1:]]


def _frames(n: int, channel: str = "unified", start: int = 1) -> list[Outgoing]:
    return [message_frame(channel, s, b'{"x":1}') for s in range(start, start + n)]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_keeping_up_connection_has_no_writer_and_no_lanes() -> None:
    """Frames go straight out, corked into one write per loop turn; nothing is allocated."""
    sink, stats = Sink(), Stats()
    conn = Connection(sink, stats, corker=Corker())
    for frame in _frames(50):
        conn.push(frame)
    assert conn._writer is None and conn._prio is None and conn._market is None
    await _settle()
    assert len(sink.wire) == 1  # one write for the whole turn
    assert sink.seqs() == list(range(1, 51))
    assert stats.delivered == 50


async def test_a_backlog_gets_a_writer_that_goes_away_once_drained() -> None:
    """Above the high-water mark frames queue in order; the writer drains them, then ends and
    gives the lanes back; direct writes resume after it."""
    sink, stats = Sink(), Stats()
    conn = Connection(sink, stats, corker=Corker())
    sink.can_write = False
    for frame in _frames(10):
        conn.push(frame)
    for frame in _frames(5, "market_SPY"):
        conn.push(frame)
    assert conn._writer is not None and conn.queued == 15
    await _settle()
    assert sink.wire == []  # still blocked
    sink.unblock()
    await _settle()
    assert conn._writer is None and conn._prio is None and conn._market is None
    assert sink.seqs() == [*range(1, 11), *range(1, 6)]  # priority lane first
    for frame in _frames(3, start=11):
        conn.push(frame)
    await _settle()
    assert sink.seqs()[-3:] == [11, 12, 13]
    assert stats.delivered == 18


async def test_close_sends_the_backlog_first_and_abort_drops_it() -> None:
    sink = Sink()
    conn = Connection(sink, Stats(), corker=Corker())
    conn.close(1001, "bye")  # nothing queued: closes at once
    assert sink.closed == (1001, "bye")

    sink = Sink()
    conn = Connection(sink, Stats(), corker=Corker())
    sink.can_write = False
    for frame in _frames(4):
        conn.push(frame)
    conn.close(1001, "bye")
    assert sink.closed is None
    sink.unblock()
    await _settle()
    assert sink.seqs() == [1, 2, 3, 4] and sink.closed == (1001, "bye")
    assert conn._writer is None

    sink = Sink()
    conn = Connection(sink, Stats(), corker=Corker())
    sink.can_write = False
    for frame in _frames(4):
        conn.push(frame)
    writer = conn._writer
    conn.abort(4008, "slow")
    await _settle()
    assert writer is not None and writer.cancelled()
    assert sink.closed == (4008, "slow") and sink.wire == [] and conn.queued == 0


async def test_conflation_still_accounts_for_every_skipped_tick() -> None:
    sink, stats = Sink(), Stats()
    conn = Connection(sink, stats, corker=Corker(), max_messages=4)
    sink.can_write = False
    for frame in _frames(9, "market_SPY"):
        conn.push(frame)
    sink.unblock()
    await _settle()
    text = b"".join(sink.wire)
    assert b'"type":"skipped"' in text
    assert sink.seqs()[-1] == 9
    assert conn.skipped + len(sink.seqs()) == 9
    assert conn._gaps == {}


async def test_inbox_loses_nothing_when_a_get_is_cancelled() -> None:
    """A receive under a timeout that fires leaves the next message for the next receive."""
    inbox = Inbox()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await inbox.get()
    inbox.put_nowait({"n": 1})
    inbox.put_nowait({"n": 2})
    assert inbox.qsize() == 2 and not inbox.empty()
    assert await inbox.get() == {"n": 1}
    getter = asyncio.ensure_future(inbox.get())
    await _settle()
    assert getter.done() and getter.result() == {"n": 2}
    waiting = asyncio.ensure_future(inbox.get())
    await _settle()
    inbox.put_nowait({"n": 3})
    assert await asyncio.wait_for(waiting, 5) == {"n": 3}
    assert inbox.empty()


async def test_lean_event_behaves_as_an_event() -> None:
    event = LeanEvent()
    assert not event.is_set()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await _settle()
    assert not any(w.done() for w in waiters)
    event.set()
    await _settle()
    assert all(w.result() is True for w in waiters)
    event.clear()
    assert not event.is_set()
    event.set()
    assert await event.wait() is True
