"""The simulated market as a deterministic state machine over simulated time.

``MarketSimulation.advance_to(t)`` produces, in time order, every record due up to ``t``;
nothing in it reads the wall clock or the event loop, so its output depends only on the
seed, the watchlist and the start: however a caller slices time (one call per second, one
call per day), the concatenated output is the same, byte for byte once serialised.

Market activity is generated on a fixed grid of ``STEP`` simulated seconds from the start:
each step moves every price path, prints the step's trades and option trades, quotes the
NBBO of each symbol that traded or moved, and posts the background chatter; scheduled events
(chain snapshots every five minutes, mention counts every half hour, the close, end-of-day
files, scenarios) run at their time after the step that ends there. Every record produced at
a processing time ``T`` has its timestamp in ``(previous T, T]``.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta

from alphawire.sources.base import MarketCalendar
from alphawire.sources.records import OptionChain, Record, ShortInterest, ShortVolume
from alphawire.sources.sim import eod, scenarios, social
from alphawire.sources.sim.draws import Draws
from alphawire.sources.sim.macro import HISTORY_DAYS as MACRO_HISTORY_DAYS
from alphawire.sources.sim.macro import MacroBook
from alphawire.sources.sim.market import SymbolBook, intraday_u
from alphawire.sources.sim.optflow import flow_for_step
from alphawire.sources.sim.options import OptionBook
from alphawire.sources.sim.profiles import profile_for
from alphawire.sources.sim.session import (
    first_instant,
    next_session,
    previous_session,
    session_at,
    usable,
)
from alphawire.sources.sim.tape import prints_for_step

STEP = 0.5  # simulated seconds between market steps
CHAIN_EVERY = 300.0  # seconds between routine chain snapshots of each symbol
MENTIONS_EVERY = 1800.0
POSTS_PER_SECOND = 0.1
EOD_POSTING_DELAY = timedelta(hours=2)  # FINRA posts the daily short-volume file ~18:00 ET
# Sessions of short volume before the previous one sent at the first open: enough earlier
# days for DarkPoolAgent's z-score on day one, as the FINRA source's default backfill gives.
SHORT_HISTORY_SESSIONS = 20
Event = Callable[["MarketSimulation", datetime], list[Record]]


class MarketSimulation:
    """Every simulated instrument, book and feed, advanced by ``advance_to``."""

    def __init__(
        self,
        watchlist: tuple[str, ...],
        *,
        seed: int,
        start: datetime,
        calendar: MarketCalendar | None = None,
        name: str = "sim",
        scenarios_on: bool = True,
    ) -> None:
        if not watchlist:
            raise ValueError("watchlist is empty: the simulator needs at least one symbol")
        if start.tzinfo is None:
            raise ValueError(f"start must be timezone-aware, not {start!r}")
        self.name = name
        self.seed = seed
        self.watchlist = watchlist
        self.calendar = usable(calendar, start)
        self.session = session_at(self.calendar, start)
        self.start = first_instant(self.calendar, start)
        self.books = {
            s: SymbolBook(s, p, Draws(seed, "market", s), p.price)
            for s, p in ((s, profile_for(s, seed)) for s in watchlist)
        }
        self.options = {
            s: OptionBook(s, b.profile, Draws(seed, "options", s)) for s, b in self.books.items()
        }
        self.opening_spot: dict[str, float] = {}
        self.macro = MacroBook(
            Draws(seed, "macro"), Draws(seed, "macro", "CPIAUCSL"), Draws(seed, "macro", "curve")
        )
        self.scenario_draws = Draws(seed, "scenario")
        self._social = Draws(seed, "social")
        self._eod = Draws(seed, "eod")
        self._gaps = Draws(seed, "session")
        self._posts = itertools.count(1)
        self._seq = itertools.count()
        self._events: list[tuple[datetime, int, Event]] = []
        self._step_at: datetime | None = None  # end of the next market step, None when closed
        self._carried: dict[str, dict[str, float]] = {}  # open interest into the next session
        # (borrow fee, utilization) per symbol; scenarios and each close move them.
        self.borrow = {
            s: (b.profile.borrow_fee, b.profile.utilization) for s, b in self.books.items()
        }
        self._scenarios_on = scenarios_on
        self.now = self.start - timedelta(microseconds=1)
        self._schedule(self.start, _open_session)
        base = self.start
        if self.session.close - base < timedelta(seconds=60):
            base = next_session(self.calendar, self.session).open
        if scenarios_on:
            for when, action in scenarios.schedule(self, base):
                self._schedule(when, action)
        self._scenario_base = base

    # -- the public surface -------------------------------------------------------------
    def next_time(self) -> datetime:
        """When the next record-producing work is due."""
        times = [self._events[0][0]] if self._events else []
        if self._step_at is not None:
            times.append(self._step_at)
        return min(times)

    def advance_to(self, until: datetime, max_times: int = 1_000) -> list[Record]:
        """Every record due up to ``until`` (at most ``max_times`` processing times)."""
        out: list[Record] = []
        for _ in range(max_times):
            when = self.next_time()
            if when > until:
                break
            out.extend(self._process(when))
        return out

    def chain(self, symbol: str, ts: datetime) -> OptionChain:
        """A chain snapshot of ``symbol`` at ``ts`` and the current spot."""
        return self.options[symbol].chain(self.name, ts, self.books[symbol].price)

    def next_post_number(self) -> int:
        return next(self._posts)

    # -- internals ----------------------------------------------------------------------
    def _schedule(self, when: datetime, event: Event) -> None:
        heapq.heappush(self._events, (when, next(self._seq), event))

    def _process(self, when: datetime) -> list[Record]:
        out: list[Record] = []
        if self._step_at is not None and self._step_at <= when:
            out.extend(self._step(self._step_at))
            nxt = self._step_at + timedelta(seconds=STEP)
            self._step_at = nxt if nxt <= self.session.close else None
        while self._events and self._events[0][0] <= when:
            _, _, event = heapq.heappop(self._events)
            out.extend(event(self, when))
        self.now = when
        out.sort(key=_ts)
        return out

    def _step(self, end: datetime) -> list[Record]:
        x = (end - self.session.open).total_seconds() / self.session.seconds
        u = intraday_u(x)
        out: list[Record] = []
        for symbol, book in self.books.items():
            before, bid, ask = book.price, book.bid, book.ask
            book.evolve(end, STEP, u)
            moved = book.price / before - 1
            n = book.draws.poisson(book.profile.trades_per_s * u * book.activity(end) * STEP)
            if n:
                out.extend(prints_for_step(book, self.name, end, STEP, n, moved))
            opt = self.options[symbol]
            m = opt.draws.poisson(book.profile.options_per_s * u * STEP)
            if m:
                out.extend(flow_for_step(opt, self.name, end, STEP, m, book.price))
            if n or m or book.bid != bid or book.ask != ask:
                out.append(book.quote(self.name, end))
        d = self._social
        if d.uniform() < POSTS_PER_SECOND * STEP:
            out.append(
                social.background_post(self.name, end, self.next_post_number(), self.watchlist, d)
            )
        return out

    def _open(self, when: datetime) -> list[Record]:
        """Open the session: list options, quote, snapshot chains, schedule the day."""
        first = not self.opening_spot
        carried = self._carried
        out: list[Record] = []
        for symbol, book in self.books.items():
            book.open_session(0.0 if first else 0.004 * self._gaps.normal())
            self.opening_spot[symbol] = book.price
            self.options[symbol].list_session(self.session.day, book.price, carried.get(symbol, {}))
        if self._scenarios_on and when == self._scenario_base:
            self._scenario_setup(when)
        for symbol, book in self.books.items():
            out.append(book.quote(self.name, when))
            out.append(self.chain(symbol, when))
        if first:
            out.extend(self._context(when))
        self._step_at = when + timedelta(seconds=STEP)
        t = when + timedelta(seconds=CHAIN_EVERY)
        while t < self.session.close:
            self._schedule(t, _chains)
            t += timedelta(seconds=CHAIN_EVERY)
        t = when + timedelta(seconds=MENTIONS_EVERY)
        while t < self.session.close:
            self._schedule(t, _mentions)
            t += timedelta(seconds=MENTIONS_EVERY)
        self._schedule(self.session.close, _close_session)
        return out

    def _scenario_setup(self, when: datetime) -> None:
        """The scenarios' starting positions: the AMD call's OI, SPY's gamma flip."""
        if "AMD" in self.options:
            self.options["AMD"].open_interest[scenarios.unusual_contract(self)] = 1200.0
        if "SPY" in self.options:
            spy = self.options["SPY"]
            flip = self.opening_spot["SPY"] * scenarios.FLIP_FRACTION
            calls = spy.gamma_exposure_side(when, flip, "call")
            puts = spy.gamma_exposure_side(when, flip, "put")
            scale = calls / puts
            for i, kind in enumerate(spy.kind):
                if kind == "put":
                    spy.open_interest[i] = float(round(spy.open_interest[i] * scale))

    def _context(self, when: datetime) -> list[Record]:
        """What a desk knows at the first open: short volume of the previous session and the
        ``SHORT_HISTORY_SESSIONS`` before it, short interest and borrow, chatter, macro."""
        out: list[Record] = []
        sessions = [previous_session(self.calendar, self.session)]
        for _ in range(SHORT_HISTORY_SESSIONS):
            sessions.append(previous_session(self.calendar, sessions[-1]))
        out.extend(self._short_history(when, [s.day for s in reversed(sessions[1:])]))
        prev_day = sessions[0].day
        for symbol, book in self.books.items():
            p = book.profile
            total = eod.previous_day_total(p, self._eod)
            # GME's ratio is the squeeze setup's documented 62 %, exactly.
            ratio, noise = (
                (0.62, 0.0) if symbol == "GME" and self._scenarios_on else (p.short_ratio, 0.03)
            )
            out.append(
                eod.short_volume(symbol, self.name, when, prev_day, total, ratio, self._eod, noise)
            )
            out.append(self.short_interest(symbol, when))
        out.extend(self._mention_counts(when))
        macro_days = [s.day for s in reversed(sessions[:MACRO_HISTORY_DAYS])]
        out.extend(self.macro.history(self.name, when, self.session.day, macro_days))
        return out

    def _short_history(self, when: datetime, days: list[date]) -> list[Record]:
        """The short-volume rows of ``days`` (oldest first), file by file as FINRA posts them.

        Each symbol draws its history from a stream of its own, so adding these rows changed
        no other record of the simulation (the previous session's row is drawn as before).
        """
        rows: dict[str, list[ShortVolume]] = {}
        for symbol, book in self.books.items():
            p = book.profile
            d = Draws(self.seed, "short_history", symbol)
            rows[symbol] = [
                eod.short_volume(
                    symbol, self.name, when, day, eod.previous_day_total(p, d), p.short_ratio, d
                )
                for day in days
            ]
        return [rows[symbol][i] for i in range(len(days)) for symbol in self.books]

    def short_interest(self, symbol: str, when: datetime) -> ShortInterest:
        """The symbol's short interest and borrow market (``self.borrow``) now."""
        fee, utilization = self.borrow[symbol]
        profile = self.books[symbol].profile
        return eod.short_interest(
            symbol, self.name, when, self.session.day, profile, fee, utilization, self.seed
        )

    def _mention_counts(self, when: datetime) -> list[Record]:
        d = self._social
        counts = {s: int(20 + 200 * d.uniform() ** 2) for s in self.watchlist}
        ranked = sorted(self.watchlist, key=lambda s: -counts[s])
        return [
            social.mentions(
                self.name,
                when,
                s,
                counts[s],
                int(counts[s] * d.between(0.7, 1.3)),
                ranked.index(s) + 1,
            )
            for s in self.watchlist
        ]

    def _close(self, when: datetime) -> list[Record]:
        out: list[Record] = []
        day = self.session.day
        carried: dict[str, dict[str, float]] = {}
        for symbol, book in self.books.items():
            out.append(book.quote(self.name, when))
            carried[symbol] = self.options[symbol].close_session()
            fee, utilization = self.borrow[symbol]
            fee *= math.exp(0.05 * self._eod.normal())
            utilization = min(0.995, utilization * (1 + 0.02 * self._eod.normal()))
            self.borrow[symbol] = (fee, utilization)
            out.append(self.short_interest(symbol, when))
        totals = {s: b.off_exchange_volume for s, b in self.books.items()}
        self._carried = carried
        posting = when + EOD_POSTING_DELAY

        def post_files(sim: MarketSimulation, ts: datetime) -> list[Record]:
            rows: list[Record] = [
                eod.short_volume(
                    s, sim.name, ts, day, totals[s], sim.books[s].profile.short_ratio, sim._eod
                )
                for s in sim.watchlist
            ]
            rows.extend(sim.macro.step(sim.name, ts, day))
            return rows

        self._schedule(posting, post_files)
        for book in self.books.values():
            book.close_session()
        self._step_at = None
        self.session = next_session(self.calendar, self.session)
        self._schedule(self.session.open, _open_session)
        return out


def _ts(record: Record) -> datetime:
    return record.ts


def _open_session(sim: MarketSimulation, when: datetime) -> list[Record]:
    return sim._open(when)


def _close_session(sim: MarketSimulation, when: datetime) -> list[Record]:
    return sim._close(when)


def _chains(sim: MarketSimulation, when: datetime) -> list[Record]:
    return [sim.chain(s, when) for s in sim.watchlist]


def _mentions(sim: MarketSimulation, when: datetime) -> list[Record]:
    return sim._mention_counts(when)
