"""Keeping Python's cyclic garbage collector from stalling fan-out.

A full collection walks every tracked object; with thousands of connections (each with its
protocol, transport, buffers and tasks) that walk takes hundreds of milliseconds, during
which no frame is sent. Long-lived objects do not need to be walked again and again: after a
burst of new connections settles, ``gc.freeze()`` moves everything alive into the permanent
generation, which collections skip.
"""

from __future__ import annotations

import asyncio
import gc


class CollectorTuner:
    """Freezes the heap shortly after connections arrive (debounced), so collections stay short."""

    def __init__(self, *, settle: float = 1.0, every: int = 100) -> None:
        self._settle = settle
        self._every = every
        self._since_freeze = 0
        self._timer: asyncio.TimerHandle | None = None
        self.freezes = 0

    def connection_opened(self) -> None:
        self._since_freeze += 1
        if self._since_freeze < self._every:
            return
        if self._timer is not None:
            self._timer.cancel()  # still arriving: wait until the burst settles
        self._timer = asyncio.get_running_loop().call_later(self._settle, self._freeze)

    def _freeze(self) -> None:
        self._timer = None
        self._since_freeze = 0
        gc.collect(1)  # young garbage first, so that it is not frozen
        gc.freeze()
        self.freezes += 1

    def stats(self) -> dict[str, int]:
        return {"freezes": self.freezes, "frozen_objects": gc.get_freeze_count()}
