"""Analytics benchmark (issue #12): gamma exposure of an SPX-sized chain, and post scoring.

    .venv/bin/pip install -e '.[dev,bench]'   # pandas, for the per-row peer
    .venv/bin/python -m bench.analytics                   # everything, ~2 minutes
    .venv/bin/python -m bench.analytics --skip-pandas     # without the slow per-row peer
    .venv/bin/python -m bench.analytics --json out.json

1. **GEX**: ``gamma_exposure`` on a simulated chain of 20,000 contract lines over 30 expiries
   (spot 5,000, 5-point strikes, a put skew, open interest peaking at the money), zero-gamma
   included, beside two implementations of the *same method* (BSM gamma per line, GEX in
   $ per 1 % move, zero-gamma by re-pricing the chain on 81 spots from 0.8 to 1.2 × spot and
   refining the crossing nearest spot with brentq to 1e-6):
   - *numpy, one spot at a time*: the chain vectorised, the grid a Python loop over spots;
   - *pandas, per row*: ``DataFrame.apply(..., axis=1)`` of a scalar gamma for each grid spot
     and each root-finder step, the way public GEX scripts compute their gamma profiles.
   All three must agree (total to 1e-9 relative, zero-gamma to 1e-5) or the run fails.
2. **Posts**: ``sentiment`` + ``extract_tickers`` over 20,000 simulated forum posts with a
   10,000-symbol universe, posts/s, beside plain VADER (no finance lexicon, no tickers).

The process is pinned to one core and BLAS to one thread, so "one core" means one core.
Times are the best of ``--runs`` (the machine is shared; the minimum is the least disturbed).
"""

from __future__ import annotations

import os

# Before numpy loads: one BLAS thread, so the matrix-vector products stay on our one core
# (only when run as the benchmark, not when a test imports this module).
if __name__ == "__main__":
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import math
import platform
import random
import string
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import brentq

from alphawire.analytics import extract_tickers, gamma_exposure, sentiment
from alphawire.analytics.options import bs_gamma_array

SPOT = 5_000.0
GRID = 81
# Days to expiry of the 30 simulated expiries: dailies, weeklies, then monthlies to a year.
EXPIRY_DAYS = (
    1,
    2,
    3,
    4,
    5,
    8,
    9,
    10,
    11,
    12,
    15,
    22,
    29,
    36,
    43,
    50,
    57,
    64,
    71,
    85,
    99,
    113,
    141,
    169,
    197,
    225,
    253,
    281,
    309,
    365,
)
GEX_TARGET_MS = 50.0
POSTS_TARGET = 5_000.0


def make_chain(
    seed: int = 12, expiries: int = 30, lines: int = 20_000, step: float = 5.0
) -> list[dict[str, Any]]:
    """A simulated SPX-like chain: ``lines`` call and put lines over ``expiries`` expiries,
    strikes ``step`` points apart around ``SPOT``."""
    rng = np.random.default_rng(seed)
    days = EXPIRY_DAYS[:expiries]
    per_expiry = -(-lines // (2 * len(days)))  # strikes per expiry, rounded up
    chain: list[dict[str, Any]] = []
    for d in days:
        years = float(d) / 365.0
        width = max(0.06, 0.25 * math.sqrt(years))  # open interest spreads wider for later expiries
        strikes = SPOT + step * (np.arange(per_expiry) - per_expiry // 2)
        for k in strikes:
            m = math.log(k / SPOT)
            iv = max(0.05, 0.16 - 0.35 * m + 0.8 * m * m)  # put skew, a smile
            peak = math.exp(-0.5 * (m / width) ** 2)
            for kind in ("call", "put"):
                oi = float(rng.poisson(4_000 * peak + 50))
                chain.append(
                    {
                        "strike": float(k),
                        "kind": kind,
                        "open_interest": oi,
                        "iv": iv,
                        "years": years,
                    }
                )
    return chain[:lines]


def numpy_per_spot(chain: list[dict[str, Any]], spot: float) -> tuple[float, float | None]:
    """The same method with numpy per contract but a Python loop over the grid's spots."""
    strike = np.array([c["strike"] for c in chain])
    iv = np.array([c["iv"] for c in chain])
    years = np.array([c["years"] for c in chain])
    signed = np.array(
        [(1.0 if c["kind"] == "call" else -1.0) * c["open_interest"] * 100 for c in chain]
    )

    def total(s: float) -> float:
        return float((bs_gamma_array(s, strike, years, iv) * signed).sum() * s * s * 0.01)

    return total(spot), _nearest_root(total, spot)


def pandas_per_row(chain: list[dict[str, Any]], spot: float) -> tuple[float, float | None]:
    """The same method as public GEX scripts write it: ``DataFrame.apply`` of a scalar gamma."""
    import pandas as pd

    df = pd.DataFrame(chain)

    def gamma(s: float, k: float, v: float, t: float) -> float:
        d1 = (math.log(s / k) + 0.5 * v * v * t) / (v * math.sqrt(t))
        return math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) / (s * v * math.sqrt(t))

    def total(s: float) -> float:
        gex = df.apply(
            lambda r: (
                gamma(s, r["strike"], r["iv"], r["years"])
                * r["open_interest"]
                * 100
                * s
                * s
                * 0.01
                * (1 if r["kind"] == "call" else -1)
            ),
            axis=1,
        )
        return float(gex.sum())

    return total(spot), _nearest_root(total, spot)


def _nearest_root(total: Callable[[float], float], spot: float) -> float | None:
    grid = np.linspace(0.8 * spot, 1.2 * spot, GRID)
    values = [total(float(s)) for s in grid]
    best: float | None = None
    for i in range(GRID - 1):
        if values[i] != 0 and values[i + 1] != 0 and (values[i] > 0) != (values[i + 1] > 0):
            root = float(brentq(total, grid[i], grid[i + 1], xtol=1e-6))
            if best is None or abs(root - spot) < abs(best - spot):
                best = root
    return best


def _best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def bench_gex(runs: int, skip_pandas: bool) -> dict[str, Any]:
    chain = make_chain()
    ours_s, profile = _best_of(runs, lambda: gamma_exposure(chain, SPOT))
    loop_s, (loop_total, loop_zero) = _best_of(
        max(1, runs // 5), lambda: numpy_per_spot(chain, SPOT)
    )
    out: dict[str, Any] = {
        "contracts": len(chain),
        "expiries": len({c["years"] for c in chain}),
        "strikes": len(profile.by_strike),
        "total_gex_per_1pct": profile.total,
        "zero_gamma": profile.zero_gamma,
        "zero_gamma_cumulative": profile.zero_gamma_cumulative,
        "call_wall": profile.call_wall,
        "put_wall": profile.put_wall,
        "ours_ms": ours_s * 1e3,
        "numpy_per_spot_ms": loop_s * 1e3,
    }
    _agree("numpy per spot", profile.total, profile.zero_gamma, loop_total, loop_zero)
    if not skip_pandas:
        pandas_s, (pd_total, pd_zero) = _best_of(1, lambda: pandas_per_row(chain, SPOT))
        _agree("pandas per row", profile.total, profile.zero_gamma, pd_total, pd_zero)
        out["pandas_per_row_ms"] = pandas_s * 1e3
    return out


def _agree(
    name: str, total: float, zero: float | None, other_total: float, other_zero: float | None
) -> None:
    if not math.isclose(total, other_total, rel_tol=1e-9):
        raise SystemExit(f"{name}: total {other_total} differs from gamma_exposure's {total}")
    if (zero is None) != (other_zero is None) or (
        zero is not None and other_zero is not None and abs(zero - other_zero) > 1e-5
    ):
        raise SystemExit(f"{name}: zero-gamma {other_zero} differs from gamma_exposure's {zero}")


_TEMPLATES = (
    "{t} to the moon 🚀🚀 tendies incoming",
    "Loaded up on ${t} calls, this is the way. YOLO",
    "I think {t} is overvalued, buying puts on ${u} tomorrow",
    "DD: {t} has 40% short interest and the CEO keeps buying. Not financial advice",
    "Bagholder here, ${t} down 60% and I am still holding lol",
    "Made $500 today on {t} and {u}, bearish on everything else",
    "What do you all think about ${t} earnings? IV is crazy",
    "{t} {u} both look bullish on the daily, ATH soon?",
)


def make_posts(count: int, universe: list[str], seed: int = 7) -> list[str]:
    """Simulated forum posts: templates with two tickers from the universe, some chat words."""
    rng = random.Random(seed)
    return [
        rng.choice(_TEMPLATES).format(t=rng.choice(universe), u=rng.choice(universe))
        for _ in range(count)
    ]


def make_universe(size: int = 10_000, seed: int = 3) -> frozenset[str]:
    rng = random.Random(seed)
    known = {"GME", "AMC", "TSLA", "AAPL", "NVDA", "SPY", "PLTR", "BB", "A", "IT", "ALL", "DD"}
    while len(known) < size:
        known.add("".join(rng.choices(string.ascii_uppercase, k=rng.randint(2, 4))))
    return frozenset(known)


def bench_posts(runs: int, count: int = 20_000) -> dict[str, Any]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    universe = make_universe()
    posts = make_posts(count, sorted(universe))
    sentiment("warm the cache")

    def ours() -> int:
        mentions = 0
        for text in posts:
            sentiment(text)
            mentions += len(extract_tickers(text, universe))
        return mentions

    plain = SentimentIntensityAnalyzer()

    def vader_only() -> None:
        for text in posts:
            plain.polarity_scores(text)

    def tickers_only() -> None:
        for text in posts:
            extract_tickers(text, universe)

    ours_s, mentions = _best_of(runs, ours)
    vader_s, _ = _best_of(runs, vader_only)
    tickers_s, _ = _best_of(runs, tickers_only)
    return {
        "posts": count,
        "universe": len(universe),
        "mentions_found": mentions,
        "ours_posts_per_s": count / ours_s,
        "vader_only_posts_per_s": count / vader_s,
        "extract_tickers_only_posts_per_s": count / tickers_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=15, help="repetitions; the best is reported")
    parser.add_argument("--skip-pandas", action="store_true", help="leave out the per-row peer")
    parser.add_argument("--core", type=int, default=1, help="the one CPU core to run on")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    gex = bench_gex(args.runs, args.skip_pandas)
    posts = bench_posts(max(1, args.runs // 5))
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}",
        "core": args.core,
        "simulated": True,
        "gex": gex,
        "posts": posts,
    }
    print(_report(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def _report(r: dict[str, Any]) -> str:
    g, p = r["gex"], r["posts"]
    pandas_ms = g.get("pandas_per_row_ms")
    lines = [
        f"machine: {r['machine']}; pinned to core {r['core']}; data simulated",
        "",
        f"gamma_exposure, {g['contracts']:,} contracts, {g['expiries']} expiries, {g['strikes']} strikes, zero-gamma on {GRID} spots + brentq:",
        "| implementation | time | vs target 50 ms |",
        "|---|---:|---:|",
        f"| alphawire `gamma_exposure` | {g['ours_ms']:.1f} ms | {'met' if g['ours_ms'] <= GEX_TARGET_MS else 'MISSED'} |",
        f"| numpy per contract, Python loop over spots | {g['numpy_per_spot_ms']:.1f} ms | |",
    ]
    if pandas_ms is not None:
        lines.append(f"| pandas `apply` per row | {pandas_ms / 1e3:.1f} s | |")
    lines += [
        f"results: total {g['total_gex_per_1pct']:,.0f} $/1%, zero-gamma {g['zero_gamma']}, "
        f"cumulative {g['zero_gamma_cumulative']}, call wall {g['call_wall']}, put wall {g['put_wall']}",
        "",
        f"posts ({p['posts']:,} simulated, universe {p['universe']:,} symbols):",
        "| work per post | posts/s |",
        "|---|---:|",
        f"| `sentiment` + `extract_tickers` | {p['ours_posts_per_s']:,.0f} ({'met' if p['ours_posts_per_s'] >= POSTS_TARGET else 'MISSED'} ≥ 5,000) |",
        f"| plain VADER `polarity_scores` | {p['vader_only_posts_per_s']:,.0f} |",
        f"| `extract_tickers` alone | {p['extract_tickers_only_posts_per_s']:,.0f} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
