"""Simulated market and replay benchmark: throughput, CPU share at demo speed, replay speed.

    .venv/bin/python -m bench.sim [--minutes 30] [--cpu-seconds 30] [--replay-hours 6.5] [--json out.json]

1. **Engine**: ``MarketSimulation`` for the default watchlist from the open, ``--minutes`` of
   simulated market (the busiest part of the day: the U-shape's morning), timed by this
   process's CPU clock (one core, whatever else the machine runs). "Ticks" are quotes, stock
   prints and option prints; chains (every five minutes per symbol, about 330 contracts each,
   plus the scenarios') and everything else are counted too.
2. **Source path**: the same span through ``SimulatedSource`` and ``StandaloneContext`` on a
   virtual clock (the asyncio loop, batching and status upkeep), and again writing a ``.gz``
   recording (``to_json``, orjson, gzip).
3. **CPU share**: ``SimulatedSource`` on an ``AcceleratedClock`` at speed 1 (the demo), from the
   open, for ``--cpu-seconds`` of wall time: process CPU seconds per wall second. Also at 10×.
4. **Replay**: a recording of ``--replay-hours`` of the default watchlist from the open
   (6.5 = a whole session), replayed as fast as possible (virtual clock) into a null sink:
   simulated seconds per wall second, counting the validating scan ``ReplaySource`` makes
   first; the quick scan (``validate=False``) is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alphawire.calendar import default_calendar
from alphawire.cli_record import record_simulation
from alphawire.clock import AcceleratedClock, VirtualClock
from alphawire.sources.context import StandaloneContext
from alphawire.sources.recording import RecordingHeader, RecordingWriter, summarize
from alphawire.sources.records import OptionChain, Record
from alphawire.sources.replay import ReplaySource
from alphawire.sources.sim import DEFAULT_WATCHLIST, MarketSimulation, SimulatedSource

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)  # a Friday, regular session
TICKS = ("quote", "trade", "option_trade")


async def _null(batch: Sequence[Record]) -> None:
    return None


def engine(minutes: float) -> dict[str, Any]:
    sim = MarketSimulation(DEFAULT_WATCHLIST, seed=7, start=OPEN, calendar=default_calendar())
    kinds: Counter[str] = Counter()
    contracts = 0
    t0 = time.process_time()
    end = OPEN + timedelta(minutes=minutes)
    while sim.next_time() <= end:
        for r in sim.advance_to(end, 1_000):
            kinds[r.kind] += 1
            if isinstance(r, OptionChain):
                contracts += len(r.contracts)
    cpu = time.process_time() - t0
    ticks = sum(kinds[k] for k in TICKS)
    return {
        "simulated_minutes": minutes,
        "cpu_s": round(cpu, 3),
        "records": sum(kinds.values()),
        "records_per_s": round(sum(kinds.values()) / cpu),
        "ticks_per_s": round(ticks / cpu),
        "chains": kinds["option_chain"],
        "chain_contracts": contracts,
        "kinds": dict(sorted(kinds.items())),
    }


async def source_path(minutes: float, record_to: Path | None) -> dict[str, Any]:
    end = OPEN + timedelta(minutes=minutes)
    clock = VirtualClock(OPEN)
    writer = None
    sink = _null
    if record_to is not None:
        header = RecordingHeader(DEFAULT_WATCHLIST, OPEN, True, seed=7, speed=1.0, sources=("sim",))
        writer = RecordingWriter(record_to, header)
        sink = writer
    ctx = StandaloneContext(sink, clock=clock, calendar=default_calendar())
    source = SimulatedSource(seed=7, start=OPEN, end=end)
    t0 = time.process_time()
    task = asyncio.ensure_future(source.run(ctx))
    while not task.done():
        await clock.advance(end)
        await asyncio.sleep(0)
    await task
    if writer is not None:
        writer.close()
    cpu = time.process_time() - t0
    out = {
        "cpu_s": round(cpu, 3),
        "records": ctx.emitted,
        "records_per_s": round(ctx.emitted / cpu),
    }
    if writer is not None:
        out["bytes"] = _size(record_to)
    return out


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None else 0


async def cpu_share(speed: float, seconds: float) -> dict[str, Any]:
    source = SimulatedSource(seed=7, start=OPEN)
    ctx = StandaloneContext(_null, clock=AcceleratedClock(OPEN, speed), calendar=default_calendar())
    task = asyncio.ensure_future(source.run(ctx))
    await asyncio.sleep(min(2.0, seconds / 5))  # past start-up (building books and chains)
    c0, w0, n0 = time.process_time(), time.perf_counter(), ctx.emitted
    await asyncio.sleep(seconds)
    cpu, wall, n = time.process_time() - c0, time.perf_counter() - w0, ctx.emitted - n0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return {
        "speed": speed,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 3),
        "cpu_share_pct": round(100 * cpu / wall, 2),
        "records_per_wall_s": round(n / wall, 1),
    }


async def replay(hours: float, directory: Path) -> dict[str, Any]:
    path = directory / "day.jsonl.gz"
    t0 = time.perf_counter()
    count = await record_simulation(
        path,
        seed=7,
        speed=1.0,
        seconds=hours * 3600,
        watchlist=DEFAULT_WATCHLIST,
        start=OPEN,
        fast=True,
    )
    record_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    summarize(path, validate=False)
    quick_scan_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    source = ReplaySource(path)
    scan_wall = time.perf_counter() - t0
    ctx = StandaloneContext(_null, clock=source.clock(None))
    t0, c0 = time.perf_counter(), time.process_time()
    await source.run(ctx)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    span = hours * 3600
    return {
        "simulated_hours": hours,
        "records": count,
        "file_bytes": _size(path),
        "record_fast_wall_s": round(record_wall, 1),
        "scan_wall_s": round(scan_wall, 1),
        "quick_scan_wall_s": round(quick_scan_wall, 1),
        "replay_wall_s": round(wall, 1),
        "replay_cpu_s": round(cpu, 1),
        "replay_records_per_s": round(count / wall),
        "times_real_time": round(span / (wall + scan_wall), 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"engine": engine(args.minutes)}
    print("engine", json.dumps(results["engine"]))
    results["source"] = await source_path(args.minutes, None)
    print("source", json.dumps(results["source"]))
    with tempfile.TemporaryDirectory() as tmp:
        results["source_recording"] = await source_path(args.minutes, Path(tmp) / "r.jsonl.gz")
        print("source+recording", json.dumps(results["source_recording"]))
        results["cpu_speed_1"] = await cpu_share(1.0, args.cpu_seconds)
        print("cpu speed 1", json.dumps(results["cpu_speed_1"]))
        results["cpu_speed_10"] = await cpu_share(10.0, args.cpu_seconds / 2)
        print("cpu speed 10", json.dumps(results["cpu_speed_10"]))
        if args.replay_hours > 0:
            results["replay"] = await replay(args.replay_hours, Path(tmp))
            print("replay", json.dumps(results["replay"]))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="simulated minutes for the throughput runs"
    )
    parser.add_argument(
        "--cpu-seconds", type=float, default=30.0, help="wall seconds of the speed-1 run"
    )
    parser.add_argument(
        "--replay-hours",
        type=float,
        default=6.5,
        help="simulated hours to record and replay (0: skip)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    ns = parser.parse_args()
    out = asyncio.run(main(ns))
    if ns.json is not None:
        ns.json.write_text(json.dumps(out, indent=2) + "\n")
