"""``SimulatedSource``: the simulated market as a ``Source``, paced by the context's clock.

The source builds a ``MarketSimulation`` at the clock's current time (or ``start``), generates
its records a step ahead, and hands ``ctx.emit`` each record once the clock reaches its
timestamp (every record due by then, in one batch), sleeping on the clock in between. On a
``VirtualClock`` that is exactly at its timestamp, as ``ReplaySource`` does, so whatever else
runs on that clock sees the same thing live and in replay. Since the simulation is generated
on a fixed grid of simulated time, what it emits does not depend on when the event loop wakes it: an
``AcceleratedClock`` at any speed, a ``VirtualClock`` driven by a test, or a slow consumer
all see the same records in the same order. With ``end`` it stops once everything up to
``end`` has been emitted (recording); without, it runs until cancelled.

The market it plays is the session open at the clock's time, or the next one: on a wall
clock at night it would wait for the open. A demo gives it an ``AcceleratedClock`` started at
``simulation_start(calendar, now)`` (the current or last session's open) and the same
``start``, so the day begins at once and the scenarios play in the first minute.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime

from alphawire.clock import AcceleratedClock, Clock, VirtualClock
from alphawire.sources.base import SourceContext, SourceStatus
from alphawire.sources.records import RECORD_KINDS, Record
from alphawire.sources.sim.engine import STEP, MarketSimulation

# Records per emit: a catch-up after a stall (or a start in the past) goes out in slices.
_MAX_BATCH = 5_000


class SimulatedSource:
    """Every kind of record, simulated (``simulated=True``), deterministic from ``seed``."""

    produces = RECORD_KINDS

    def __init__(
        self,
        *,
        seed: int = 7,
        start: datetime | None = None,
        end: datetime | None = None,
        scenarios: bool = True,
        name: str = "sim",
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError(f"start must be timezone-aware, not {start!r}")
        if end is not None and end.tzinfo is None:
            raise ValueError(f"end must be timezone-aware, not {end!r}")
        self.name = name
        self.seed = seed
        self.start = start
        self.end = end
        self.scenarios = scenarios
        self._status = SourceStatus(detail={"simulated": True, "seed": seed})

    def status(self) -> SourceStatus:
        return self._status

    async def run(self, ctx: SourceContext) -> None:
        clock = ctx.clock
        sim = MarketSimulation(
            ctx.watchlist,
            seed=self.seed,
            start=self.start or clock.now(),
            calendar=ctx.calendar,
            name=self.name,
            scenarios_on=self.scenarios,
        )
        status = self._status
        status.state = "ok"
        status.detail["start"] = sim.start.isoformat()
        # On a virtual clock every record is handed over exactly at its timestamp (what a replay
        # does too). A running clock's timing is approximate anyway, so there a sleep lasts at
        # least one step (half a simulated second) and 2 ms of wall time: records wait up to
        # that long, and the loop wakes at most twice a simulated second, 500 times a wall one.
        granularity = 0.0 if isinstance(clock, VirtualClock) else max(STEP, 0.002 * _speed(clock))
        last = self.end or datetime.max.replace(tzinfo=UTC)
        pending: deque[Record] = deque()  # generated, not yet due: at most one step ahead
        while True:
            now = clock.now()
            while (not pending or pending[-1].ts <= now) and sim.next_time() <= last:
                if len(pending) >= _MAX_BATCH:
                    break
                pending.extend(sim.advance_to(sim.next_time(), 1))
            batch: list[Record] = []
            while pending and pending[0].ts <= now and len(batch) < _MAX_BATCH:
                batch.append(pending.popleft())
            if batch:
                await ctx.emit(batch)
                status.items += len(batch)
                status.last_success = clock.now()
                status.detail["sim_time"] = batch[-1].ts.isoformat()
                continue
            if not pending:
                return  # everything up to ``end`` has been emitted
            due = pending[0].ts
            status.next_attempt = due
            wait = (due - clock.now()).total_seconds()
            if wait > 0:
                await clock.sleep(max(wait, granularity))
            else:
                await asyncio.sleep(0)  # the clock moved on meanwhile: let others run


def _speed(clock: Clock) -> float:
    return clock.speed if isinstance(clock, AcceleratedClock) else 1.0
