"""Time as the intelligence layer sees it: wall time live, accelerated or virtual otherwise.

Sources, agents and the Narrative Brain never call ``datetime.now`` or ``asyncio.sleep``
for market time: they ask their ``Clock``. Live, that is the wall clock. The simulated
market runs an ``AcceleratedClock`` (a trading day in minutes with ``--speed``); replay
runs a ``VirtualClock`` that only moves when the replayed records say so, which is what makes
a replay produce the same alerts in the same order as the day it recorded.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Current time and sleeping, in the clock's own time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class AcceleratedClock:
    """Time starting at ``start`` and running ``speed`` times faster than the wall clock."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed!r}")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class VirtualClock:
    """Time that moves only when ``advance`` is called (replay, deterministic tests).

    Sleepers wake in deadline order (ties in the order they went to sleep); ``advance``
    returns only after each woken sleeper has run until it waits again, so what a replay
    does at a given time is finished before time moves on.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=max(0.0, seconds))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._counter), future))
        await future

    async def advance(self, to: datetime) -> None:
        """Move time forward to ``to`` (never backwards), waking sleepers due by then."""
        while self._sleepers and self._sleepers[0][0] <= to:
            deadline, _, future = heapq.heappop(self._sleepers)
            if deadline > self._now:
                self._now = deadline
            if not future.done():
                future.set_result(None)
                # Let the woken task run until it waits again.
                for _ in range(5):
                    await asyncio.sleep(0)
        if to > self._now:
            self._now = to
