"""AlertManager benchmark: alerts accepted per second and the caller's latency.

    .venv/bin/python -m bench.alerts [--alerts 5000] [--delivery both] [--json out.json]

The caller's latency is what a monitor pays per ``send_discord``: validation, routing and a
durable SQLite commit. Discord is made slow (a server that accepts connections and never
answers), down (a closed port), or busy: a responsive fake Discord (``tests/fake_discord.py``
in its own process, rate limit lifted) that the dispatcher thread delivers to as fast as it
can while the caller publishes, which is when the two threads contend most; and the same
with the routes coalescing bursts (``coalesce``), which sends a tenth of the requests.
Each synchronous row runs with the dispatchers in a delivery process (``start_in_process``,
what ``send_discord`` starts) and on a thread of the caller's process (``start_in_thread``).

Columns, per call: p50 / p99 / p99.9 / max of the wall time; the p99.9 and max once each
call's run-queue wait (``/proc/thread-self/schedstat``: runnable, but the CPUs busy with other
processes) is taken out, i.e. what the calls cost on an idle machine; ``blocked max``, the
longest time a call spent neither running nor waiting for a CPU: waits on the GIL, a lock or
the disk, which this code can cause, apart from the machine being busy, which it cannot;
``full GCs``, the generation-2 collections during the row (each pauses every thread for
the whole heap). Each row starts after a ``gc.collect()``, as a monitor that has been running
a while would. The ``noise floor`` row times 100 µs of pure Python in the same loop, without
alerts: its tail is what the machine alone adds.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alphawire.alerting.manager import AlertManager
from alphawire.alerting.routes import Route, RouteTable

ROOT = Path(__file__).resolve().parents[1]


def _black_hole() -> tuple[socket.socket, int]:
    """A listening socket that accepts and never answers: Discord hanging."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1024)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def _fake_discord(webhooks: int) -> Iterator[list[str]]:
    """A responsive fake Discord in another process, rate limit lifted: its webhook URLs."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.fake_discord", "--webhooks", str(webhooks)),
            *("--rate-limit", "1000000000", "--rate-period", "1"),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        yield [proc.stdout.readline().strip() for _ in range(webhooks)]
    finally:
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Clock:
    """Per call: wall time, and the part spent off-CPU but not waiting for a CPU."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:  # not Linux: "blocked" is not measured
            self._fd = None
        self.wall: list[float] = []
        self.own: list[float] = []
        self.blocked: list[float] = []

    def _run_delay(self) -> float:
        if self._fd is None:
            return 0.0
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def time(self, call: Callable[[], object]) -> None:
        queued = self._run_delay()
        cpu = time.thread_time()
        start = time.perf_counter()
        call()
        wall = time.perf_counter() - start
        cpu = time.thread_time() - cpu
        queued = self._run_delay() - queued
        self.wall.append(wall)
        self.own.append(max(cpu, wall - queued))
        self.blocked.append(max(0.0, wall - cpu - queued) if self._fd is not None else 0.0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


class _FullCollections:
    """Counts generation-2 collections (any thread) while in the ``with`` block."""

    def __init__(self) -> None:
        self.count = 0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            self.count += 1

    def __enter__(self) -> _FullCollections:
        gc.collect()
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6, 1)


def _summary(clock: _Clock, elapsed: float, full_gcs: int) -> dict[str, Any]:
    wall = clock.wall
    return {
        "alerts": len(wall),
        "accepted_per_second": round(len(wall) / elapsed),
        "p50_us": _quantile(wall, 0.50),
        "p99_us": _quantile(wall, 0.99),
        "p999_us": _quantile(wall, 0.999),
        "max_us": round(max(wall) * 1e6, 1),
        "mean_us": round(statistics.fmean(wall) * 1e6, 1),
        # The same calls without their run-queue waits: what they cost on an idle machine.
        "own_p999_us": _quantile(clock.own, 0.999) if clock.own else None,
        "own_max_us": round(max(clock.own) * 1e6, 1) if clock.own else None,
        "blocked_max_us": round(max(clock.blocked) * 1e6, 1),
        "full_gcs": full_gcs,
    }


def run_noise_floor(n: int) -> dict[str, Any]:
    clock = _Clock()

    def work() -> None:
        total = 0
        for i in range(2500):  # about 100 µs of pure Python
            total += i

    with _FullCollections() as full:
        start = time.perf_counter()
        for _ in range(n):
            clock.time(work)
        elapsed = time.perf_counter() - start
    clock.close()
    row = {"api": "noise floor (no alerts)", "discord": "-", "routes": 0}
    return {**row, **_summary(clock, elapsed, full.count), "accepted_per_second": 0}


def run_sync(
    discord: str, urls: list[str], n: int, routes: int, coalesce: float = 0.0, mode: str = "process"
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"coalesce": coalesce} if coalesce else {}
        table = RouteTable(
            tuple(Route(f"r{i}", urls[i % len(urls)], cooldown=0, **extra) for i in range(routes))
        )
        manager = AlertManager(Path(tmp) / "alerts.sqlite3", routes=table)
        if mode == "process":
            manager.start_in_process()
            _wait_delivering(manager)
        else:
            manager.start_in_thread()
        clock = _Clock()
        embed = {"title": "Dark pool", "fields": [{"name": "size", "value": "2M"}]}
        with _FullCollections() as full:
            start = time.perf_counter()
            for i in range(n):
                clock.time(
                    functools.partial(
                        manager.send_discord,
                        f"dark pool print #{i}: 2,000,000 SPY @ 598.10",
                        embed,
                        alert_type="dark_pool",
                        source="bench",
                        symbol="SPY",
                        severity="high",
                    )
                )
            elapsed = time.perf_counter() - start
        clock.close()
        sent = sum(c.sent for c in manager.counters.values())
        requests = manager.stats()["discord_client"]["sent"]
        busy = (manager.outbox.busy_waits, round(manager.outbox.busy_wait_max * 1e6, 1))
        manager.close()
    return {
        "api": f"send_discord (sync, {mode})",
        "discord": discord + (f", coalesce {coalesce:g} s" if coalesce else ""),
        "routes": routes,
        **_summary(clock, elapsed, full.count),
        "delivered_meanwhile": sent,
        "discord_requests": requests,
        "write_lock_waits": busy[0],
        "write_lock_wait_max_us": busy[1],
    }


def _wait_delivering(manager: AlertManager) -> None:
    """Until the delivery process runs (its imports would share the CPUs with the first calls)."""
    for _ in range(400):
        if manager.stats()["discord_client"]["invalid_pause_threshold"]:  # written by the child
            time.sleep(0.2)
            return
        time.sleep(0.025)
    raise SystemExit("the delivery process did not start")


async def _run_async(url: str, n: int, routes: int) -> tuple[_Clock, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        table = RouteTable(tuple(Route(f"r{i}", url, cooldown=0) for i in range(routes)))
        manager = AlertManager(Path(tmp) / "alerts.sqlite3", routes=table)
        await manager.start()
        wall: list[float] = []
        with _FullCollections() as full:
            start = time.perf_counter()
            for i in range(n):
                t = time.perf_counter()
                await manager.asend_discord(
                    f"gamma flip #{i}", alert_type="gamma", source="bench", symbol="SPY"
                )
                wall.append(time.perf_counter() - t)
            elapsed = time.perf_counter() - start
        await manager.stop()
        manager.outbox.close()
    clock = _Clock()
    clock.close()
    clock.wall, clock.own, clock.blocked = wall, [], [0.0]
    return clock, elapsed, full.count


def run_async(discord: str, url: str, n: int, routes: int) -> dict[str, Any]:
    clock, elapsed, full_gcs = asyncio.run(_run_async(url, n, routes))
    row = {"api": "asend_discord (async)", "discord": discord, "routes": routes}
    return {**row, **_summary(clock, elapsed, full_gcs), "blocked_max_us": None}


def _delivered(row: dict[str, Any]) -> str:
    if "delivered_meanwhile" not in row:
        return "-"
    return (
        f"{row['delivered_meanwhile']} in {row['discord_requests']} requests; "
        f"{row['write_lock_waits']} waits for the write lock (max {row['write_lock_wait_max_us']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--delivery",
        choices=("process", "thread", "both"),
        default="both",
        help="where the dispatchers of the synchronous rows run",
    )
    args = parser.parse_args()
    n = args.alerts
    modes = ("process", "thread") if args.delivery == "both" else (args.delivery,)
    # One "will retry" line per attempt while Discord is down is noise here.
    logging.getLogger("alphawire.alerting.discord").setLevel(logging.ERROR)
    hole, hole_port = _black_hole()
    slow = f"http://127.0.0.1:{hole_port}/api/webhooks/1/token"
    down = f"http://127.0.0.1:{_closed_port()}/api/webhooks/2/token"
    rows = [run_noise_floor(n)]
    for mode in modes:
        rows += [
            run_sync("slow (never answers)", [slow], n, 1, mode=mode),
            run_sync("down (connection refused)", [down], n, 1, mode=mode),
            run_sync("down (connection refused)", [down], n, 3, mode=mode),
        ]
    with _fake_discord(3) as webhooks:
        for mode in modes:
            rows.append(run_sync("busy (answers at once)", webhooks[:1], n, 1, mode=mode))
            rows.append(run_sync("busy (answers at once)", webhooks, n, 3, mode=mode))
            rows.append(run_sync("busy (answers at once)", webhooks, n, 3, 0.25, mode))
    rows.append(run_async("slow (never answers)", slow, n, 1))
    hole.close()
    print(
        "| API | Discord | routes | alerts | accepted/s | p50 µs | p99 µs | p99.9 µs | max µs "
        "| p99.9 / max µs without run-queue waits | blocked max µs | full GCs "
        "| delivered meanwhile |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    dash = lambda v: "-" if v is None else v  # noqa: E731
    for r in rows:
        print(
            f"| {r['api']} | {r['discord']} | {r['routes']} | {r['alerts']} "
            f"| {r['accepted_per_second']:,} | {r['p50_us']} | {r['p99_us']} | {r['p999_us']} "
            f"| {r['max_us']} | {dash(r['own_p999_us'])} / {dash(r['own_max_us'])} "
            f"| {dash(r['blocked_max_us'])} | {r['full_gcs']} "
            f"| {_delivered(r)} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
