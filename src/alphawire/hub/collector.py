"""Keeping Python's cyclic garbage collector from stalling fan-out.

A full collection walks every tracked object; with thousands of connections (each with its
protocol, transport, buffers and tasks) that walk takes hundreds of milliseconds, during
which no frame is sent. Long-lived objects do not need to be walked again and again: after a
burst of new connections settles, ``gc.freeze()`` moves everything alive into the permanent
generation, which collections skip.

Measured by ``python -m bench.gc_pause`` (docs/performance.md, "Garbage-collection pauses").
"""

from __future__ import annotations

import asyncio
import gc


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

    def stats(self) -> dict[str, int]:
        return {"freezes": self.freezes, "frozen_objects": gc.get_freeze_count()}
