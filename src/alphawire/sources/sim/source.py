"""``SimulatedSource``: the simulated market as a ``Source``, paced by the context's clock.

The source builds a ``MarketSimulation`` at the clock's current time (or ``start``) and, each
time it wakes, hands ``ctx.emit`` every record due up to the clock's now, then sleeps on the
clock until the next one is due. Since the simulation is generated on a fixed grid of
simulated time, what it emits does not depend on when the event loop wakes it: an
``AcceleratedClock`` at any speed, a ``VirtualClock`` driven by a test, or a slow consumer
all see the same records in the same order. With ``end`` it stops once everything up to
``end`` has been emitted (recording); without, it runs until cancelled.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from alphawire.sources.base import SourceContext, SourceStatus
from alphawire.sources.records import RECORD_KINDS
from alphawire.sources.sim.engine import MarketSimulation

# Processing times per emit: bounds one batch (a catch-up after a stall is emitted in slices,
# each at most ~100 s of simulated market, a few thousand records).
_TIMES_PER_BATCH = 200


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
        while True:
            now = clock.now()
            until = now if self.end is None else min(now, self.end)
            records = sim.advance_to(until, _TIMES_PER_BATCH)
            if records:
                await ctx.emit(records)
                status.items += len(records)
                status.last_success = clock.now()
            status.detail["sim_time"] = sim.now.isoformat()
            due = sim.next_time()
            if self.end is not None and due > self.end:
                return
            wait = (due - clock.now()).total_seconds()
            status.next_attempt = due
            if wait > 0:
                await clock.sleep(wait)
            else:
                await asyncio.sleep(0)  # catching up: let others run between slices
