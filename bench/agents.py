"""Agents benchmark: the CPU the built-in agents add, as a share of one core at real-time pace.

    .venv/bin/python -m bench.agents [--speed 20] [--seconds 30] [--repeat 3] [--json out.json]

A node runs the simulated market (default watchlist, seed 7, from a Friday's open) on an
``AcceleratedClock`` at ``--speed`` for ``--seconds`` of wall time, twice: without agents, then
with every built-in agent (``builtin_agents()``) at its default options (cadence, thresholds).
The process's CPU time (``time.process_time``: all threads, so the agents' off-loop compute
counts) is read around each run; the agents' share of one core at speed 1 is

    (CPU with agents − CPU without) / (seconds × speed)

i.e. the agents' CPU per simulated second, which is what they cost when the market runs in
real time (cadences are on the same clock, so they evaluate ``speed`` times as often per wall
second and as often per simulated second). Each agent's own ``busy_seconds`` (time inside its
``on_record`` / ``on_message`` / ``evaluate``) is reported too. The median of ``--repeat``
pairs is kept; the machine's other load does not count (process CPU, not wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alphawire.agents.builtin import builtin_agents
from alphawire.clock import AcceleratedClock
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.sources.sim import DEFAULT_WATCHLIST, SimulatedSource

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)  # a Friday, regular session
BUDGET = 0.15  # issue #13: all agents at default cadence within 15 % of one core


async def one_run(with_agents: bool, speed: float, seconds: float) -> dict[str, Any]:
    agents = [factory({}) for factory in builtin_agents().values()] if with_agents else []
    with tempfile.TemporaryDirectory() as data_dir:
        node = Node(
            Settings(data_dir=Path(data_dir), publish_token="bench"),
            sources=[SimulatedSource(seed=7, start=OPEN)],
            agents=agents,
            watchlist=DEFAULT_WATCHLIST,
            clock=AcceleratedClock(OPEN, speed),
        )
        cpu0 = time.process_time()
        await node.start()
        await asyncio.sleep(seconds)
        await node.stop()
        cpu = time.process_time() - cpu0
    status = {a.name: a.status() for a in agents}  # type: ignore[attr-defined]
    return {
        "cpu_seconds": cpu,
        "records": node.records.stats(),
        "agents": {
            name: {
                k: s[k]
                for k in ("runs", "insights", "alerts", "records", "messages", "busy_seconds")
            }
            | {"last_error": s["last_error"]}
            for name, s in status.items()
        },
    }


async def measure(speed: float, seconds: float, repeat: int) -> dict[str, Any]:
    pairs = []
    for _ in range(repeat):
        without = await one_run(False, speed, seconds)
        with_ = await one_run(True, speed, seconds)
        pairs.append((without, with_))
    simulated = seconds * speed
    shares = [(w["cpu_seconds"] - wo["cpu_seconds"]) / simulated for wo, w in pairs]
    median = statistics.median(shares)
    chosen = pairs[shares.index(median)] if median in shares else pairs[0]
    return {
        "speed": speed,
        "wall_seconds": seconds,
        "simulated_seconds": simulated,
        "watchlist": list(DEFAULT_WATCHLIST),
        "agents": sorted(builtin_agents()),
        "cpu_without": [round(wo["cpu_seconds"], 3) for wo, _ in pairs],
        "cpu_with": [round(w["cpu_seconds"], 3) for _, w in pairs],
        "share_of_one_core": [round(s, 4) for s in shares],
        "median_share": round(median, 4),
        "budget": BUDGET,
        "within_budget": median <= BUDGET,
        "per_agent": chosen[1]["agents"],
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{len(result['agents'])} agents ({', '.join(result['agents'])}) over "
        f"{len(result['watchlist'])} symbols, {result['simulated_seconds']:g} simulated s "
        f"at {result['speed']:g}x: median {result['median_share'] * 100:.1f} % of one core "
        f"(budget {result['budget'] * 100:.0f} %; runs {result['share_of_one_core']})",
        "",
        "| agent | runs | insights | alerts | records | messages | busy s | busy % of a core |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in sorted(result["per_agent"].items()):
        share = row["busy_seconds"] / result["simulated_seconds"] * 100
        lines.append(
            f"| {name} | {row['runs']} | {row['insights']} | {row['alerts']} | {row['records']} "
            f"| {row['messages']} | {row['busy_seconds']:.3f} | {share:.2f} |"
        )
    return "\n".join(lines)


def fanout(rate: int, duration: float, repeat: int) -> dict[str, Any]:
    """Scenario A's step at ``rate`` against sim-only and sim+agents hubs (see module)."""
    from bench import run
    from bench.servers import ALPHAWIRE_ENV, SERVERS, ServerSpec

    work = Path(tempfile.mkdtemp(prefix="alphawire-agents-fanout-"))
    watchlist = [s for s in DEFAULT_WATCHLIST if s != "SPY"]
    base = f"watchlist = {json.dumps(watchlist)}\n\n[sources.sim]\nenabled = true\n"
    off = base + "".join(f"\n[agents.{n}]\nenabled = false\n" for n in builtin_agents())
    configs = {"alphawire_sim": ("sim, no agents", off), "alphawire_agents": ("sim + agents", base)}
    for name, (label, text) in configs.items():
        path = work / f"{name}.toml"
        path.write_text(text)
        env = {**ALPHAWIRE_ENV, "ALPHAWIRE_CONFIG": str(path)}
        SERVERS[name] = ServerSpec(
            name,
            f"alphawire, {label}",
            "alphawire",
            ("alphawire",),
            "alphawire",
            env=env,
            scenarios="A",
        )
    rows: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(repeat):
        out = work / "results"
        argv = [
            "--servers",
            ",".join(configs),
            "--scenarios",
            "A",
            "--a-rates",
            str(rate),
            "--a-duration",
            str(duration),
            "--no-profile",
            "--out",
            str(out),
        ]
        run.main(argv)
        newest = max(out.glob("*.json"), key=lambda p: p.stat().st_mtime)
        results = json.loads(newest.read_text())["scenarios"]["A"]
        for name in configs:
            steps = results[name].get("steps") or [{}]
            rows[name].append(steps[-1].get("p99_ms", float("nan")))
    without = statistics.median(rows["alphawire_sim"])
    with_ = statistics.median(rows["alphawire_agents"])
    return {
        "rate": rate,
        "duration": duration,
        "p99_ms_without": rows["alphawire_sim"],
        "p99_ms_with": rows["alphawire_agents"],
        "median_without": without,
        "median_with": with_,
        "change": (with_ - without) / without if without else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fanout", type=int, default=None, metavar="RATE")
    parser.add_argument("--fanout-duration", type=float, default=5.0)
    args = parser.parse_args()
    if args.fanout is not None:
        result = fanout(args.fanout, args.fanout_duration, args.repeat)
        print(json.dumps(result, indent=2))
    else:
        result = asyncio.run(measure(args.speed, args.seconds, args.repeat))
        print(report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
