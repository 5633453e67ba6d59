"""What the real data sources cost: CPU per round of each vendor source, fetch and parse.

``python -m bench.sources [--contracts 5000] [--symbols 9] [--rounds 5]``

Each vendor's payload is generated in its documented format (a CBOE delayed-quotes chain of
``--contracts`` contracts per symbol, a FINRA CNMS file of 11,000 rows, a FRED series of 400
days, an ApeWisdom page of 100 tickers), served by a local HTTP server in a child process
(so its CPU is not counted), and polled through the real source (``PollingSource.poll``:
httpx, status mapping, parsing, records). The number reported is the polling process's CPU
time per round (``time.thread_time`` of the event-loop thread, median of ``--rounds``), and
what that is as a share of one core at the source's default interval with the default
watchlist of 9 symbols.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from alphawire.calendar import default_calendar
from alphawire.clock import VirtualClock
from alphawire.sources.apewisdom import ApeWisdomOptions, ApeWisdomSource
from alphawire.sources.cboe import CboeOptions, CboeSource
from alphawire.sources.finra import ShortVolumeOptions, ShortVolumeSource
from alphawire.sources.fred import FredOptions, FredSource
from alphawire.sources.http import HttpFetcher
from alphawire.sources.polling import PollingSource

WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA", "AMD", "GME", "AMC")
NOW = datetime(2025, 12, 1, 23, 30, tzinfo=UTC)


def cboe_chain(symbol: str, contracts: int, rng: random.Random) -> bytes:
    """A delayed-quotes body with ``contracts`` contracts over 20 expiries."""
    spot = 100 + rng.random() * 500
    rows = []
    per_expiry = max(2, contracts // 20)
    for e in range(20):
        expiry = date(2025, 12, 1) + timedelta(days=7 * e)
        for k in range(per_expiry // 2):
            strike = round(spot * (0.7 + 0.6 * k / max(1, per_expiry // 2)), 0)
            for cp in "CP":
                rows.append(
                    {
                        "option": f"{symbol}{expiry:%y%m%d}{cp}{int(strike * 1000):08d}",
                        "bid": round(rng.random() * 20, 2),
                        "bid_size": rng.randrange(1, 500),
                        "ask": round(rng.random() * 20 + 0.05, 2),
                        "ask_size": rng.randrange(1, 500),
                        "iv": round(0.1 + rng.random() * 0.5, 4),
                        "open_interest": float(rng.randrange(0, 50000)),
                        "volume": float(rng.randrange(0, 20000)),
                        "delta": round(rng.uniform(-1, 1), 4),
                        "gamma": round(rng.random() * 0.05, 4),
                        "theta": -round(rng.random(), 4),
                        "vega": round(rng.random(), 4),
                        "rho": round(rng.random() * 0.1, 4),
                        "theo": 1.0,
                        "change": 0.0,
                        "open": 1.0,
                        "high": 1.2,
                        "low": 0.9,
                        "tick": "no_change",
                        "last_trade_price": 1.1,
                        "last_trade_time": "2025-12-01T15:44:58",
                        "percent_change": 0.0,
                        "prev_day_close": 1.0,
                    }
                )
    doc = {
        "timestamp": "2025-12-01 15:45:02",
        "data": {"symbol": symbol, "current_price": spot, "options": rows},
    }
    return json.dumps(doc).encode()


def finra_file(rows: int, rng: random.Random) -> bytes:
    lines = ["Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"]
    symbols = list(WATCHLIST) + [f"Z{i:05d}" for i in range(rows - len(WATCHLIST))]
    for s in symbols:
        total = rng.random() * 1e7
        lines.append(f"20251201|{s}|{total * 0.45:.3f}|{rng.random() * 1e3:.1f}|{total:.3f}|B,Q,N")
    lines.append(str(len(symbols)))
    return ("\n".join(lines) + "\n").encode()


def fred_csv(days: int, rng: random.Random) -> bytes:
    lines = ["observation_date,DGS10"]
    for d in range(days):
        day = date(2024, 10, 1) + timedelta(days=d)
        lines.append(f"{day},{'.' if d % 7 == 5 else f'{3.5 + rng.random():.2f}'}")
    return ("\n".join(lines) + "\n").encode()


def ape_page(rng: random.Random) -> bytes:
    results = [
        {
            "rank": i + 1,
            "ticker": f"T{i}",
            "name": f"Name {i}",
            "mentions": str(rng.randrange(1, 900)),
            "upvotes": str(rng.randrange(1, 9000)),
            "rank_24h_ago": str(i + 2),
            "mentions_24h_ago": str(rng.randrange(1, 900)),
        }
        for i in range(100)
    ]
    return json.dumps({"count": 100, "pages": 1, "currentPage": 1, "results": results}).encode()


def serve(bodies: dict[str, bytes], ready: Any, port_box: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path.split("?", 1)[0], b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_box.value = server.server_address[1]
    ready.set()
    server.serve_forever()


class _Ctx:
    watchlist = WATCHLIST

    def __init__(self) -> None:
        self.clock = VirtualClock(NOW)
        self.calendar = default_calendar()

    async def emit(self, records: Any) -> None:
        pass


async def measure(make: Callable[[], PollingSource], rounds: int) -> tuple[float, int]:
    """Median thread CPU seconds of one ``poll`` and the records it returned."""
    ctx = _Ctx()
    samples = []
    count = 0
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(rounds):
            source = make()  # a fresh source: nothing remembered from the last round
            source._http = HttpFetcher(client, source=source.name)
            start = time.thread_time()
            records = await source.poll(ctx)  # type: ignore[arg-type]
            samples.append(time.thread_time() - start)
            count = len(records)
    return statistics.median(samples), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=5000, help="CBOE contracts per symbol")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(1)
    bodies = {
        f"/api/global/delayed_quotes/options/{s}.json": cboe_chain(s, args.contracts, rng)
        for s in WATCHLIST
    }
    bodies["/equity/regsho/daily/CNMSshvol20251201.txt"] = finra_file(11000, rng)
    bodies["/graph/fredgraph.csv"] = fred_csv(400, rng)
    bodies["/api/v1.0/filter/all-stocks/page/1"] = ape_page(rng)
    ready = multiprocessing.Event()
    port = multiprocessing.Value("i", 0)
    child = multiprocessing.Process(target=serve, args=(bodies, ready, port), daemon=True)
    child.start()
    ready.wait(10)
    url = f"http://127.0.0.1:{port.value}"
    cases: list[tuple[str, Callable[[], PollingSource], float, str]] = [
        (
            "cboe",
            lambda: CboeSource(CboeOptions(base_url=url + "/api/global/delayed_quotes")),
            60.0,
            f"9 chains x {args.contracts} contracts ({sum(len(b) for k, b in bodies.items() if 'delayed' in k) / 1e6:.1f} MB JSON)",
        ),
        (
            "finra_short_volume",
            lambda: ShortVolumeSource(
                # A day's poll; the first poll's backfill (20 earlier files) is a one-off.
                ShortVolumeOptions(base_url=url + "/equity/regsho/daily", backfill_days=0)
            ),
            86400.0,
            "one 11,000-row file",
        ),
        (
            "fred",
            lambda: FredSource(FredOptions(base_url=url, series=["DGS10"] * 7)),
            3600.0,
            "7 series x 400 days",
        ),
        (
            "apewisdom",
            lambda: ApeWisdomSource(ApeWisdomOptions(base_url=url)),
            600.0,
            "1 page of 100 tickers",
        ),
    ]
    print(
        "| source | one round | CPU per round (median) | records | share of one core at the default interval |"
    )
    print("|---|---|---|---|---|")
    for name, make, interval, what in cases:
        cpu, records = asyncio.run(measure(make, args.rounds))
        print(
            f"| `{name}` | {what} | {cpu * 1000:.1f} ms | {records} | {100 * cpu / interval:.4f} % (every {interval:g} s) |"
        )
    child.terminate()


if __name__ == "__main__":
    main()
