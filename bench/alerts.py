"""AlertManager benchmark: alerts accepted per second and the caller's latency.

    .venv/bin/python -m bench.alerts [--alerts 5000] [--json out.json]

The caller's latency is what a monitor pays per ``send_discord``: validation, routing and a
durable SQLite commit. Discord is made slow (a server that accepts connections and never
answers) or down (a closed port), to show that neither reaches the caller.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from alphawire.alerting.manager import AlertManager
from alphawire.alerting.routes import Route, RouteTable


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


def _summary(samples: list[float], elapsed: float) -> dict[str, Any]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6  # noqa: E731
    return {
        "alerts": len(samples),
        "accepted_per_second": round(len(samples) / elapsed),
        "p50_us": round(pick(0.50), 1),
        "p99_us": round(pick(0.99), 1),
        "max_us": round(max(ordered) * 1e6, 1),
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
    }


def run_sync(discord: str, url: str, n: int, routes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        table = RouteTable(tuple(Route(f"r{i}", url, cooldown=0) for i in range(routes)))
        manager = AlertManager(Path(tmp) / "alerts.sqlite3", routes=table)
        manager.start_in_thread()
        samples: list[float] = []
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            manager.send_discord(
                f"dark pool print #{i}: 2,000,000 SPY @ 598.10",
                {"title": "Dark pool", "fields": [{"name": "size", "value": "2M"}]},
                alert_type="dark_pool",
                source="bench",
                symbol="SPY",
                severity="high",
            )
            samples.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        manager.close()
    return {
        "api": "send_discord (sync)",
        "discord": discord,
        "routes": routes,
        **_summary(samples, elapsed),
    }


async def _run_async(url: str, n: int, routes: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        table = RouteTable(tuple(Route(f"r{i}", url, cooldown=0) for i in range(routes)))
        manager = AlertManager(Path(tmp) / "alerts.sqlite3", routes=table)
        await manager.start()
        samples: list[float] = []
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            await manager.asend_discord(
                f"gamma flip #{i}", alert_type="gamma", source="bench", symbol="SPY"
            )
            samples.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        await manager.stop()
        manager.outbox.close()
    return samples, elapsed


def run_async(discord: str, url: str, n: int, routes: int) -> dict[str, Any]:
    samples, elapsed = asyncio.run(_run_async(url, n, routes))
    return {
        "api": "asend_discord (async)",
        "discord": discord,
        "routes": routes,
        **_summary(samples, elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    hole, hole_port = _black_hole()
    slow = f"http://127.0.0.1:{hole_port}/api/webhooks/1/token"
    down = f"http://127.0.0.1:{_closed_port()}/api/webhooks/2/token"
    rows = [
        run_sync("slow (never answers)", slow, args.alerts, 1),
        run_sync("down (connection refused)", down, args.alerts, 1),
        run_sync("down, 3 routes", down, args.alerts, 3),
        run_async("slow (never answers)", slow, args.alerts, 1),
    ]
    hole.close()
    print("| API | Discord | routes | alerts | accepted/s | p50 µs | p99 µs | max µs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['api']} | {r['discord']} | {r['routes']} | {r['alerts']} | {r['accepted_per_second']:,} "
            f"| {r['p50_us']} | {r['p99_us']} | {r['max_us']} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
