"""Keeping Python's cyclic garbage collector from stalling fan-out.

A full collection walks every tracked object; with thousands of connections (each with its
protocol, transport, buffers and tasks) that walk takes hundreds of milliseconds, during
which no frame is sent. Long-lived objects do not need to be walked again and again: after a
burst of new connections settles, ``gc.freeze()`` moves everything alive into the permanent
generation, which collections skip. The price: frozen objects are never collected, so a
frozen connection that later closes must be freed by reference counting alone: the
WebSocket protocol breaks its reference cycles when it closes (web/transport.py; tested in
tests/test_collector.py).

Measured by ``python -m bench.gc_pause`` (docs/performance.md, "Garbage-collection pauses").

While the hub runs, the young generation is also collected less often (every 10,000 net
allocations instead of CPython's 700). A publish of a 1,000-message batch allocates tens of
thousands of container objects (the parsed body, models, results) that all live until the
request ends: at 700 the young collector ran dozens of times per request, found nothing to
free, and promoted every one of them to the older generations, which were then walked again.
Measured on the batch endpoint in-process: 21 µs per message at 700, 15 µs at 10,000 (no
gain beyond). Only cyclic garbage waits longer to be freed; a young collection of 10,000
objects takes about a millisecond.
"""

from __future__ import annotations

import asyncio
import gc

YOUNG_THRESHOLD = 10_000


class CollectorTuner:
    """Freezes the heap shortly after connections arrive (debounced), so collections stay short."""

    def __init__(self, *, settle: float = 1.0, every: int = 100, max_wait: float = 5.0) -> None:
        self._settle = settle
        self._every = every
        # Clients that keep reconnecting (a steady trickle of more than one connection per
        # ``settle``) would postpone a purely debounced freeze forever: their objects then
        # pile up outside the frozen set and the next full collection walks all of them
        # (measured: 20 reconnects/s at 10,000 connections, 27 ms after one minute and
        # growing). So a freeze is postponed by at most ``max_wait`` seconds.
        self._max_wait = max_wait
        self._since_freeze = 0
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # loop time by which the pending freeze runs
        self.freezes = 0
        self._saved_threshold: tuple[int, ...] | None = None

    def connection_opened(self) -> None:
        self._since_freeze += 1
        if self._since_freeze < self._every:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._deadline is None:
            self._deadline = now + self._max_wait
        if self._timer is not None:
            self._timer.cancel()  # still arriving: wait until the burst settles (up to a point)
        self._timer = loop.call_at(min(now + self._settle, self._deadline), self._freeze)

    def _freeze(self) -> None:
        self._timer = None
        self._deadline = None
        self._since_freeze = 0
        gc.collect(1)  # young garbage first, so that it is not frozen
        gc.freeze()
        self.freezes += 1

    def start(self) -> None:
        """Raise the young generation's threshold for as long as the hub runs."""
        current = gc.get_threshold()
        if current[0] < YOUNG_THRESHOLD:
            self._saved_threshold = current
            gc.set_threshold(YOUNG_THRESHOLD, *current[1:])

    def stop(self) -> None:
        """Put back the threshold ``start`` found (unless someone changed it since)."""
        saved, self._saved_threshold = self._saved_threshold, None
        if saved is not None and gc.get_threshold()[0] == YOUNG_THRESHOLD:
            gc.set_threshold(*saved)

    def stats(self) -> dict[str, int]:
        return {"freezes": self.freezes, "frozen_objects": gc.get_freeze_count()}
