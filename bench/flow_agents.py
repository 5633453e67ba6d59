"""Market-structure agents benchmark: CPU per simulated second of gamma, darkpool, squeeze, options.

    .venv/bin/python -m bench.flow_agents [--minutes 30] [--json out.json]

The simulated market (default watchlist, seed 7, scenarios on) is generated first, from the
open (the busiest half hour of the U-shaped day); then its records are fed, in time order,
to the four agents' analyses (``GammaBook``, ``DarkPoolBook``, ``SqueezeBook``,
``OptionsBook``) exactly as the agents do: every record through ``observe``, each agent's
evaluation (chain reads, flow reads, scoring, insights) at its default cadence in simulated
time. Only the agents' work is timed, with this process's CPU clock (one core, whatever else
the machine runs): CPU seconds per simulated second is the share of one core each agent needs
at demo speed 1.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alphawire.agents.darkpool import DarkPoolAgent, DarkPoolBook, DarkPoolOptions
from alphawire.agents.gamma import GammaAgent, GammaBook, GammaOptions, read_chain
from alphawire.agents.options import OptionsAgent, OptionsBook, OptionsOptions, read_flow
from alphawire.agents.squeeze import SqueezeAgent, SqueezeBook, SqueezeOptions
from alphawire.calendar import default_calendar
from alphawire.sources.records import Record
from alphawire.sources.sim import DEFAULT_WATCHLIST, MarketSimulation

OPEN = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def generate(minutes: float) -> list[Record]:
    sim = MarketSimulation(DEFAULT_WATCHLIST, seed=7, start=OPEN, calendar=default_calendar())
    end = OPEN + timedelta(minutes=minutes)
    out: list[Record] = []
    while sim.next_time() <= end:
        out.extend(sim.advance_to(end, 1_000))
    return out


def run(minutes: float) -> dict[str, Any]:
    records = generate(minutes)
    gamma = GammaBook(GammaOptions(), DEFAULT_WATCHLIST)
    dark = DarkPoolBook(DarkPoolOptions(), DEFAULT_WATCHLIST, calendar=default_calendar())
    squeeze = SqueezeBook(SqueezeOptions(), DEFAULT_WATCHLIST)
    flow = OptionsBook(OptionsOptions(), DEFAULT_WATCHLIST)

    def eval_gamma(now: datetime) -> int:
        while chains := gamma.take_chains():
            for chain in chains:
                gamma.apply(chain, read_chain(chain, gamma.options.rate))
        return sum(gamma.insight(s, now) is not None for s in gamma.symbols())

    def eval_dark(now: datetime) -> int:
        n = sum(dark.insight(s, now) is not None for s in dark.symbols())
        return n + (dark.market_insight(now) is not None)

    def eval_squeeze(now: datetime) -> int:
        squeeze.score(now, OPEN)
        return sum(squeeze.insight(s, now) is not None for s, _ in squeeze.ranking())

    def eval_flow(now: datetime) -> int:
        for symbol, trades, chain in flow.work(now):
            flow.apply(symbol, read_flow(trades, chain, flow.options, now))
        return sum(flow.insight(s, now) is not None for s in flow.symbols())

    agents: dict[str, tuple[Any, Callable[[datetime], int], float]] = {
        "gamma": (gamma, eval_gamma, float(GammaAgent.Options().cadence)),
        "darkpool": (dark, eval_dark, float(DarkPoolAgent.Options().cadence)),
        "squeeze": (squeeze, eval_squeeze, float(SqueezeAgent.Options().cadence)),
        "options": (flow, eval_flow, float(OptionsAgent.Options().cadence)),
    }
    cpu = dict.fromkeys(agents, 0.0)
    evaluations = dict.fromkeys(agents, 0)
    due = {name: OPEN + timedelta(seconds=c) for name, (_, _, c) in agents.items()}
    for record in records:
        for name, (book, evaluate, cadence) in agents.items():
            while due[name] <= record.ts:
                t0 = time.process_time()
                evaluate(due[name])
                cpu[name] += time.process_time() - t0
                evaluations[name] += 1
                due[name] += timedelta(seconds=cadence)
            t0 = time.process_time()
            book.observe(record)
            cpu[name] += time.process_time() - t0
    seconds = minutes * 60
    return {
        "minutes": minutes,
        "records": len(records),
        "agents": {
            name: {
                "cadence_s": agents[name][2],
                "evaluations": evaluations[name],
                "cpu_s": round(cpu[name], 3),
                "core_pct_at_speed_1": round(100 * cpu[name] / seconds, 3),
            }
            for name in agents
        },
        "total_core_pct_at_speed_1": round(100 * sum(cpu.values()) / seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    result = run(args.minutes)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
