"""The scenarios (A-E) and the harness that runs one step of load against one server."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ingest import ingest_main
from bench.loadgen import WorkerHandle, publisher_main, subscriber_main
from bench.procfs import core_busy, core_times, cpu_seconds, cpu_split, rss_bytes
from bench.servers import HOST, PUBLISH_TOKEN, RunningServer, ServerSpec

SATURATED = 0.90  # load-generator CPU (share of its core) from which its numbers are suspect


@dataclass
class Params:
    """Every knob of a run (the CLI fills it; ``--quick`` and ``--smoke`` shrink it)."""

    servers: list[str]
    scenarios: list[str]
    size: int = 300
    a_subs: int = 1000
    a_rates: list[int] = field(
        default_factory=lambda: [5000, 10000, 20000, 40000, 80000, 100000, 120000, 140000, 160000]
    )
    a_duration: float = 2.5
    b_conns: int = 10000
    c_subs: int = 100
    c_rate: float = 200.0
    c_size: int = 4096
    # C publishes agent insights: alphawire's priority lane (a full lane closes the client
    # with 4008), without the durable outbox that alerts go through (its disk I/O would be
    # measured along). "alert" publishes alerts on unified instead.
    c_kind: str = "agent"
    # alphawire keeps the last 1,000 agent (10,000 unified) messages: that history would grow
    # RSS during C whatever the stalled client does, so C caps it (reported with the results).
    c_history: str = "agent=200/300,unified=200/300"
    c_base: float = 6.0
    c_stall: float = 10.0
    c_rcvbuf: int = 1024
    c_skip: float = 2.0
    d_subs: int = 5000
    d_channels: int = 500
    d_zipf: float = 1.0
    d_rates: list[int] = field(default_factory=lambda: [20000, 40000])
    d_duration: float = 3.0
    e_duration: float = 5.0
    e_connections: int = 2
    e_batch: int = 1000
    # The producer socket: (messages per frame, frames in flight per socket) for each row;
    # 1 message per frame sends it bare, more send {"messages": [...]}.
    e_ws_runs: list[tuple[int, int]] = field(default_factory=lambda: [(100, 8), (1, 256)])
    e_ws_connections: int = 1
    drain: float = 5.0
    workers: int = 0  # subscriber processes; 0 = one per load core
    server_core: int | None = None  # default: the first core
    load_cores: list[int] | None = None  # default: the second core
    quiet_wait: float = 45.0  # seconds to wait for other load on the machine to pass
    max_other: float = 0.2  # cores of foreign load during a step above which it is redone
    retries: int = 2  # times a disturbed step (or scenario C) is redone
    profile: bool = True
    profile_duration: float = 6.0
    mode: str = "default"


# -- small statistics --------------------------------------------------------------------------


def percentile(ordered: list[int], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def slope(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope (bytes per second) of (t, value) samples."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return sum((t - mt) * (v - mv) for t, v in samples) / var


def zipf_split(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights``, at least 1 each (largest remainder)."""
    n = len(weights)
    if total < n:
        raise ValueError("need at least one subscriber per channel")
    spare = total - n
    wsum = sum(weights)
    shares = [spare * w / wsum for w in weights]
    out = [1 + int(s) for s in shares]
    left = total - sum(out)
    order = sorted(range(n), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in order[:left]:
        out[i] += 1
    return out


# -- the harness -------------------------------------------------------------------------------


class Harness:
    """Load-generator processes (on the load core) and servers (on the server core)."""

    def __init__(self, params: Params, log_dir: Path) -> None:
        self.p = params
        self.log_dir = log_dir
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.server_core: int | None = None
        self.load_cores: list[int] = []
        if params.server_core is not None:
            self.server_core = params.server_core
            self.load_cores = params.load_cores or [c for c in cores if c != params.server_core]
        elif len(cores) >= 2:
            # Default: the server alone on the first core, everything else on the second.
            self.server_core, self.load_cores = cores[0], params.load_cores or [cores[1]]
        self.load_core: int | None = self.load_cores[0] if self.load_cores else None
        if self.load_cores:
            os.sched_setaffinity(0, set(self.load_cores))
        n_workers = params.workers or max(1, len(self.load_cores))
        lc = self.load_cores or [None]  # type: ignore[list-item]
        self.subs = [
            WorkerHandle(f"sub{i}", subscriber_main, lc[i % len(lc)]) for i in range(n_workers)
        ]
        self.pub = WorkerHandle("pub", publisher_main, lc[-1])
        for w in self.workers:
            w.call("cpu", timeout=60)  # started and answering

    @property
    def workers(self) -> list[WorkerHandle]:
        return [*self.subs, self.pub]

    def close(self) -> None:
        for w in self.workers:
            w.stop()

    def pinning(self) -> dict[str, Any]:
        return {"server_core": self.server_core, "load_cores": self.load_cores}

    # -- servers and connections ---------------------------------------------------------------

    def start(
        self, spec: ServerSpec, tag: str, extra_env: dict[str, str] | None = None
    ) -> RunningServer:
        srv = RunningServer(spec, self.server_core, self.log_dir, tag, extra_env)
        try:
            srv.wait_ready()
        except BaseException:
            srv.stop()
            raise
        return srv

    def stop(self, srv: RunningServer) -> None:
        for w in self.subs:
            with contextlib.suppress(Exception):
                w.call("close_all", timeout=30)
        with contextlib.suppress(Exception):
            self.pub.call("teardown", timeout=10)
        srv.stop()

    def connect(
        self, srv: RunningServer, groups: list[tuple[str, int]], timeout: float = 120.0
    ) -> dict[str, Any]:
        """Open subscribers for (channel, count) groups, spread over the subscriber workers."""
        spec = srv.spec
        per_worker: list[list[tuple[str, str, int]]] = [[] for _ in self.subs]
        for channel, count in groups:
            base, extra = divmod(count, len(self.subs))
            for i in range(len(self.subs)):
                n = base + (1 if i < extra else 0)
                if n:
                    per_worker[i].append((spec.sub_path(channel), channel, n))
        for w, g in zip(self.subs, per_worker, strict=True):
            w.send(
                "connect",
                host=HOST,
                port=srv.port,
                groups=g,
                mode=spec.mode,
                snapshot_check=spec.module == "alphawire",
                timeout=60.0,
            )
        out = {"connected": 0, "failed": 0, "errors": {}, "seconds": 0.0}
        for w in self.subs:
            r = w.recv(timeout)
            out["connected"] += r["connected"]
            out["failed"] += r["failed"]
            out["seconds"] = max(out["seconds"], r["seconds"])
            for k, v in r["errors"].items():
                out["errors"][k] = out["errors"].get(k, 0) + v
        return out

    def setup_publisher(self, srv: RunningServer) -> None:
        self.pub.call(
            "setup",
            target="alphawire" if srv.spec.publish == "alphawire" else "ws",
            host=HOST,
            port=srv.port,
            path="/pub",
            token=PUBLISH_TOKEN,
        )

    def loadgen_cpu(self) -> float:
        return sum(w.call("cpu")["cpu"] for w in self.workers)

    def wait_quiet(self, threshold: float = 0.15) -> dict[str, Any]:
        """Wait (up to ``limit`` s) until no core is more than ``threshold`` busy.

        Nothing of ours runs at this point, so what is busy is someone else's load on this
        machine; it is recorded with the results, since it skews them.
        """
        limit = self.p.quiet_wait
        start = time.monotonic()
        while True:
            before = core_times()
            time.sleep(1.0 if limit > 0 else 0.2)
            busy = core_busy(before, core_times())
            worst = max(busy.values(), default=0.0)
            waited = time.monotonic() - start
            if worst <= threshold or waited >= limit:
                return {
                    "waited_s": round(waited, 1),
                    "foreign_busy": {str(k): round(v, 3) for k, v in busy.items()},
                    "quiet": worst <= threshold,
                }

    def info(self) -> dict[str, Any]:
        merged: dict[str, Any] = {"open": 0, "control": 0, "snapshots": 0, "closes": {}}
        for w in self.subs:
            r = w.call("info")
            for k in ("open", "control", "snapshots"):
                merged[k] += r[k]
            for k, v in r["closes"].items():
                merged["closes"][k] = merged["closes"].get(k, 0) + v
        return merged

    # -- one step of load ----------------------------------------------------------------------

    def run_step(
        self,
        srv: RunningServer,
        *,
        step: int,
        rate: float,
        duration: float,
        channels: list[str],
        subs: list[int],
        kind: str,
        size: int,
        weights: list[float] | None = None,
        while_publishing: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Publish at ``rate`` msgs/s for ``duration`` s, wait for the deliveries, measure."""
        user0, sys0 = cpu_split(srv.pid)
        cpu0 = user0 + sys0
        lg0 = self.loadgen_cpu()
        me0 = time.process_time()
        cores0 = core_times()
        wall0 = time.monotonic()
        self.pub.send(
            "run",
            rate=rate,
            duration=duration,
            step=step,
            channels=channels,
            kind=kind,
            size=size,
            weights=weights,
        )
        while not self.pub.conn.poll(0.1):
            if while_publishing is not None:
                while_publishing()
            if time.monotonic() - wall0 > duration + 120:
                raise TimeoutError("publisher did not finish")
        pub = self.pub.recv()
        expected = sum(n * k for n, k in zip(pub["per_channel"], subs, strict=True))
        # Drain: until everything arrived, nothing arrived for 0.5 s, or the drain limit.
        deadline = time.monotonic() + self.p.drain
        last, last_change = -1, time.monotonic()
        while True:
            got = sum(w.call("counts", steps=[step])["counts"][step] for w in self.subs)
            now = time.monotonic()
            if while_publishing is not None:
                while_publishing()
            if got >= expected or now > deadline:
                break
            if got != last:
                last, last_change = got, now
            elif now - last_change > 0.5:
                break
            time.sleep(0.05)
        wall1 = time.monotonic()
        user1, sys1 = cpu_split(srv.pid)
        cpu1 = user1 + sys1
        lg1 = self.loadgen_cpu()
        me1 = time.process_time()
        busy = core_busy(cores0, core_times())
        lat: array[int] = array("q")
        delivered = nbytes = 0
        last_recv = pub["t0"]
        for w in self.subs:
            for s in w.call("collect", steps=[step])["steps"].values():
                delivered += s["count"]
                nbytes += s["bytes"]
                last_recv = max(last_recv, s["last"])
                lat.frombytes(s["lat"])
        ordered = sorted(lat)
        span = max(duration, (last_recv - pub["t0"]) / 1e9)
        wall = wall1 - wall0
        server_cpu = cpu1 - cpu0
        loadgen = (lg1 - lg0) / wall
        # CPU on the machine that is neither the server nor the load generator (nor this
        # runner): other people's processes, and kernel work not charged to any process.
        other = sum(busy.values()) - (server_cpu + (lg1 - lg0) + (me1 - me0)) / wall
        load_busy = max((busy.get(c, 0.0) for c in self.load_cores), default=None)
        loadgen /= max(1, len(self.load_cores))  # share of the load cores
        return {
            "rate_msgs": round(rate, 2),
            "duration_s": duration,
            "published": pub["published"],
            "publish_errors": pub["errors"],
            "publish_error_sample": pub["error_sample"],
            "expected": expected,
            "delivered": delivered,
            "delivered_pct": round(100.0 * delivered / expected, 3) if expected else 0.0,
            "achieved_dps": round(delivered / span, 1),
            "p50_ms": round(percentile(ordered, 0.50), 3),
            "p99_ms": round(percentile(ordered, 0.99), 3),
            "max_ms": round(ordered[-1] / 1e6, 3) if ordered else float("nan"),
            "frame_bytes": round(nbytes / delivered, 1) if delivered else 0.0,
            "server_cpu_s": round(server_cpu, 3),
            "server_sys_share": round((sys1 - sys0) / server_cpu, 3) if server_cpu else None,
            "server_cpu_us_per_delivery": round(server_cpu * 1e6 / delivered, 3)
            if delivered
            else None,
            "server_core_busy": round(busy.get(self.server_core, 0.0), 3)
            if self.server_core is not None
            else None,
            "loadgen_cpu": round(loadgen, 3),
            "load_core_busy": round(load_busy, 3) if load_busy is not None else None,
            "loadgen_saturated": loadgen >= SATURATED
            or (load_busy is not None and load_busy >= 0.95),
            "other_cpu": round(other, 3),
            "pub_lag_p99_ms": round(pub["lag_p99_ms"], 3),
            "pub_lag_max_ms": round(pub["lag_max_ms"], 3),
            "producer_backlog_max": pub["producer_backlog_max"],
        }


def clean_step(h: Harness, srv: RunningServer, step: int, **kw: Any) -> dict[str, Any]:
    """``run_step``, redone (up to ``retries`` times) when other load disturbed it.

    Each attempt uses its own step number, so late messages of a disturbed attempt are not
    counted in the next one. The kept attempt says how many there were.
    """
    attempts = []
    for attempt in range(h.p.retries + 1):
        r = h.run_step(srv, step=step + 1000 * attempt, **kw)
        attempts.append(r["other_cpu"])
        if r["other_cpu"] <= h.p.max_other or attempt == h.p.retries:
            break
        h.wait_quiet()
    r["attempts"] = len(attempts)
    r["other_cpu_attempts"] = attempts
    r["disturbed"] = r["other_cpu"] > h.p.max_other
    return r


def _alphawire_stats(srv: RunningServer) -> dict[str, Any] | None:
    if srv.spec.module != "alphawire":
        return None
    try:
        with urllib.request.urlopen(f"http://{HOST}:{srv.port}/api/v1/ws/stats", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except OSError:
        return None


# -- scenarios ---------------------------------------------------------------------------------


def scenario_a(h: Harness, spec: ServerSpec) -> dict[str, Any]:
    """Fan-out ladder: one channel, ``a_subs`` subscribers, deliveries/s stepped up."""
    p = h.p
    channel = "market_SPY"
    srv = h.start(spec, "A")
    try:
        conn = h.connect(srv, [(channel, p.a_subs)])
        n = conn["connected"]
        if n == 0:
            return {"error": f"no subscriber connected: {conn['errors']}", "connect": conn}
        h.setup_publisher(srv)
        common = {"channels": [channel], "subs": [n], "kind": "market", "size": p.size}
        h.run_step(srv, step=900, rate=max(1.0, 2000 / n), duration=1.0, **common)  # warm-up
        steps: list[dict[str, Any]] = []
        for k, dps in enumerate(p.a_rates, start=1):
            r = clean_step(h, srv, k, rate=dps / n, duration=p.a_duration, **common)
            r["target_dps"] = dps
            r["passed"] = r["delivered_pct"] >= 99.9 and r["p99_ms"] < 100.0
            steps.append(r)
            if not r["passed"]:
                break  # the next steps are heavier still: stop here
            time.sleep(0.3)
        passed = [r for r in steps if r["passed"]]
        return {
            "subscribers": n,
            "connect": conn,
            "steps": steps,
            "headline_dps": max((r["achieved_dps"] for r in passed), default=0.0),
            "headline_target": max((r["target_dps"] for r in passed), default=0),
            "saturated_at": next((r["target_dps"] for r in steps if not r["passed"]), None),
            "loadgen_saturated_any": any(r["loadgen_saturated"] for r in steps),
            "info": h.info(),
            "server_stats": _alphawire_stats(srv),
        }
    finally:
        h.stop(srv)


def scenario_b(h: Harness, spec: ServerSpec) -> dict[str, Any]:
    """Idle memory: RSS growth per connection with ``b_conns`` idle subscribers."""
    p = h.p
    srv = h.start(spec, "B")
    try:
        time.sleep(1.0)
        rss0 = rss_bytes(srv.pid)
        cpu0 = cpu_seconds(srv.pid)
        conn = h.connect(srv, [("market_SPY", p.b_conns)], timeout=600)
        time.sleep(2.0)
        rss1 = rss_bytes(srv.pid)
        n = conn["connected"]
        return {
            "connections": n,
            "failed": conn["failed"],
            "errors": conn["errors"],
            "connect_seconds": round(conn["seconds"], 2),
            "connects_per_s": round(n / conn["seconds"], 1) if conn["seconds"] else None,
            "connect_cpu_us": round((cpu_seconds(srv.pid) - cpu0) * 1e6 / n, 1) if n else None,
            "rss_before_mib": round(rss0 / 2**20, 2),
            "rss_after_mib": round(rss1 / 2**20, 2),
            "kib_per_conn": round((rss1 - rss0) / 1024 / n, 2) if n else None,
        }
    finally:
        h.stop(srv)


def scenario_c(h: Harness, spec: ServerSpec) -> dict[str, Any]:
    """One stalled client among ``c_subs``: the others' latency, and the server's memory.

    Redone whole (up to ``retries`` times) when other load disturbed either phase.
    """
    others = []
    for attempt in range(h.p.retries + 1):
        res = _scenario_c_once(h, spec)
        if "error" in res:
            return res
        other = max(res["baseline"]["other_cpu"], res["stalled"]["other_cpu"])
        others.append(other)
        if other <= h.p.max_other or attempt == h.p.retries:
            break
        h.wait_quiet()
    res["attempts"] = len(others)
    res["other_cpu_attempts"] = others
    res["disturbed"] = others[-1] > h.p.max_other
    return res


def _scenario_c_once(h: Harness, spec: ServerSpec) -> dict[str, Any]:
    p = h.p
    channel = "agent_bench" if p.c_kind == "agent" else "unified"
    env = {"ALPHAWIRE_HISTORY": p.c_history} if spec.module == "alphawire" else None
    srv = h.start(spec, "C", env)
    try:
        conn = h.connect(srv, [(channel, p.c_subs)])
        n = conn["connected"]
        if n == 0:
            return {"error": f"no subscriber connected: {conn['errors']}", "connect": conn}
        h.setup_publisher(srv)
        common = {
            "channels": [channel],
            "subs": [n],
            "kind": p.c_kind,
            "size": p.c_size,
            "rate": p.c_rate,
        }
        h.run_step(srv, step=900, duration=1.0, **common)  # warm-up
        base_samples = _Sampler(srv.pid)
        base = h.run_step(srv, step=1, duration=p.c_base, while_publishing=base_samples, **common)
        base["rss_mib"] = round(rss_bytes(srv.pid) / 2**20, 2)
        h.subs[0].call(
            "stall",
            host=HOST,
            port=srv.port,
            path=spec.sub_path(channel),
            channel=channel,
            mode=spec.mode,
            rcvbuf=p.c_rcvbuf,
            name="stalled",
        )
        sampler = _Sampler(srv.pid)
        stalled = h.run_step(srv, step=2, duration=p.c_stall, while_publishing=sampler, **common)
        samples = sampler.samples
        stats = _alphawire_stats(srv)
        resume = h.subs[0].call("resume", name="stalled", wait=3.0, timeout=30)
        late = [(t, v) for t, v in samples if t >= p.c_skip]
        rss_start = samples[0][1] if samples else 0
        growth = slope(late)
        # The last 40 % of the window: still climbing (unbounded) or flat again (bounded)?
        tail = samples[int(len(samples) * 0.6) :]
        tail_growth = slope(tail)
        ratio = stalled["p99_ms"] / base["p99_ms"] if base["p99_ms"] else None
        peak = max(v for _, v in samples) - rss_start if samples else 0
        end = samples[-1][1] - rss_start if samples else 0
        outcome = _stall_outcome(stats, resume, stalled, tail_growth, peak, end)
        return {
            "subscribers": n,
            "connect": conn,
            "baseline": base,
            "stalled": stalled,
            "p99_ratio": round(ratio, 3) if ratio is not None else None,
            "rss_samples": [(round(t, 2), round(v / 2**20, 2)) for t, v in samples],
            "rss_slope_kib_s": round(growth / 1024, 1),
            "rss_slope_no_stall_kib_s": round(slope(base_samples.samples) / 1024, 1),
            "rss_tail_slope_kib_s": round(tail_growth / 1024, 1),
            "server_env": env,
            "rss_peak_growth_mib": round((max(v for _, v in samples) - rss_start) / 2**20, 2)
            if samples
            else None,
            "rss_end_growth_mib": round((samples[-1][1] - rss_start) / 2**20, 2)
            if samples
            else None,
            "stalled_client": resume,
            "server_stats": stats,
            "outcome": outcome,
        }
    finally:
        h.stop(srv)


class _Sampler:
    """RSS of a process every 0.25 s, as (seconds since start, bytes)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0 = time.monotonic()
        self.next = self.t0
        self.samples: list[tuple[float, int]] = []

    def __call__(self) -> None:
        now = time.monotonic()
        if now >= self.next:
            self.samples.append((now - self.t0, rss_bytes(self.pid)))
            self.next = now + 0.25


def _stall_outcome(
    stats: dict[str, Any] | None,
    resume: dict[str, Any],
    stalled: dict[str, Any],
    tail_growth: float,
    peak: int,
    end: int,
) -> str:
    parts = []
    if stats is not None and stats.get("slow_consumers"):
        parts.append(f"stalled client closed with 4008 ({stats['slow_consumers']} slow consumer)")
    closes = resume.get("closes", {})
    if closes:
        parts.append("stalled client saw: " + ", ".join(f"{k}×{v}" for k, v in closes.items()))
    elif not resume.get("closed"):
        parts.append("stalled client still connected")
    if stalled["delivered_pct"] < 99.0:
        parts.append(f"others got only {stalled['delivered_pct']:.1f} % (fan-out blocked)")
    mib = 2**20
    if tail_growth > 16 * 1024 and end > mib:
        parts.append(f"RSS still growing at the end (~{tail_growth / 1024:.0f} KiB/s)")
    elif peak > mib and end < peak / 2:
        parts.append(f"RSS rose {peak / mib:.1f} MiB, then fell back")
    elif peak > mib:
        parts.append(f"RSS rose {peak / mib:.1f} MiB, then flat: bounded")
    return "; ".join(parts) or "no visible effect"


def scenario_d(h: Harness, spec: ServerSpec) -> dict[str, Any]:
    """Many channels: ``d_subs`` subscribers over ``d_channels`` market channels, Zipf mix."""
    p = h.p
    channels = [f"market_S{i:04d}" for i in range(p.d_channels)]
    weights = [1.0 / (i + 1) ** p.d_zipf for i in range(p.d_channels)]
    split = zipf_split(p.d_subs, weights)
    srv = h.start(spec, "D")
    try:
        conn = h.connect(srv, list(zip(channels, split, strict=True)), timeout=600)
        if conn["failed"]:
            return {"error": f"{conn['failed']} subscribers failed: {conn['errors']}"}
        h.setup_publisher(srv)
        fanout = sum(w * s for w, s in zip(weights, split, strict=True)) / sum(weights)
        common = {
            "channels": channels,
            "subs": split,
            "weights": weights,
            "kind": "market",
            "size": p.size,
        }
        h.run_step(srv, step=900, rate=2000 / fanout, duration=1.0, **common)
        steps = []
        for k, dps in enumerate(p.d_rates, start=1):
            r = clean_step(h, srv, k, rate=dps / fanout, duration=p.d_duration, **common)
            r["target_dps"] = dps
            r["passed"] = r["delivered_pct"] >= 99.9 and r["p99_ms"] < 100.0
            steps.append(r)
            if not r["passed"]:
                break  # a backlog would spill into the next step
            time.sleep(0.3)
        return {
            "subscribers": conn["connected"],
            "channels": len(channels),
            "top_channel_subs": split[0],
            "mean_fanout": round(fanout, 1),
            "steps": steps,
            "info": h.info(),
            "server_stats": _alphawire_stats(srv),
        }
    finally:
        h.stop(srv)


def _measured(
    h: Harness, srv: RunningServer, flood: Callable[[], dict[str, Any]], extra: list[WorkerHandle]
) -> tuple[dict[str, Any], float, float, dict[int, float], list[float]]:
    """Run ``flood`` (redone while foreign load disturbs it); its result, the server's CPU
    seconds, the wall time, core busy shares and the foreign load of each attempt."""
    p = h.p
    others: list[float] = []
    for attempt in range(p.retries + 1):
        cpu0 = cpu_seconds(srv.pid)
        lg0 = h.loadgen_cpu() + sum(w.call("cpu")["cpu"] for w in extra)
        me0 = time.process_time()
        cores0 = core_times()
        wall0 = time.monotonic()
        r = flood()
        busy = core_busy(cores0, core_times())
        wall = time.monotonic() - wall0
        cpu = cpu_seconds(srv.pid) - cpu0
        lg = h.loadgen_cpu() + sum(w.call("cpu")["cpu"] for w in extra) - lg0
        mine = cpu + lg + time.process_time() - me0
        others.append(round(sum(busy.values()) - mine / wall, 3))
        if others[-1] <= p.max_other or attempt == p.retries:
            break
        h.wait_quiet()
    return r, cpu, wall, busy, others


def scenario_e(h: Harness, spec: ServerSpec) -> dict[str, Any]:
    """Publish ingestion into alphawire, no subscribers: the HTTP batch endpoint, then the
    producer WebSocket with batch frames and with one message per frame."""
    p = h.p
    srv = h.start(spec, "E")
    ingest = WorkerHandle("ingest", ingest_main, h.load_cores[-1] if h.load_cores else None)
    try:
        ingest.call("cpu", timeout=60)
        h.setup_publisher(srv)
        flood = {"connections": p.e_connections, "batch": p.e_batch, "symbols": 100, "size": p.size}
        h.pub.call("flood", duration=1.0, **flood)  # warm-up

        def http() -> dict[str, Any]:
            return h.pub.call("flood", duration=p.e_duration, timeout=p.e_duration + 120, **flood)

        r, cpu, _, busy, others = _measured(h, srv, http, [ingest])
        accepted = r["accepted"]
        out: dict[str, Any] = {
            "http_batch": {
                "msgs_per_s": round(accepted / r["seconds"], 1),
                "accepted": accepted,
                "requests": r["requests"],
                "errors": r["errors"],
                "error_sample": r["error_sample"],
                "batch": p.e_batch,
                "connections": p.e_connections,
                "body_kib": round(r["body_bytes"] / 1024, 1),
                "req_p50_ms": round(r["req_p50_ms"], 2),
                "req_p99_ms": round(r["req_p99_ms"], 2),
                "server_cpu_us_per_msg": round(cpu * 1e6 / accepted, 2) if accepted else None,
                "server_core_busy": round(busy.get(h.server_core, 0.0), 3)
                if h.server_core is not None
                else None,
                "client_cpu": round(r["client_cpu"] / r["seconds"], 3),
            },
            "producer_ws": [],
            "attempts": len(others),
            "other_cpu_attempts": others,
            "disturbed": others[-1] > p.max_other,
        }
        for batch, window in p.e_ws_runs:
            args = {
                "host": HOST,
                "port": srv.port,
                "token": PUBLISH_TOKEN,
                "batch": batch,
                "window": window,
                "connections": p.e_ws_connections,
                "symbols": 100,
                "size": p.size,
            }
            ingest.call("flood_ws", duration=1.0, **args)  # warm-up

            def ws(args: dict[str, Any] = args) -> dict[str, Any]:
                return ingest.call(
                    "flood_ws", duration=p.e_duration, timeout=p.e_duration + 120, **args
                )

            r, cpu, _, busy, others = _measured(h, srv, ws, [ingest])
            accepted = r["accepted"]
            out["producer_ws"].append(
                {
                    "msgs_per_s": round(accepted / r["seconds"], 1),
                    "accepted": accepted,
                    "frames": r["frames"],
                    "acks": r["acks"],
                    "errors": r["errors"],
                    "error_sample": r["error_sample"],
                    "closed": r["closed"],
                    "batch": batch,
                    "window": window,
                    "connections": p.e_ws_connections,
                    "frame_kib": round(r["frame_bytes"] / 1024, 2),
                    "ack_p50_ms": round(r["ack_p50_ms"], 2),
                    "ack_p99_ms": round(r["ack_p99_ms"], 2),
                    "server_cpu_us_per_msg": round(cpu * 1e6 / accepted, 2) if accepted else None,
                    "server_core_busy": round(busy.get(h.server_core, 0.0), 3)
                    if h.server_core is not None
                    else None,
                    "client_cpu": round(r["client_cpu"] / r["seconds"], 3),
                    "attempts": len(others),
                    "other_cpu_attempts": others,
                    "disturbed": others[-1] > p.max_other,
                }
            )
        return out
    finally:
        ingest.stop()
        h.stop(srv)


# -- profile -----------------------------------------------------------------------------------


def profile_alphawire(h: Harness, spec: ServerSpec, dps: int, out_dir: Path) -> dict[str, Any]:
    """py-spy record alphawire during one scenario-A step at ``dps`` deliveries/s."""
    p = h.p
    pyspy = Path(sys.executable).with_name("py-spy")
    if not pyspy.exists():
        return {"error": "py-spy not installed (pip install -e '.[bench]')"}
    channel = "market_SPY"
    srv = h.start(spec, "profile")
    raw = out_dir / "alphawire-profile.txt"
    try:
        conn = h.connect(srv, [(channel, p.a_subs)])
        n = conn["connected"]
        h.setup_publisher(srv)
        common = {"channels": [channel], "subs": [n], "kind": "market", "size": p.size}
        h.run_step(srv, step=900, rate=2000 / n, duration=1.0, **common)
        rate = 100
        cmd = [
            str(pyspy),
            "record",
            "--pid",
            str(srv.pid),
            "--rate",
            str(rate),
            "--duration",
            str(int(p.profile_duration)),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(raw),
        ]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, set(h.load_cores)))
            if h.load_cores
            else None,
        )
        try:
            time.sleep(0.5)
            step = h.run_step(
                srv, step=1, rate=dps / n, duration=p.profile_duration + 1.0, **common
            )
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not raw.exists():
            return {"error": f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}"}
        summary = summarise_profile(raw.read_text(), rate * p.profile_duration)
        summary["step"] = step
        summary["target_dps"] = dps
        summary["raw_file"] = raw.name
        return summary
    finally:
        h.stop(srv)


def _short(frame: str) -> str:
    """``func (path/to/file.py:123)`` → ``func (pkg/file.py)``."""
    name, _, loc = frame.partition(" (")
    path = loc.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summarise_profile(text: str, expected_samples: float) -> dict[str, Any]:
    """Top frames by self and inclusive samples from py-spy's raw (collapsed) output."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in text.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        total += count
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for f in set(frames):
            incl[f] = incl.get(f, 0) + count

    def top(d: dict[str, int], k: int, below: float = 1.0) -> list[tuple[str, float]]:
        # ``below``: leave out the frames (nearly) every sample has: the event loop, the
        # ASGI middleware chain... they say nothing about where the time goes.
        rows = [(f, c) for f, c in d.items() if c < below * total]
        return [
            (f, round(100.0 * c / total, 1))
            for f, c in sorted(rows, key=lambda kv: kv[1], reverse=True)[:k]
        ]

    return {
        "samples": total,
        "busy_fraction": round(total / expected_samples, 3) if expected_samples else None,
        "top_self": top(own, 15),
        # Inclusive time of alphawire's own functions: where its share goes.
        "top_inclusive": top({f: c for f, c in incl.items() if "alphawire/" in f}, 20, below=0.85),
    }
