"""``alphawire record``: run the simulated market without a hub and write a recording.

The recording covers ``--seconds`` of wall time at ``--speed`` (so ``seconds × speed``
simulated seconds from ``--start``); ``--fast`` writes the same span as fast as the machine
allows, and the file is byte for byte the one a paced run writes, because the simulator's
output depends only on the seed, the watchlist and the simulated span.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

if TYPE_CHECKING:
    from alphawire.sources.base import MarketCalendar

# The command's imports are light: numpy and the calendar load only when it runs, so every
# other ``alphawire`` command starts as fast as before.
DEFAULT_SYMBOLS = "SPY,QQQ,IWM,AAPL,NVDA,TSLA,AMD,GME,AMC"


def parse_start(text: str | None, calendar: MarketCalendar, now: datetime) -> datetime:
    """``--start``: a date (that session's open, or the next one's), an ISO time with a
    timezone, or nothing (the open of the session in progress or of the last one)."""
    from alphawire.sources.sim import simulation_start

    if not text:
        return simulation_start(calendar, now)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(0, 0), ZoneInfo("America/New_York")).astimezone(UTC)
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a date (2026-12-04) nor an ISO time (2026-12-04T14:30:00Z)",
            param_hint="--start",
        ) from None
    if ts.tzinfo is None:
        raise click.BadParameter(
            f"{text!r} has no timezone (add Z or +00:00)", param_hint="--start"
        )
    return ts


async def record_simulation(
    out: Path,
    *,
    seed: int,
    speed: float,
    seconds: float,
    watchlist: tuple[str, ...],
    start: datetime,
    fast: bool = False,
    scenarios: bool = True,
    calendar: MarketCalendar | None = None,
) -> int:
    """Write ``seconds × speed`` simulated seconds from ``start`` to ``out``; the record count."""
    from alphawire.calendar import default_calendar
    from alphawire.clock import AcceleratedClock, Clock, VirtualClock
    from alphawire.sources.context import StandaloneContext
    from alphawire.sources.recording import RecordingHeader, RecordingWriter
    from alphawire.sources.sim import SimulatedSource
    from alphawire.sources.sim.session import first_instant, usable

    if speed <= 0:
        raise ValueError(f"speed must be positive, not {speed}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    cal = usable(calendar or default_calendar(), start)
    begin = first_instant(cal, start)
    end = begin + timedelta(seconds=seconds * speed)
    header = RecordingHeader(
        watchlist=watchlist, start=begin, simulated=True, seed=seed, speed=speed, sources=("sim",)
    )
    source = SimulatedSource(seed=seed, start=begin, end=end, scenarios=scenarios)
    clock: Clock = VirtualClock(begin) if fast else AcceleratedClock(begin, speed)
    with RecordingWriter(out, header) as writer:
        ctx = StandaloneContext(writer, watchlist=watchlist, clock=clock, calendar=cal)
        if isinstance(clock, VirtualClock):
            task = asyncio.ensure_future(source.run(ctx))
            while not task.done():
                await clock.advance(end)
                await asyncio.sleep(0)
            await task
        else:
            await source.run(ctx)
        return writer.count


@click.command("record")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write: .jsonl, or .jsonl.gz to compress.",
)
@click.option(
    "--seconds",
    default=60.0,
    show_default=True,
    type=float,
    help="Wall seconds to record (covers seconds × speed of simulated time).",
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=float,
    help="Simulated seconds per wall second (390 plays a session in a minute).",
)
@click.option(
    "--seed", default=7, show_default=True, type=int, help="Seed of the simulated market."
)
@click.option(
    "--symbols",
    default=DEFAULT_SYMBOLS,
    show_default=True,
    help="Watchlist, comma-separated.",
)
@click.option(
    "--start",
    default=None,
    help="Simulated start: a date (its session's open) or an ISO time with a timezone; "
    "default the open of the current or last session.",
)
@click.option("--fast", is_flag=True, help="Do not wait: write the same span as fast as possible.")
@click.option("--no-scenarios", is_flag=True, help="Leave out the scripted scenarios.")
def record(
    out: Path,
    seconds: float,
    speed: float,
    seed: int,
    symbols: str,
    start: str | None,
    fast: bool,
    no_scenarios: bool,
) -> None:
    """Record the simulated market (no hub needed) to a replayable .jsonl[.gz] file."""
    if speed <= 0:
        raise click.BadParameter(f"must be positive, not {speed}", param_hint="--speed")
    if seconds <= 0:
        raise click.BadParameter(f"must be positive, not {seconds}", param_hint="--seconds")
    watchlist = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if not watchlist:
        raise click.BadParameter("no symbols given", param_hint="--symbols")
    from alphawire.calendar import default_calendar

    calendar = default_calendar()
    begin = parse_start(start, calendar, datetime.now(UTC))
    try:
        count = asyncio.run(
            record_simulation(
                out,
                seed=seed,
                speed=speed,
                seconds=seconds,
                watchlist=watchlist,
                start=begin,
                fast=fast,
                scenarios=not no_scenarios,
                calendar=calendar,
            )
        )
    except ValueError as exc:  # a bad symbol, named by the context
        raise click.BadParameter(str(exc), param_hint="--symbols") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from None
    click.echo(
        f"recorded {count} simulated records ({seconds * speed:g} s of market) to {out}", err=True
    )
