"""``ReplaySource``: feeds a recording back through the same path live records take.

Two ways to pace it, chosen by the clock the context gives it (``ReplaySource.clock`` makes
the right one):

- a ``VirtualClock`` (as fast as possible): before the records stamped ``t`` are emitted
  the clock is advanced to ``t``, so everything waiting on it (agents' timers, cooldowns)
  runs as it did live, in the same order, and is finished before time moves on;
- any other clock (``AcceleratedClock`` at ``speed``× from the recording's first record):
  the source sleeps on it until each record is due (at least 2 ms of wall time per sleep, so
  records may wait that long), so ``speed`` 10 plays an hour in six minutes.

Records are emitted in file order, in batches of at most ``batch`` (records already due go
together); the original ``source`` of each record is kept. ``progress(done, total)`` is
called after each batch (the CLI's progress bar). The run returns after the last record.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alphawire.clock import AcceleratedClock, Clock, VirtualClock
from alphawire.sources.base import SourceContext, SourceStatus
from alphawire.sources.recording import RecordingSummary, iter_records, summarize
from alphawire.sources.records import Record

Progress = Callable[[int, int], None]


class ReplaySource:
    """A recording played back as a ``Source``; the file is read once on construction to count
    its records (``validate=False``: parsed as JSON only, ~5× faster; see ``summarize``)."""

    def __init__(
        self,
        path: str | Path,
        *,
        name: str = "replay",
        progress: Progress | None = None,
        batch: int = 512,
        validate: bool = True,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self.path = Path(path)
        self.name = name
        self.summary: RecordingSummary = summarize(self.path, validate=validate)
        self.produces: frozenset[str] = self.summary.kinds
        self.progress = progress
        self.batch = batch
        self.done = 0
        self._status = SourceStatus(
            detail={
                "file": self.path.name,
                "total": self.summary.count,
                "done": 0,
                "simulated": self.summary.header.simulated,
            }
        )

    @property
    def total(self) -> int:
        return self.summary.count

    def clock(self, speed: float | None) -> Clock:
        """The clock to replay on: virtual (``None``, as fast as possible) or ``speed``×."""
        start = self.summary.first or self.summary.header.start
        return VirtualClock(start) if speed is None else AcceleratedClock(start, speed)

    def status(self) -> SourceStatus:
        return self._status

    async def run(self, ctx: SourceContext) -> None:
        clock = ctx.clock
        virtual = clock if isinstance(clock, VirtualClock) else None
        granularity = 0.002 * (clock.speed if isinstance(clock, AcceleratedClock) else 1.0)
        self._status.state = "ok"
        pending: list[Record] = []
        for record in iter_records(self.path):
            later = record.ts != pending[-1].ts if pending else False
            # Virtual: one batch per timestamp. Paced: everything already due goes together.
            if pending and (
                len(pending) >= self.batch
                or (later and (virtual is not None or record.ts > clock.now()))
            ):
                await self._flush(ctx, pending)
                pending = []
            if virtual is not None:
                if not pending:
                    await virtual.advance(record.ts)
            else:
                wait = (record.ts - clock.now()).total_seconds()
                if wait > 0:
                    # At least 2 ms of wall time: records due meanwhile go out together.
                    await clock.sleep(max(wait, granularity))
            pending.append(record)
        if pending:
            await self._flush(ctx, pending)
        self._status.detail["finished"] = True

    async def _flush(self, ctx: SourceContext, records: list[Record]) -> None:
        await ctx.emit(records)
        self.done += len(records)
        status = self._status
        status.items = self.done
        status.last_success = ctx.clock.now()
        status.detail["done"] = self.done
        if self.progress is not None:
            self.progress(self.done, self.summary.count)
