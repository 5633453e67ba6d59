"""Scripted events that make every agent fire within the first simulated minute.

Times are simulated seconds after the simulation's first instant (``base``: the clock's time
when the run starts inside a session, else the next open; at ``--speed 1`` simulated seconds
are wall seconds, so everything below happens within 50 s of ``make demo``). What each emits:

=====  ====================  ===================================================================
t (s)  scenario              records
=====  ====================  ===================================================================
0      (context)             per symbol: a Quote, an OptionChain, a ShortInterest, a
                             Mentions; ShortVolume of the previous 21 sessions (the market
                             calendar's, oldest first, one file's rows after another: each
                             around the symbol's usual short ratio ± 3 points, GME's newest
                             exactly 62 %); 20 sessions of daily macro history (every
                             tenor DGS3MO, DGS6MO, DGS1, DGS2, DGS5, DGS10, DGS30; T10Y2Y
                             positive), 36 months of CPI (YoY inflation rising) and 12 of
                             UNRATE
5-20   sentiment_spike       Mentions GME 2,400 (180 a day earlier, rank 1) at 5 s; 30 bullish
                             r/wallstreetbets posts naming $GME every 0.5 s from 5 to 19.5 s;
                             Mentions GME 3,100 at 20 s
10-40  darkpool_accumulation NVDA: 12 off-exchange block prints (FINN/FINY alternating),
                             25,000-60,000 shares each, every 2.5 s from 10 to 37.5 s, priced
                             at or above the mid; NVDA drifts up 0.4 % over 10-40 s
15-32  unusual_options       AMD: six ISO sweeps of one call (nearest expiry at least two days
                             out, first strike at or above 105 % of spot, open interest 1,200)
                             at 15, 17.5, ... 27.5 s, 4 exchanges and 400-800 contracts each, at
                             the ask; blocks of 1,500 at the mid (21 s) and 2,000 at the ask
                             (26 s); AMD drifts up 1.5 % over 15-35 s; an AMD chain at 32 s
0-50   squeeze_setup         GME: at 0 s short interest 24 % of float, days to cover ≈ 16,
                             borrow 42 %, utilization 96 %, previous day's short ratio 62 %; at
                             25 s a ShortInterest with borrow 85 % and utilization 99 %; from 20
                             to 50 s GME rises 9 % with four times its usual print rate
0-50   gamma_flip            SPY: the chain's put open interest is scaled so that dealer gamma
                             (calls +, puts −, ``OptionBook.gamma_exposure``) is zero at 99.75 %
                             of the opening spot (the flip); chains at 20 s (spot above the flip,
                             gamma positive) and 50 s (spot below it, gamma negative); SPY falls
                             from its 25 s price to 99.6 % of the flip between 25 and 45 s
30     curve_inversion       macro observations for the session: DGS10 4.21, DGS2 4.30, T10Y2Y
                             -0.09 (the first negative), VIXCLS 21.4, FEDFUNDS 4.33; the rest
                             of the curve, without noise: DGS3MO 4.31, DGS6MO 4.34, DGS1
                             4.30, DGS5 4.22, DGS30 4.41 (humped at 6 months, 3m10y -0.10)
=====  ====================  ===================================================================

Scenarios play once, in the first simulated session (the next one when fewer than 60 s of the
first remain). Symbols not on the watchlist skip their scenario.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from alphawire.sources.records import Record, Trade
from alphawire.sources.sim import social
from alphawire.sources.sim.optflow import OPTION_EXCHANGES, option_print

if TYPE_CHECKING:
    from alphawire.sources.sim.engine import MarketSimulation

Action = Callable[["MarketSimulation", datetime], list[Record]]
SCENARIOS = (
    "sentiment_spike",
    "darkpool_accumulation",
    "unusual_options",
    "squeeze_setup",
    "gamma_flip",
    "curve_inversion",
)
FLIP_FRACTION = 0.9975  # the flip sits this far below the opening spot


def schedule(sim: MarketSimulation, base: datetime) -> list[tuple[datetime, Action]]:
    """Every scenario event at its time (grid-aligned half seconds after ``base``)."""
    at: list[tuple[float, Action]] = []
    books = sim.books
    if "GME" in books:
        at.append((5.0, _mentions(2400)))
        at.extend((5.0 + 0.5 * n, _bull_post) for n in range(30))
        at.append((20.0, _mentions(3100)))
        at.append((20.0, _push("GME", 30.0, math.log(1.09), 4.0)))
        at.append((25.0, _borrow_squeeze))
    if "NVDA" in books:
        at.append((10.0, _push("NVDA", 30.0, math.log(1.004), 1.5)))
        at.extend((10.0 + 2.5 * n, _dark_block(n)) for n in range(12))
    if "AMD" in books:
        at.append((15.0, _push("AMD", 20.0, math.log(1.015), 1.5)))
        at.extend((15.0 + 2.5 * n, _sweep) for n in range(6))
        at.append((21.0, _block(1500.0, "mid")))
        at.append((26.0, _block(2000.0, "ask")))
        at.append((32.0, _chain("AMD")))
    if "SPY" in books:
        at.append((20.0, _chain("SPY")))
        at.append((25.0, _flip_push))
        at.append((50.0, _chain("SPY")))
    at.append((30.0, _inversion))
    return [(base + timedelta(seconds=s), action) for s, action in at]


def _mentions(count: int) -> Action:
    def act(sim: MarketSimulation, ts: datetime) -> list[Record]:
        return [social.mentions(sim.name, ts, "GME", count, 180, 1)]

    return act


def _bull_post(sim: MarketSimulation, ts: datetime) -> list[Record]:
    number = sim.next_post_number()
    return [
        social.post(sim.name, ts, number, ("GME",), "bullish", sim.scenario_draws, "wallstreetbets")
    ]


def _push(symbol: str, seconds: float, total: float, activity: float) -> Action:
    def act(sim: MarketSimulation, ts: datetime) -> list[Record]:
        sim.books[symbol].push(ts, ts + timedelta(seconds=seconds), total, activity)
        return []

    return act


def _borrow_squeeze(sim: MarketSimulation, ts: datetime) -> list[Record]:
    sim.borrow["GME"] = (0.85, 0.99)
    return [sim.short_interest("GME", ts)]


def _dark_block(n: int) -> Action:
    def act(sim: MarketSimulation, ts: datetime) -> list[Record]:
        book = sim.books["NVDA"]
        d = sim.scenario_draws
        size = 100 * int(d.between(250, 601))
        mid = (book.bid + book.ask) / 2
        price = round(mid + d.uniform() * (book.ask - mid) * 0.5, 4)
        book.record_print(price, size, True)
        venue = "FINN" if n % 2 == 0 else "FINY"
        return [
            Trade(
                source=sim.name,
                symbol="NVDA",
                ts=ts,
                price=price,
                size=float(size),
                venue=venue,
                off_exchange=True,
                bid=book.bid,
                ask=book.ask,
                simulated=True,
            )
        ]

    return act


def unusual_contract(sim: MarketSimulation) -> int:
    """The AMD call the unusual-options burst trades (see the module docstring)."""
    chain = sim.options["AMD"]
    spot = sim.opening_spot["AMD"]
    day = sim.session.day
    expiry = next(e for e in chain.expiry_list if (e - day).days >= 2)
    strike = next(k for k in chain.strike_list if k >= spot * 1.05)
    return chain.index(expiry, strike, "call")


def _sweep(sim: MarketSimulation, ts: datetime) -> list[Record]:
    book = sim.options["AMD"]
    i = unusual_contract(sim)
    d = sim.scenario_draws
    spot = sim.books["AMD"].price
    total = 400 + d.index(401)
    venues = list(OPTION_EXCHANGES)
    out: list[Record] = []
    for leg in range(4):
        exchange = venues.pop(d.index(len(venues)))
        size = float(total // 4 + (total % 4 if leg == 3 else 0))
        when = ts - timedelta(milliseconds=40 - leg * 10)
        out.append(option_print(book, sim.name, when, spot, i, size, "ask", exchange, "ISO"))
    return out


def _block(size: float, side: str) -> Action:
    def act(sim: MarketSimulation, ts: datetime) -> list[Record]:
        book = sim.options["AMD"]
        exchange = OPTION_EXCHANGES[sim.scenario_draws.index(len(OPTION_EXCHANGES))]
        spot = sim.books["AMD"].price
        return [option_print(book, sim.name, ts, spot, unusual_contract(sim), size, side, exchange)]

    return act


def _chain(symbol: str) -> Action:
    def act(sim: MarketSimulation, ts: datetime) -> list[Record]:
        return [sim.chain(symbol, ts)]

    return act


def _flip_push(sim: MarketSimulation, ts: datetime) -> list[Record]:
    book = sim.books["SPY"]
    target = sim.opening_spot["SPY"] * FLIP_FRACTION * 0.996
    book.push(ts, ts + timedelta(seconds=20), math.log(target / book.price), 1.5)
    return []


def _inversion(sim: MarketSimulation, ts: datetime) -> list[Record]:
    return list(sim.macro.inversion(sim.name, ts, sim.session.day))
