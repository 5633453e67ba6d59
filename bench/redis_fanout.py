"""Fan-out across processes: the memory broker in one process vs Redis behind one port.

    .venv/bin/python -m bench.redis_fanout              # default run, under ~3 minutes
    .venv/bin/python -m bench.redis_fanout --quick      # about a minute
    .venv/bin/python -m bench.redis_fanout --configs memory,redis-2 --subs 500 --rates 20000

Each configuration is one ``alphawire serve`` on one port: ``memory`` (the in-memory broker,
one process) and ``redis-N`` (``--workers N --broker redis://...``: N processes sharing the
port, the kernel spreading connections over them, Redis carrying every message to each).
``--subs`` subscribers on ``market_SPY`` (default 1,000) and a publisher posting batches to
``POST /api/v1/publish`` at a fixed rate per step, so that the hub must deliver ``--rates``
messages per second in total. Every message carries its scheduled send time
(``CLOCK_MONOTONIC`` ns, the same clock in every process of this machine): latency is
measured at the client, from that schedule to arrival (publisher delays count too).

The load generator (bench/loadgen.py: raw-socket subscribers and the HTTP publisher, reused
as they are) runs on the load cores; the hub processes and redis-server run on the server
cores (``--server-cores``, default the first core). On a 2-core machine that makes the
Redis rows a measure of what Redis and more processes *cost* on one core, not of scaling:
give the server more cores (``--server-cores 0-3``) to see the processes spread.

Writes ``bench/results/redis-fanout-<stamp>.json`` and ``.md``; prints the Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

from bench.loadgen import WorkerHandle, publisher_main, subscriber_main  # noqa: E402
from bench.procfs import (  # noqa: E402
    core_busy,
    core_times,
    cpu_seconds,
    machine_info,
    raise_nofile,
    source_state,
)
from bench.servers import HOST, PUBLISH_TOKEN, SERVERS, free_port  # noqa: E402

CHANNEL = "market_SPY"
PATH = "/api/v1/ws/market/SPY"
CONFIGS = ("memory", "redis-1", "redis-2", "redis-4")


@dataclass
class Params:
    configs: list[str] = field(default_factory=lambda: list(CONFIGS))
    subs: int = 1000
    rates: list[int] = field(default_factory=lambda: [20_000, 60_000, 100_000, 140_000, 180_000])
    duration: float = 3.0
    size: int = 300
    drain: float = 4.0
    server_cores: list[int] | None = None
    load_cores: list[int] | None = None
    redis_url: str | None = None
    quiet_wait: float = 90.0  # seconds to wait for other load on the machine to pass
    max_other: float = 0.15  # cores of foreign load on the server cores: the step is redone
    retries: int = 2
    out: Path = ROOT / "bench" / "results"
    mode: str = "default"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _cores(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def _preexec(cores: list[int] | None) -> Callable[[], None]:
    def setup() -> None:
        os.setsid()  # its own process group: stopped as a group, by its id
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # die with the runner
        raise_nofile()
        if cores:
            os.sched_setaffinity(0, set(cores))

    return setup


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
    return out


def _pct(ordered: list[int], q: float) -> float:
    if not ordered:
        return float("nan")
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 3)


# -- processes on the server cores -------------------------------------------------------------


class Proc:
    """A server-side process (its own group), logging to a file; stop() ends only it."""

    def __init__(self, argv: list[str], env: dict[str, str], cores: list[int] | None, log: Path):
        self.log_path = log
        self.data_dir: str | None = None
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(ROOT),
            preexec_fn=_preexec(cores),
        )
        self.pid = self.proc.pid

    def tree(self) -> list[int]:
        return [self.pid, *_children(self.pid)]

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.tree())

    def tail(self, n: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # and any worker left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._log.close()


def start_redis(cores: list[int] | None, log_dir: Path) -> tuple[Proc, str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = Proc(
        [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        dict(os.environ),
        cores,
        log_dir / "redis-server.log",
    )
    url = f"redis://{HOST}:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {proc.tail()}")
        with contextlib.suppress(OSError), _redis_cmd(port, b"PING") as reply:
            if reply.startswith(b"+PONG"):
                return proc, url
        time.sleep(0.05)
    proc.stop()
    raise RuntimeError("redis-server did not answer")


@contextlib.contextmanager
def _redis_cmd(port: int, command: bytes) -> Any:
    import socket

    with socket.create_connection((HOST, port), timeout=2) as sock:
        sock.sendall(command + b"\r\n")
        yield sock.recv(1024)


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def start_hub(config: str, redis_url: str | None, p: Params, log_dir: Path) -> tuple[Proc, int]:
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="alphawire-fanout-")
    argv = SERVERS["alphawire"].argv(port, data_dir)  # the fan-out benchmark's command
    if config != "memory":
        assert redis_url is not None
        argv += ["--broker", redis_url, "--workers", config.split("-", 1)[1]]
    env = {
        **os.environ,
        "ALPHAWIRE_PUBLISH_TOKEN": PUBLISH_TOKEN,
        # Every subscriber comes from 127.0.0.1: lift the per-address cap (default 1,000).
        "ALPHAWIRE_MAX_CONNECTIONS_PER_IP": "1000000",
        "ALPHAWIRE_MAX_CONNECTIONS": "1000000",
        "PYTHONUNBUFFERED": "1",
    }
    proc = Proc(argv, env, p.server_cores, log_dir / f"hub-{config}.log")
    proc.data_dir = data_dir
    deadline = time.monotonic() + 60
    while True:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{config}: hub exited: {proc.tail()}")
        health = f"http://{HOST}:{port}/api/v1/health"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as r:
            if r.status == 200:
                break
        if time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"{config}: hub not healthy in 60 s: {proc.tail()}")
        time.sleep(0.1)
    time.sleep(1.0)  # the other workers finish starting (they answer health at random)
    return proc, port


def connections_per_worker(hub: Proc, port: int) -> list[int]:
    """Established connections on ``port`` held by each process of the hub (from /proc)."""
    established: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "01" and int(parts[1].split(":")[1], 16) == port:
            established.add(parts[9])
    counts = []
    for pid in hub.tree():
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
        n = len(inodes & established)
        if n:
            counts.append(n)
    return sorted(counts, reverse=True)


# -- the load generator ------------------------------------------------------------------------


class Load:
    """Subscriber processes (one per load core) and one publisher, from bench/loadgen.py."""

    def __init__(self, p: Params) -> None:
        cores = sorted(os.sched_getaffinity(0))
        self.server_cores = p.server_cores or cores[:1]
        self.load_cores = p.load_cores or [c for c in cores if c not in self.server_cores] or cores
        p.server_cores, p.load_cores = self.server_cores, self.load_cores
        os.sched_setaffinity(0, set(self.load_cores))
        self.subs = [
            WorkerHandle(f"sub{i}", subscriber_main, core) for i, core in enumerate(self.load_cores)
        ]
        self.pub = WorkerHandle("pub", publisher_main, self.load_cores[-1])
        for w in self.workers:
            w.call("cpu", timeout=60)

    @property
    def workers(self) -> list[WorkerHandle]:
        return [*self.subs, self.pub]

    def close(self) -> None:
        for w in self.workers:
            w.stop()

    def connect(self, port: int, count: int) -> dict[str, Any]:
        """Open ``count`` subscribers, retrying refusals (1013 while a worker starts)."""
        done, errors, tries = 0, {}, 0
        while done < count and tries < 5:
            tries += 1
            want = count - done
            share = [
                want // len(self.subs) + (i < want % len(self.subs)) for i in range(len(self.subs))
            ]
            for w, n in zip(self.subs, share, strict=True):
                w.send(
                    "connect",
                    host=HOST,
                    port=port,
                    groups=[(PATH, CHANNEL, n)] if n else [],
                    mode="plain",
                    snapshot_check=True,
                    timeout=60.0,
                )
            for w in self.subs:
                r = w.recv(180)
                done += r["connected"]
                for k, v in r["errors"].items():
                    errors[k] = errors.get(k, 0) + v
            if done < count:
                time.sleep(0.5)
        return {"connected": done, "attempts": tries, "errors": errors}

    def cpu(self) -> float:
        return sum(w.call("cpu")["cpu"] for w in self.workers)

    def wait_quiet(self, limit: float, threshold: float = 0.15) -> dict[str, Any]:
        """Wait (up to ``limit`` s) until no core is more than ``threshold`` busy: nothing of
        ours runs now, so what is busy is someone else's load, which would skew the numbers."""
        start = time.monotonic()
        while True:
            before = core_times()
            time.sleep(1.0)
            busy = core_busy(before, core_times())
            waited = time.monotonic() - start
            if max(busy.values(), default=0.0) <= threshold or waited >= limit:
                return {
                    "waited_s": round(waited, 1),
                    "busy": {str(k): round(v, 3) for k, v in busy.items()},
                    "quiet": max(busy.values(), default=0.0) <= threshold,
                }

    def step(
        self, hub: Proc, redis: Proc | None, n_subs: int, step: int, rate: float, p: Params
    ) -> dict[str, Any]:
        """Publish ``rate`` msgs/s for ``p.duration`` s; wait for the deliveries; measure."""
        hub0, redis0, lg0 = hub.cpu(), redis.cpu() if redis else 0.0, self.cpu()
        cores0, wall0 = core_times(), time.monotonic()
        self.pub.send(
            "run",
            rate=rate,
            duration=p.duration,
            step=step,
            channels=[CHANNEL],
            kind="market",
            size=p.size,
        )
        pub = self.pub.recv(p.duration + 120)
        expected = pub["published"] * n_subs
        deadline = time.monotonic() + p.drain
        last, last_change = -1, time.monotonic()
        while True:
            got = sum(w.call("counts", steps=[step])["counts"][step] for w in self.subs)
            now = time.monotonic()
            if got >= expected or now > deadline:
                break
            if got != last:
                last, last_change = got, now
            elif now - last_change > 0.5:
                break
            time.sleep(0.05)
        wall = time.monotonic() - wall0
        hub_cpu = hub.cpu() - hub0
        redis_cpu = (redis.cpu() - redis0) if redis else 0.0
        loadgen = (self.cpu() - lg0) / wall / len(self.load_cores)
        busy = core_busy(cores0, core_times())
        lat: array[int] = array("q")
        delivered, last_recv = 0, pub["t0"]
        for w in self.subs:
            for s in w.call("collect", steps=[step])["steps"].values():
                delivered += s["count"]
                last_recv = max(last_recv, s["last"])
                lat.frombytes(s["lat"])
        ordered = sorted(lat)
        span = max(p.duration, (last_recv - pub["t0"]) / 1e9)
        server_busy = sum(busy.get(c, 0.0) for c in self.server_cores)
        return {
            "rate_msgs": round(rate, 2),
            "published": pub["published"],
            "publish_errors": pub["errors"],
            "publish_error_sample": pub["error_sample"],
            "expected": expected,
            "delivered": delivered,
            "delivered_pct": round(100.0 * delivered / expected, 3) if expected else 0.0,
            "achieved_dps": round(delivered / span, 1),
            "p50_ms": _pct(ordered, 0.50),
            "p99_ms": _pct(ordered, 0.99),
            "max_ms": round(ordered[-1] / 1e6, 3) if ordered else float("nan"),
            "hub_cpu_cores": round(hub_cpu / wall, 3),
            "redis_cpu_cores": round(redis_cpu / wall, 3),
            "hub_us_per_delivery": round(hub_cpu * 1e6 / delivered, 2) if delivered else None,
            "server_cores_busy": round(server_busy, 3),
            # Busy time on the server cores that neither the hub nor Redis used: someone
            # else's processes (or kernel work not charged to ours). It skews the step.
            "other_cores": round(server_busy - (hub_cpu + redis_cpu) / wall, 3),
            "loadgen_cpu": round(loadgen, 3),
            "loadgen_saturated": loadgen >= 0.9,
        }


# -- one configuration -------------------------------------------------------------------------


def run_config(config: str, load: Load, p: Params, log_dir: Path) -> dict[str, Any]:
    redis: Proc | None = None
    url = p.redis_url
    if config != "memory" and url is None:
        redis, url = start_redis(p.server_cores, log_dir)
    if config != "memory" and redis is None and url is not None:
        flush_redis(url)  # a dedicated DB: the key prefix is fixed
    hub: Proc | None = None
    try:
        hub, port = start_hub(config, url, p, log_dir)
        conn = load.connect(port, p.subs)
        n = conn["connected"]
        if n == 0:
            return {"error": f"no subscriber connected: {conn['errors']}", "connect": conn}
        spread = connections_per_worker(hub, port)
        load.pub.call("setup", target="alphawire", host=HOST, port=port, token=PUBLISH_TOKEN)
        load.step(hub, redis, n, 900, max(1.0, 2000 / n), Params(duration=1.0, drain=2.0))
        steps = []
        for k, dps in enumerate(p.rates, start=1):
            for attempt in range(p.retries + 1):
                r = load.step(hub, redis, n, k * 10 + attempt, dps / n, p)
                r["attempt"] = attempt + 1
                if r["other_cores"] <= p.max_other:
                    break
                log(f"{config}: {dps}: {r['other_cores']} cores of foreign load; again")
                load.wait_quiet(p.quiet_wait)
            r["disturbed"] = r["other_cores"] > p.max_other
            r["target_dps"] = dps
            r["passed"] = r["delivered_pct"] >= 99.9 and r["p99_ms"] < 100.0
            steps.append(r)
            log(
                f"{config}: {dps:>7} target -> {r['achieved_dps']:>9.0f} dps, "
                f"{r['delivered_pct']}% delivered, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
            )
            if r["delivered_pct"] < 95.0:
                break  # overloaded: heavier steps only take longer
            time.sleep(0.3)
        return {
            "processes": 1 if config == "memory" else int(config.split("-")[1]),
            "subscribers": n,
            "connect": conn,
            "connections_per_process": spread,
            "steps": steps,
        }
    finally:
        with contextlib.suppress(Exception):
            for w in load.subs:
                w.call("close_all", timeout=30)
            load.pub.call("teardown", timeout=10)
        if hub is not None:
            hub.stop()
            if hub.data_dir is not None:
                shutil.rmtree(hub.data_dir, ignore_errors=True)
        if redis is not None:
            redis.stop()


# -- the report --------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    p = results["params"]
    lines = [
        f"Fan-out, {p['subs']} subscribers on one `{CHANNEL}` channel, {p['size']}-byte "
        f"messages, {p['duration']:g} s per step; hub processes and redis-server on core(s) "
        f"{p['server_cores']}, load generator on {p['load_cores']} "
        f"({results['machine']['cpu_model']}, {results['machine']['cores']} cores).",
        "",
        "Headline: the highest step with >= 99.9 % delivered and p99 < 100 ms.",
        "",
        "| config | processes | headline deliveries/s | p50 / p99 ms at 20k/s "
        "| hub CPU µs per delivery at 20k/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for config, res in results["configs"].items():
        if "error" in res:
            lines.append(f"| {config} | | error: {res['error'][:80]} | | |")
            continue
        passed = [r["achieved_dps"] for r in res["steps"] if r["passed"]]
        low = next((r for r in res["steps"] if r["target_dps"] == 20_000), res["steps"][0])
        lines.append(
            f"| {config} | {res['processes']} | {max(passed, default=0):,.0f} | "
            f"{low['p50_ms']:.1f} / {low['p99_ms']:.1f} | {low['hub_us_per_delivery']} |"
        )
    lines += [
        "",
        "| config | target/s | achieved/s | delivered | p50 ms | p99 ms | max ms "
        "| hub CPU (cores) | Redis CPU (cores) | other load (cores) | load gen CPU | pass |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for config, res in results["configs"].items():
        for r in res.get("steps", []):
            lines.append(
                f"| {config} | {r['target_dps']:,} | {r['achieved_dps']:,.0f} | "
                f"{r['delivered_pct']:.2f}% | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['max_ms']:.1f} | {r['hub_cpu_cores']:.2f} | {r['redis_cpu_cores']:.2f} | "
                f"{r['other_cores']:.2f}{' †' if r['disturbed'] else ''} | {r['loadgen_cpu']:.0%}"
                f"{' (saturated)' if r['loadgen_saturated'] else ''} | "
                f"{'✓' if r['passed'] else '✗'} |"
            )
    spreads = {
        c: r.get("connections_per_process") for c, r in results["configs"].items() if "steps" in r
    }
    lines += [
        "",
        f"Subscribers per hub process: {spreads}. † other load above {p['max_other']} cores "
        f"after {p['retries'] + 1} tries: the step is skewed by someone else's processes.",
    ]
    return "\n".join(lines) + "\n"


def build_params(argv: list[str] | None) -> Params:
    ap = argparse.ArgumentParser(prog="python -m bench.redis_fanout", description=__doc__)
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.add_argument("--configs", help=f"comma-separated, of {', '.join(CONFIGS)} (any redis-N)")
    ap.add_argument("--subs", type=int, help="subscribers (default 1000)")
    ap.add_argument("--rates", help="deliveries/s per step, e.g. 10000,30000")
    ap.add_argument("--duration", type=float, help="seconds per step (default 3)")
    ap.add_argument("--size", type=int, help="message size in bytes as delivered (default 300)")
    ap.add_argument("--server-cores", help="e.g. 0 or 0-1 (default: the first core)")
    ap.add_argument("--load-cores", help="default: the other cores")
    ap.add_argument(
        "--redis-url",
        help="use this Redis instead of starting redis-server; its DB is FLUSHED before "
        "each configuration, so give a dedicated one",
    )
    ap.add_argument(
        "--quiet-wait", type=float, help="max seconds to wait for foreign load (default 90)"
    )
    ap.add_argument("--quick", action="store_true", help="fewer, shorter steps (~1 minute)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    p = Params()
    if args.quick:
        p.mode = "quick"
        p.rates, p.duration, p.drain = [20_000, 80_000], 2.0, 3.0
    if args.configs:
        p.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
        bad = [c for c in p.configs if c != "memory" and not c.startswith("redis-")]
        if bad:
            ap.error(f"unknown configs {bad}")
    if args.subs:
        p.subs = args.subs
    if args.rates:
        p.rates = [int(float(x)) for x in args.rates.split(",") if x.strip()]
    if args.duration:
        p.duration = args.duration
    if args.size:
        p.size = args.size
    if args.server_cores:
        p.server_cores = _cores(args.server_cores)
    if args.load_cores:
        p.load_cores = _cores(args.load_cores)
    if args.quiet_wait is not None:
        p.quiet_wait = args.quiet_wait
    p.redis_url = args.redis_url
    p.out = args.out
    return p


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: every process is stopped


def main(argv: list[str] | None = None) -> int:
    p = build_params(argv)
    out_dir = p.out
    signal.signal(signal.SIGTERM, _terminate)
    raise_nofile()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="redis-fanout-logs-"))
    started = time.monotonic()
    load = Load(p)
    results: dict[str, Any] = {
        "run_id": stamp,
        "benchmark": "redis_fanout",
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_state(str(ROOT)),
        "configs": {},
    }
    try:
        for config in p.configs:
            quiet = load.wait_quiet(p.quiet_wait)
            log(f"{config}: starting (machine: {quiet})")
            try:
                results["configs"][config] = run_config(config, load, p, log_dir)
                results["configs"][config]["machine_before"] = quiet
            except Exception as exc:
                log(f"{config}: failed: {exc}")
                results["configs"][config] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        load.close()
    results["params"] = {k: v for k, v in asdict(p).items()}
    results["duration_s"] = round(time.monotonic() - started, 1)
    json_path = out_dir / f"redis-fanout-{stamp}.json"
    md_path = out_dir / f"redis-fanout-{stamp}.md"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    table = markdown(results)
    md_path.write_text(table)
    if any("error" in r for r in results["configs"].values()):
        log(f"server logs kept in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    print(table)
    log(f"wrote {json_path} and {md_path} ({results['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
