"""Stock prints: lit exchanges and off-exchange (FINRA TRF) venues, odd lots, round lots, blocks.

Venues are ISO 10383 MICs. About 45 % of prints (and of volume) are reported to a FINRA
trade reporting facility (``FINN`` Nasdaq/Carteret, ``FINY`` NYSE, ``FINC`` Nasdaq/Chicago),
the off-exchange share US equities have had for years; those print at the midpoint or inside
the spread with sub-penny price improvement. Lit prints hit the bid or lift the ask. Sizes:
lognormal with median 150 shares, rounded to 100-share lots 60 % of the time; 0.3 % of prints
are blocks of 10,000-50,000 shares (off-exchange four times out of five).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from alphawire.sources.records import Trade
from alphawire.sources.sim.draws import cumulative
from alphawire.sources.sim.market import SymbolBook

LIT_VENUES = ("XNAS", "XNYS", "ARCX", "BATS", "EDGX", "IEXG", "MEMX")
TRF_VENUES = ("FINN", "FINY", "FINC")
_LIT_PICK = cumulative((0.30, 0.18, 0.13, 0.13, 0.12, 0.05, 0.09))
_TRF_PICK = cumulative((0.66, 0.27, 0.07))
OFF_EXCHANGE_SHARE = 0.45
BLOCK_PROBABILITY = 0.003
BLOCK_MIN_SHARES = 10_000


def print_size(book: SymbolBook) -> tuple[int, bool]:
    """A print's size in shares and whether it is a block."""
    d = book.draws
    if d.uniform() < BLOCK_PROBABILITY:
        return 100 * int(d.between(100, 501)), True
    size = max(1, int(150 * math.exp(d.normal())))
    if d.uniform() < 0.6:
        size = max(100, round(size, -2))
    return size, False


def make_print(
    book: SymbolBook, source: str, ts: datetime, size: int, block: bool, buy_bias: float
) -> Trade:
    """One print at ``ts``: off-exchange at or inside the spread, lit at the bid or the ask."""
    d = book.draws
    bid, ask = book.bid, book.ask
    off = d.uniform() < (0.8 if block else OFF_EXCHANGE_SHARE)
    if off:
        venue = TRF_VENUES[d.pick(_TRF_PICK)]
        mid = (bid + ask) / 2
        if d.uniform() < 0.3:
            price = round(mid, 4)
        else:
            improvement = d.between(0.0001, 0.004)
            price = round(ask - improvement if d.uniform() < buy_bias else bid + improvement, 4)
    else:
        venue = LIT_VENUES[d.pick(_LIT_PICK)]
        price = ask if d.uniform() < buy_bias else bid
    book.record_print(price, size, off)
    return Trade(
        source=source,
        symbol=book.symbol,
        ts=ts,
        price=price,
        size=float(size),
        venue=venue,
        off_exchange=off,
        bid=bid,
        ask=ask,
        simulated=True,
    )


def prints_for_step(
    book: SymbolBook, source: str, end: datetime, dt: float, count: int, moved: float
) -> list[Trade]:
    """``count`` prints spread over the ``dt`` seconds ending at ``end``, in time order.

    ``moved`` is the step's log return: buyers dominate a rising step, sellers a falling one.
    """
    d = book.draws
    buy_bias = 0.5 + max(-0.3, min(0.3, moved * 2000))
    offsets = sorted(d.uniform() for _ in range(count))
    out: list[Trade] = []
    for off in offsets:
        ts = end - timedelta(microseconds=int((1 - off) * dt * 1e6))
        size, block = print_size(book)
        out.append(make_print(book, source, ts, size, block, buy_bias))
    return out
