"""Garbage-collection pauses of a hub under a connection burst, then steady fan-out (issue #5).

    .venv/bin/python -m bench.gc_pause                       # 10,000 and 1,000 connections
    .venv/bin/python -m bench.gc_pause --connections 10000 --rate 2000 --seconds 30 --json out.json
    .venv/bin/python -m bench.gc_pause --servers alphawire,alphawire_nocollector,websockets

Each server runs under bench/gc_launch.py (a ``gc.callbacks`` hook recording the
generation and duration of every collection), pinned to the server core like the fan-out
benchmark (bench/scenarios.py's Harness: server on core 0, load generator on core 1). Then:

1. **burst**: N subscribers connect at once, spread evenly over ``--channels`` ``market_*``
   channels (the raw-socket clients of bench/loadgen.py, 256 handshakes in flight);
2. **settle**: ``--settle`` seconds without traffic (alphawire's collector freezes the heap
   one second after a burst), then the publisher connects;
3. **warm-up**: ``--warmup`` seconds of publishing, not counted (history fills up);
4. **steady**: ``--rate`` messages/s, round-robin over the channels, for ``--seconds``.

Pauses are reported per phase and generation: count, p99, max and total. The issue's
target: no pause over 20 ms in steady state, at 10,000 connections too.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procfs import machine_info, raise_nofile, source_state
from bench.scenarios import Harness, Params
from bench.servers import HOST, SERVERS, RunningServer, ServerSpec
from bench.wsclient import Stats, Subscriber, open_subscriber

TARGET_MS = 20.0
PHASES = ("startup", "burst", "settle", "warmup", "steady", "after")
# name -> (server in bench/servers.py, alphawire's collector tuner on, launcher options, label)
VARIANTS: dict[str, tuple[str, bool, tuple[str, ...], str]] = {
    "alphawire": ("alphawire", True, (), "alphawire (collector tuner on)"),
    "alphawire_nocollector": ("alphawire", False, (), "alphawire, tuner off (CPython defaults)"),
    # The tuner as it was before max_wait: a freeze postponed for as long as clients arrive.
    "alphawire_debounce_only": (
        "alphawire",
        True,
        ("--collector-max-wait", "inf"),
        "alphawire, tuner without max_wait",
    ),
    "websockets": ("websockets", True, (), "websockets broadcast() (CPython defaults)"),
}


@dataclass(frozen=True)
class GcSpec(ServerSpec):
    """A server spec whose process starts through bench.gc_launch (same entry point)."""

    gc_out: str = ""
    collector: bool = True
    launch_args: tuple[str, ...] = ()

    def argv(self, port: int, data_dir: str) -> list[str]:
        python, _, *rest = super().argv(port, data_dir)  # [python, "-m", module, *args]
        launch = [python, "-m", "bench.gc_launch", "--out", self.gc_out]
        if not self.collector:
            launch.append("--no-collector")
        launch += self.launch_args
        return [*launch, *rest]


def gc_spec(variant: str, out: str) -> GcSpec:
    server, collector, launch_args, label = VARIANTS[variant]
    base = SERVERS[server]
    kw = {f.name: getattr(base, f.name) for f in fields(ServerSpec)}
    kw["label"] = label
    return GcSpec(**kw, gc_out=out, collector=collector, launch_args=launch_args)


class Churner:
    """Clients reconnecting: ``rate`` times a second, one more connects and the oldest of
    its own goes (each lives ``lifetime`` s), in a thread of the runner (on the load core)."""

    def __init__(
        self, srv: RunningServer, channels: list[str], rate: float, lifetime: float = 10.0
    ) -> None:
        self.srv, self.channels, self.rate = srv, channels, rate
        self.keep = max(1, round(rate * lifetime))
        self.opened = self.closed = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    async def _main(self) -> None:
        spec, stats = self.srv.spec, Stats()
        pool: collections.deque[Subscriber] = collections.deque()
        due = time.monotonic()
        i = 0
        while not self._stop.is_set():
            channel = self.channels[i % len(self.channels)]
            i += 1
            try:
                path = spec.sub_path(channel)
                client = await open_subscriber(
                    HOST, self.srv.port, path, spec.mode, channel, stats, timeout=10.0
                )
            except (OSError, TimeoutError):
                self.failed += 1
            else:
                self.opened += 1
                pool.append(client)
            if len(pool) > self.keep:
                pool.popleft().close()
                self.closed += 1
            due += 1.0 / self.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        for client in pool:
            client.close()
        await asyncio.sleep(0.2)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join(30)
        return {"opened": self.opened, "closed": self.closed, "failed": self.failed}


# -- analysis ----------------------------------------------------------------------------------


def nearest_rank(ordered: list[float], q: float) -> float:
    """The q-quantile by nearest rank (with few values it is the maximum, as it should be)."""
    if not ordered:
        return 0.0
    k = max(0, min(len(ordered) - 1, -(-len(ordered) * q // 1) - 1))
    return ordered[int(k)]


def phase_of(t: float, marks: dict[str, float]) -> str:
    """The phase a CLOCK_MONOTONIC time falls in, given each phase's start time."""
    current = "startup"
    for name in PHASES[1:]:
        start = marks.get(name)
        if start is not None and t >= start:
            current = name
    return current


def summarise(collections: list[list[float]], marks: dict[str, float]) -> dict[str, Any]:
    """Per phase and generation: count, p99, max and total pause (ms), and the longest
    pause's CPU time (ms): much less than the pause means the process was descheduled."""
    grouped: dict[str, dict[int, list[tuple[float, float]]]] = {
        p: {0: [], 1: [], 2: []} for p in PHASES
    }
    for start, gen, ms, _collected, *cpu in collections:
        grouped[phase_of(start, marks)][int(gen)].append((ms, cpu[0] if cpu else ms))
    out: dict[str, Any] = {}
    for phase, gens in grouped.items():
        out[phase] = {}
        for gen, pairs in gens.items():
            pairs.sort()
            values = [ms for ms, _ in pairs]
            out[phase][str(gen)] = {
                "count": len(values),
                "p99_ms": round(nearest_rank(values, 0.99), 3),
                "max_ms": round(values[-1], 3) if values else 0.0,
                "max_cpu_ms": round(pairs[-1][1], 3) if pairs else 0.0,
                "max_of_cpu_ms": round(max(c for _, c in pairs), 3) if pairs else 0.0,
                "total_ms": round(sum(values), 3),
            }
    return out


def worst(summary: dict[str, Any], phase: str) -> float:
    return max(g["max_ms"] for g in summary[phase].values())


# -- one run -----------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def dump_records(
    srv: RunningServer, path: Path, sig: int = signal.SIGUSR1, timeout: float = 60.0
) -> dict[str, Any]:
    """Ask the launcher for its records (SIGUSR1; SIGUSR2 adds the frozen-garbage audit)."""
    path.unlink(missing_ok=True)
    os.kill(srv.pid, sig)
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or srv.proc.poll() is not None:
            raise TimeoutError(f"no GC records from {srv.spec.name}: {srv.log_tail()}")
        time.sleep(0.1)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def run_one(h: Harness, variant: str, n: int, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    records = Path(tempfile.mkdtemp(prefix="gc-pause-")) / "records.json"
    spec = gc_spec(variant, str(records))
    channels = [f"market_G{i:03d}" for i in range(min(args.channels, n))]
    base, extra = divmod(n, len(channels))
    subs = [base + (1 if i < extra else 0) for i in range(len(channels))]
    quiet = h.wait_quiet()
    srv = h.start(spec, tag)
    marks: dict[str, float] = {}
    try:
        marks["burst"] = time.monotonic()
        conn = h.connect(srv, list(zip(channels, subs, strict=True)), timeout=300.0)
        marks["settle"] = time.monotonic()
        time.sleep(args.settle)
        h.setup_publisher(srv)
        common = {"channels": channels, "subs": subs, "kind": "market", "size": args.size}
        marks["warmup"] = time.monotonic()
        churner = Churner(srv, channels, args.churn) if args.churn > 0 else None
        try:
            h.run_step(srv, step=900, rate=args.rate, duration=args.warmup, **common)
            marks["steady"] = time.monotonic()
            step = h.run_step(srv, step=1, rate=args.rate, duration=args.seconds, **common)
            marks["after"] = time.monotonic()
        finally:
            churned = churner.stop() if churner is not None else None
        data = dump_records(srv, records)
        # Then what the next full collection would cost, and the frozen garbage (last).
        data["audit"] = dump_records(srv, records, signal.SIGUSR2)["audit"]
    finally:
        h.stop(srv)
        records.unlink(missing_ok=True)
        records.parent.rmdir()
    summary = summarise(data["collections"], marks)
    keep = ("published", "delivered_pct", "achieved_dps", "p50_ms", "p99_ms", "max_ms")
    return {
        "variant": variant,
        "label": spec.label,
        "connections": n,
        "connected": conn["connected"],
        "connect_failed": conn["failed"],
        "connect_seconds": round(conn["seconds"], 2),
        "channels": len(channels),
        "phases": summary,
        "phase_seconds": {
            p: round(marks[q] - marks[p], 2)
            for p, q in (("burst", "settle"), ("settle", "warmup"), ("steady", "after"))
        },
        "freezes": [round(t - marks["burst"], 2) for t in data["freezes"]],
        "churn_rate": args.churn,
        "churn": churned,
        "audit": data["audit"],
        "steady": {k: step[k] for k in keep},
        "steady_max_pause_ms": worst(summary, "steady"),
        "other_cpu": step["other_cpu"],
        "machine_load_before": quiet,
        "server_gc": {
            k: data[k]
            for k in ("thresholds", "frozen", "tracked_unfrozen", "top_types", "gc_stats")
        },
    }


# -- report ------------------------------------------------------------------------------------


def table(runs: list[dict[str, Any]]) -> str:
    """One Markdown row per run and generation: burst and steady side by side."""
    head = (
        "| server | connections | gen | burst: count / p99 / max ms | "
        "steady: count / p99 / max ms (its CPU ms) | steady p99 latency ms | other load (cores) |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in runs:
        for gen in ("0", "1", "2"):
            b, s = r["phases"]["burst"][gen], r["phases"]["steady"][gen]
            cells = [
                r["label"],
                f"{r['connections']:,}",
                gen,
                f"{b['count']} / {b['p99_ms']:.1f} / {b['max_ms']:.1f}",
                f"{s['count']} / {s['p99_ms']:.1f} / **{s['max_ms']:.1f}** ({s['max_cpu_ms']:.1f})",
                f"{r['steady']['p99_ms']:.1f}",
                f"{r['other_cpu']:.2f}",
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def audit_table(runs: list[dict[str, Any]]) -> str:
    """After the steady state: the cost of a full collection then, and the frozen garbage."""
    head = (
        "| server | connections | churn/s | freezes (s after burst start) | tracked, not frozen | "
        "a full collection now, ms | frozen objects | of them garbage |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in runs:
        a = r["audit"]
        cells = [
            r["label"],
            f"{r['connections']:,}",
            f"{r['churn_rate']:g}",
            ", ".join(f"{t:g}" for t in r["freezes"]) or "none",
            f"{r['server_gc']['tracked_unfrozen']:,}",
            f"{a['full_collection_ms']:.1f}",
            f"{a['frozen_before']:,}",
            f"{a['frozen_garbage']:,}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gc_pause", description=__doc__)
    ap.add_argument("--connections", default="10000,1000", help="comma-separated, e.g. 10000,1000")
    ap.add_argument("--rate", type=float, default=2000.0, help="messages/s in steady state")
    ap.add_argument("--seconds", type=float, default=30.0, help="steady-state window")
    ap.add_argument("--channels", type=int, default=500, help="market_* channels")
    ap.add_argument("--size", type=int, default=300, help="bytes per delivered message")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after the burst")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of publishing not counted")
    ap.add_argument(
        "--servers",
        default="alphawire,alphawire_nocollector",
        help=f"comma-separated, of: {', '.join(VARIANTS)}",
    )
    ap.add_argument(
        "--churn",
        type=float,
        default=0.0,
        help="clients reconnecting per second during warm-up and steady state (default 0)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    ap.add_argument("--quiet-wait", type=float, default=30.0, help="max s to wait for other load")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.servers.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown server(s) {unknown}; known: {', '.join(VARIANTS)}")
    counts = [int(float(c)) for c in args.connections.split(",") if c.strip()]

    raise_nofile()
    p = Params(servers=variants, scenarios=[], quiet_wait=args.quiet_wait, drain=5.0)
    log_dir = Path(tempfile.mkdtemp(prefix="gc-pause-logs-"))
    h = Harness(p, log_dir)
    runs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    started = time.monotonic()
    started_utc = datetime.now(UTC).isoformat(timespec="seconds")
    source = source_state(str(Path(__file__).resolve().parent.parent))  # what is measured
    try:
        for n in counts:
            for k in range(args.repeat):
                for variant in variants:
                    log(f"{variant}, {n} connections, run {k + 1}")
                    try:
                        r = run_one(h, variant, n, args, f"gc-{n}-{k}")
                    except Exception as exc:  # keep the other runs' numbers
                        log(f"{variant}, {n}: failed: {type(exc).__name__}: {exc}"[:2000])
                        failed.append({"variant": variant, "connections": n, "error": str(exc)})
                        continue
                    r["run"] = k + 1
                    runs.append(r)
                    log(
                        f"{variant}, {n}: steady max pause {r['steady_max_pause_ms']:.1f} ms, "
                        f"burst max {worst(r['phases'], 'burst'):.1f} ms, "
                        f"other load {r['other_cpu']:.2f}"
                    )
    finally:
        h.close()
    results = {
        "started_utc": started_utc,
        "duration_s": round(time.monotonic() - started, 1),
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "target_ms": TARGET_MS,
        "machine": machine_info(),
        "pinning": h.pinning(),
        "source": source,
        "runs": runs,
        "failed": failed,
        "logs": str(log_dir),
    }
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(table(runs))
    print(audit_table(runs))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
