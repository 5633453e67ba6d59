"""Option prints: the day's flow at the bid, ask and mid, blocks, and multi-exchange sweeps.

Each print picks an expiry (index ETFs trade the 0DTE most), a strike near the money and a
side: 38 % at the bid, 42 % at the ask, 20 % at the mid. Sizes are lognormal (median 3
contracts); 0.4 % of prints are blocks of 500-3,000 contracts, and 1 % of events are sweeps:
3-5 prints of one contract on distinct exchanges within 40 ms, at the ask, condition ``ISO``.
Exchanges are the option markets' MICs.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from alphawire.sources.records import OptionTrade
from alphawire.sources.sim.draws import Draws
from alphawire.sources.sim.options import OptionBook, quote_around

OPTION_EXCHANGES = (
    "XCBO", "C2OX", "XISX", "GMNI", "XPHO", "AMXO", "ARCO",
    "BATO", "EDGO", "XBOX", "XMIO", "EMLD", "MPRL", "XNDQ",
)  # fmt: skip
SWEEP_PROBABILITY = 0.01
BLOCK_PROBABILITY = 0.004


def option_print(
    book: OptionBook,
    source: str,
    ts: datetime,
    spot: float,
    i: int,
    size: float,
    side: str,
    exchange: str,
    condition: str | None = None,
) -> OptionTrade:
    """One print of contract ``i`` at ``side`` ("bid", "ask" or "mid") of its quote."""
    theo = book.theo(ts, spot, i)[0]
    bid, ask = quote_around(theo)
    price = {"bid": bid, "ask": ask}.get(side, round((bid + ask) / 2, 2))
    book.volume[i] += size
    return OptionTrade(
        source=source,
        symbol=book.symbol,
        ts=ts,
        occ=book.occ[i],
        expiry=book.expiry[i],
        strike=book.strike[i],
        option_kind=book.kind[i],
        price=max(0.01, price),
        size=size,
        bid=bid,
        ask=ask,
        exchange=exchange,
        spot=round(spot, 2),
        condition=condition,
        simulated=True,
    )


def sweep(
    book: OptionBook, source: str, ts: datetime, spot: float, i: int, total: int, d: Draws
) -> list[OptionTrade]:
    """A multi-exchange sweep of ``total`` contracts at the ask within 40 ms, ISO-flagged."""
    legs = 3 + d.index(3)
    venues = list(OPTION_EXCHANGES)
    out: list[OptionTrade] = []
    left = total
    for leg in range(legs):
        exchange = venues.pop(d.index(len(venues)))
        size = float(left if leg == legs - 1 else max(1, int(total / legs * d.between(0.6, 1.4))))
        left -= int(size)
        when = ts + timedelta(milliseconds=leg * 10 + d.index(10))
        out.append(
            option_print(book, source, when, spot, i, max(1.0, size), "ask", exchange, "ISO")
        )
        if left <= 0:
            break
    return out


def flow_for_step(
    book: OptionBook, source: str, end: datetime, dt: float, count: int, spot: float
) -> list[OptionTrade]:
    """``count`` option events over the ``dt`` seconds ending at ``end``."""
    d = book.draws
    out: list[OptionTrade] = []
    n_exp = len(book.expiry_list)
    n_strikes = len(book.strike_list)
    # Strikes are evenly spaced: the nearest to spot is arithmetic, not a search.
    strikes = book.strike_list
    step = strikes[1] - strikes[0] if n_strikes > 1 else 1.0
    atm = min(n_strikes - 1, max(0, round((spot - strikes[0]) / step)))
    for _ in range(count):
        ts = end - timedelta(microseconds=int(d.uniform() * dt * 1e6))
        e = 0 if (book.profile.etf and d.uniform() < 0.45) else d.index(n_exp)
        k = min(n_strikes - 1, max(0, atm + round(3 * d.normal())))
        # Contracts are listed expiry by expiry, strike by strike, call then put.
        i = (e * n_strikes + k) * 2 + (0 if d.uniform() < 0.52 else 1)
        roll = d.uniform()
        if roll < SWEEP_PROBABILITY:
            # The legs take up to 50 ms: start early enough to finish within the step.
            start = min(ts, end - timedelta(milliseconds=50))
            out.extend(sweep(book, source, start, spot, i, 50 + d.index(400), d))
            continue
        if roll < SWEEP_PROBABILITY + BLOCK_PROBABILITY:
            size = float(500 + d.index(2501))
        else:
            size = float(max(1, int(3 * math.exp(1.1 * d.normal()))))
        u = d.uniform()
        side = "bid" if u < 0.38 else ("ask" if u < 0.80 else "mid")
        exchange = OPTION_EXCHANGES[d.index(len(OPTION_EXCHANGES))]
        out.append(option_print(book, source, ts, spot, i, size, side, exchange))
    out.sort(key=lambda t: t.ts)
    return out
