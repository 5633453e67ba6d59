"""Dashboard benchmark: the browser under a market-data flood (Playwright + Debian's chromium).

    .venv/bin/python -m bench.dashboard [--rate 1000] [--symbols 100] [--alerts 2]
                                        [--duration 60] [--warmup 10] [--demo] [--json out.json]

A hub runs in its own process (``alphawire serve``, or ``alphawire demo`` with ``--demo``: the
simulated market and all nine agents publishing too, so every widget is busy); the dashboard is opened in headless
chromium with a watchlist of ``--symbols`` symbols; a producer socket publishes ``--rate``
ticks per second spread evenly over the symbols (batches of 10 every 10 ms) and ``--alerts``
alerts per second, for ``--duration`` seconds after ``--warmup`` seconds. Measured in the page:

- **long tasks**: main-thread tasks over 50 ms (``PerformanceObserver``, ``longtask``), their
  count and the longest (target: none);
- **heap growth**: JS heap in use (CDP ``Runtime.getHeapUsage`` after
  ``HeapProfiler.collectGarbage``) at the end minus at the start of the measured window
  (target: ≤ 20 MB);
- **publish → visible**: for each tick, the time from just before the producer sent it to
  the moment its price is in the tile's DOM (a ``MutationObserver`` stamps each change with
  ``performance.timeOrigin + performance.now()``, the same wall clock as ``time.time()``);
  alerts likewise, keyed by their content (target: p99 ≤ 100 ms). Prices are unique per
  symbol, so each DOM change names exactly one published tick. A tick replaced by a newer
  one of the same symbol before the next frame is never drawn (the page renders the newest
  state once per animation frame): those are counted as superseded, not as latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "bench-dashboard-token"

# Injected before the measured window: stamps DOM changes of tile prices and new alerts.
PROBE = """
() => {
  const probe = (window.__probe = { ticks: [], alerts: [], longtasks: [] });
  const now = () => performance.timeOrigin + performance.now();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: false });
  // Long animation frames say where a long frame's time went (scripts, style and layout).
  probe.frames = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration < 50) continue;
      const scripts = e.scripts.map((s) => [s.invoker, Math.round(s.duration), s.sourceFunctionName]);
      probe.frames.push({ duration: Math.round(e.duration), blocking: Math.round(e.blockingDuration), render: Math.round(e.startTime + e.duration - e.renderStart), style: Math.round(e.startTime + e.duration - e.styleAndLayoutStart), scripts });
    }
  }).observe({ type: "long-animation-frame", buffered: false });
  new MutationObserver((records) => {
    const t = now();
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (node && node.dataset && node.dataset.field === "price") {
        const tile = node.closest(".tile");
        if (tile) probe.ticks.push([tile.dataset.symbol, node.textContent, t]);
      }
    }
  }).observe(document.querySelector("#w-market .tiles"), { subtree: true, childList: true, characterData: true });
  new MutationObserver((records) => {
    const t = now();
    for (const r of records)
      for (const n of r.addedNodes)
        if (n.classList && n.classList.contains("alert")) {
          const c = n.querySelector("[data-field=content]");
          if (c) probe.alerts.push([c.textContent, t]);
        }
  }).observe(document.querySelector("#w-alerts .alerts"), { childList: true });
}
"""


DRAIN = """
() => {
  const p = window.__probe;
  const out = { ticks: p.ticks, alerts: p.alerts, longtasks: p.longtasks, frames: p.frames };
  p.ticks = []; p.alerts = []; p.longtasks = []; p.frames = [];
  return out;
}
"""


def schedstat(pid: int | None) -> tuple[int, int] | None:
    """(ns on a CPU, ns runnable but waiting for a CPU) of a process's main thread, from
    /proc (Linux): the wait is the machine's doing (other processes), not the page's."""
    if pid is None:
        return None
    try:
        run, wait, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return None
    return int(run), int(wait)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def start_hub(port: int, data_dir: str, demo: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": TOKEN}
    command = "demo" if demo else "serve"
    cmd = [sys.executable, "-m", "alphawire", command, "--port", str(port)]
    cmd += ["--data-dir", data_dir, "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("hub did not start")


class Publisher:
    """Ticks and alerts over one producer socket, pipelined, acks read in the background."""

    def __init__(self, ws: Any, symbols: list[str]) -> None:
        self.ws = ws
        self.symbols = symbols
        self.count = dict.fromkeys(symbols, 0)
        self.sent_ticks: dict[tuple[str, str], float] = {}
        self.sent_alerts: dict[str, float] = {}
        self.errors = 0
        self.acks = 0

    async def read_acks(self) -> None:
        async for raw in self.ws:
            reply = json.loads(raw)
            if reply.get("type") == "error":
                self.errors += 1
            else:
                self.acks += 1

    def tick(self, symbol: str) -> dict[str, Any]:
        self.count[symbol] += 1
        n = self.count[symbol]
        price = 100 + n * 0.01  # unique per symbol for the run: the DOM names the tick
        text = f"{price:,.2f}"
        return {
            "type": "market_data",
            "symbol": symbol,
            "data": {
                "price": round(price, 2),
                "change": round(n * 0.01, 2),
                "change_pct": n / 100,
                "volume": n * 100,
            },
        }, (symbol, text)

    async def run(self, rate: int, alerts_per_s: float, seconds: float, record: bool) -> None:
        batch = 10
        interval = batch / rate
        next_alert = 0.0
        start = time.perf_counter()
        i = 0
        a = 0
        while True:
            due = start + i * interval
            now = time.perf_counter()
            if now - start >= seconds:
                return
            if due > now:
                await asyncio.sleep(due - now)
            messages = []
            keys = []
            for k in range(batch):
                symbol = self.symbols[(i * batch + k) % len(self.symbols)]
                message, key = self.tick(symbol)
                messages.append(message)
                keys.append(key)
            elapsed = time.perf_counter() - start
            if alerts_per_s > 0 and elapsed >= next_alert:
                a += 1
                content = f"bench alert {a} {'r' if record else 'w'}"
                messages.append(
                    {
                        "type": "alert",
                        "alert_type": "bench",
                        "source": "bench",
                        "symbol": self.symbols[a % len(self.symbols)],
                        "content": content,
                        "severity": "medium",
                    }
                )
                if record:
                    self.sent_alerts[content] = time.time()
                next_alert += 1 / alerts_per_s
            sent = time.time()
            await self.ws.send(json.dumps({"messages": messages}))
            if record:
                for key in keys:
                    self.sent_ticks[key] = sent
            i += 1


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    executable = os.environ.get("ALPHAWIRE_CHROMIUM") or shutil.which("chromium")
    if not executable:
        raise SystemExit("chromium not found: make browser")
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="aw-bench-dash-")
    hub = start_hub(port, data_dir, demo=args.demo)
    symbols = [f"B{n:03d}" for n in range(args.symbols)]
    # With --demo the focus is a simulated symbol, so the widgets that follow the focus
    # (gamma, dark pool, options, narrative) draw the agents' output during the flood.
    focus = "NVDA" if args.demo else symbols[0]
    url = f"http://127.0.0.1:{port}/?symbol={focus}&watchlist={','.join(symbols)}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            page = await browser.new_page(viewport={"width": 1920, "height": 1200})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(url)
            await page.wait_for_function(
                "() => window.alphawire && window.alphawire.hub.status.state === 'live'"
            )
            if args.market_frame_ms is not None:
                await page.evaluate(
                    "ms => { window.alphawire.widgets.get('market').constructor.frameMs = ms; }",
                    args.market_frame_ms,
                )
            cdp = await page.context.new_cdp_session(page)
            system = await browser.new_browser_cdp_session()

            async def renderer_pid() -> int | None:
                info = await system.send("SystemInfo.getProcessInfo")
                renderers = [p for p in info["processInfo"] if p["type"] == "renderer"]
                return max(renderers, key=lambda p: p["cpuTime"])["id"] if renderers else None

            async def cpu_seconds() -> dict[str, float]:
                """CPU seconds used so far by the browser's processes, by type."""
                info = await system.send("SystemInfo.getProcessInfo")
                used: dict[str, float] = {}
                for proc in info["processInfo"]:
                    used[proc["type"]] = used.get(proc["type"], 0.0) + proc["cpuTime"]
                return used

            collected: dict[str, list[Any]] = {
                "ticks": [],
                "alerts": [],
                "longtasks": [],
                "frames": [],
            }

            async def drain() -> None:
                # The probe's arrays are emptied into Python every 2 s, so they never count
                # in the page's heap.
                got = await page.evaluate(DRAIN)
                for key, rows in got.items():
                    collected[key].extend(rows)

            await page.evaluate(PROBE)
            # Control: the same page, live, with nothing published (what the machine alone does).
            cpu0 = await cpu_seconds()
            await asyncio.sleep(args.control)
            cpu1 = await cpu_seconds()
            await drain()
            control = {
                "longtasks": len(collected["longtasks"]),
                "renderer_cpu_pct": round(
                    100 * (cpu1.get("renderer", 0) - cpu0.get("renderer", 0)) / args.control, 1
                ),
            }
            for rows in collected.values():
                rows.clear()
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/api/v1/ws/publish",
                additional_headers={"Authorization": f"Bearer {TOKEN}"},
                max_size=None,
            ) as ws:
                pub = Publisher(ws, symbols)
                reader = asyncio.create_task(pub.read_acks())
                await pub.run(args.rate, args.alerts, args.warmup, record=False)
                await drain()
                for rows in collected.values():
                    rows.clear()
                await cdp.send("HeapProfiler.collectGarbage")
                heap_start = (await cdp.send("Runtime.getHeapUsage"))["usedSize"]
                pid = await renderer_pid()
                sched0 = schedstat(pid)
                cpu0 = await cpu_seconds()
                t0 = time.time()
                publishing = asyncio.create_task(
                    pub.run(args.rate, args.alerts, args.duration, record=True)
                )
                while not publishing.done():
                    await asyncio.wait({publishing}, timeout=2.0)
                    await drain()
                await publishing
                await asyncio.sleep(1.0)  # the last frames reach the DOM
                await drain()
                measured = time.time() - t0
                cpu1 = await cpu_seconds()
                sched1 = schedstat(pid)
                await cdp.send("HeapProfiler.collectGarbage")
                heap_end = (await cdp.send("Runtime.getHeapUsage"))["usedSize"]
                status = await page.evaluate("window.alphawire.hub.status")
                reader.cancel()
            await browser.close()
    finally:
        hub.terminate()
        hub.wait(15)
        shutil.rmtree(data_dir, ignore_errors=True)

    probe = collected
    main_thread = (
        {
            "ran_s": round((sched1[0] - sched0[0]) / 1e9, 2),
            "waited_for_cpu_s": round((sched1[1] - sched0[1]) / 1e9, 2),
        }
        if sched0 and sched1
        else None
    )
    cpu = {k: round(100 * (cpu1.get(k, 0) - cpu0.get(k, 0)) / measured, 1) for k in cpu1}
    latencies = []
    for symbol, text, seen in probe["ticks"]:
        sent = pub.sent_ticks.get((symbol, text))
        if sent is not None:
            latencies.append(seen - sent * 1000)
    alert_latencies = [
        seen - pub.sent_alerts[c] * 1000 for c, seen in probe["alerts"] if c in pub.sent_alerts
    ]
    longest = max((d for _, d in probe["longtasks"]), default=0.0)
    return {
        "demo": args.demo,
        "rate": args.rate,
        "market_frame_ms": args.market_frame_ms,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "symbols": args.symbols,
        "alerts_per_s": args.alerts,
        "duration_s": round(measured, 1),
        "ticks_published": len(pub.sent_ticks),
        "ticks_drawn": len(latencies),
        "ticks_superseded": len(pub.sent_ticks) - len(latencies),
        "tick_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "tick_p99_ms": round(percentile(latencies, 99), 1),
        "tick_max_ms": round(max(latencies), 1) if latencies else None,
        "alerts_published": len(pub.sent_alerts),
        "alerts_shown": len(alert_latencies),
        "alert_p50_ms": round(statistics.median(alert_latencies), 1) if alert_latencies else None,
        "alert_p99_ms": round(percentile(alert_latencies, 99), 1),
        "alert_max_ms": round(max(alert_latencies), 1) if alert_latencies else None,
        "longtasks_over_50ms": len(probe["longtasks"]),
        "longest_task_ms": round(longest, 1),
        "heap_start_mb": round(heap_start / 1e6, 2),
        "heap_end_mb": round(heap_end / 1e6, 2),
        "heap_growth_mb": round((heap_end - heap_start) / 1e6, 2),
        "page": {k: status[k] for k in ("received", "skipped", "lost", "duplicates", "reconnects")},
        "publish_errors": pub.errors,
        "cpu_pct_of_one_core": cpu,
        "control": control,
        "renderer_main_thread": main_thread,
        "console_errors": errors,
        "long_frames": len(probe["frames"]),
        "long_frames_scripts_over_50ms": sum(
            1 for f in probe["frames"] if sum(x[1] for x in f["scripts"]) >= 50
        ),
        "long_frame_samples": probe["frames"][:20],
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        (
            "long tasks > 50 ms (target 0)",
            f"{r['longtasks_over_50ms']} (longest {r['longest_task_ms']} ms)",
        ),
        (
            "JS heap growth (target ≤ 20 MB)",
            f"{r['heap_growth_mb']} MB ({r['heap_start_mb']} → {r['heap_end_mb']} MB)",
        ),
        (
            "tick publish → DOM p50 / p99 / max (target p99 ≤ 100 ms)",
            f"{r['tick_p50_ms']} / {r['tick_p99_ms']} / {r['tick_max_ms']} ms",
        ),
        (
            "ticks published / drawn / superseded before a frame",
            f"{r['ticks_published']:,} / {r['ticks_drawn']:,} / {r['ticks_superseded']:,}",
        ),
        (
            "alert publish → DOM p50 / p99 / max",
            f"{r['alert_p50_ms']} / {r['alert_p99_ms']} / {r['alert_max_ms']} ms ({r['alerts_shown']} of {r['alerts_published']})",
        ),
        (
            "CPU, % of one core: renderer / browser / GPU process (compositing)",
            " / ".join(
                str(r["cpu_pct_of_one_core"].get(k)) for k in ("renderer", "browser", "GPU")
            ),
        ),
        (
            "control (page live, nothing published): long tasks / renderer CPU",
            f"{r['control']['longtasks']} / {r['control']['renderer_cpu_pct']} %",
        ),
        (
            "long animation frames ≥ 50 ms / of them, with ≥ 50 ms of the page's own script",
            f"{r['long_frames']} / {r['long_frames_scripts_over_50ms']}",
        ),
        (
            "renderer main thread: on a CPU / runnable but waiting for one",
            (
                f"{r['renderer_main_thread']['ran_s']} s / {r['renderer_main_thread']['waited_for_cpu_s']} s"
                if r["renderer_main_thread"]
                else "n/a"
            ),
        ),
        ("machine load average (1 min) at the end", f"{r['loadavg_1m']} on {os.cpu_count()} cores"),
        (
            "page: received / conflated by the hub / lost / reconnects",
            f"{r['page']['received']:,} / {r['page']['skipped']} / {r['page']['lost']} / {r['page']['reconnects']}",
        ),
    ]
    out = ["| measure | result |", "|---|---|"]
    out += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="ticks per second")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--alerts", type=float, default=2.0, help="alerts per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument(
        "--control", type=float, default=10.0, help="idle seconds measured before publishing"
    )
    parser.add_argument(
        "--market-frame-ms",
        type=float,
        help="override Market Overview's render interval (ms; 0 = every animation frame)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run the hub as `alphawire demo`: the simulated market and all nine agents "
        "publish as well, so every widget updates during the flood",
    )
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    result = asyncio.run(bench(args))
    print(table(result))
    if result["console_errors"] or result["publish_errors"]:
        print(
            "console errors:",
            result["console_errors"][:5],
            "publish errors:",
            result["publish_errors"],
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
