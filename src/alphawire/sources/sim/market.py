"""Price paths and NBBO quotes: regime-switching log returns with jumps, intraday U-shape.

Each symbol's mid follows a geometric random walk whose volatility depends on a hidden
regime (calm ×0.7, normal ×1, stressed ×2 with a slight down drift) that switches as a
Markov chain, plus Poisson jumps (about three a day, each ~2 % of the annual vol). Volatility
and trading activity both follow a U over the session, ``u(x) = 0.5 + 1.5 (2x - 1)²`` for
``x`` the fraction of the session elapsed (mean 1: 2× at the open and close, ½ at midday).
Scenarios bend a path by adding a fixed drift over a window (``SymbolBook.push``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from alphawire.sources.records import Quote
from alphawire.sources.sim.draws import Draws
from alphawire.sources.sim.profiles import SymbolProfile

_YEAR_SECONDS = 252 * 23_400  # trading seconds in a year: volatility is per trading time
_JUMPS_PER_SECOND = 3 / 23_400
# Per-minute switching probabilities out of each regime: (to calm, to normal, to stressed).
_SWITCH = ((0.0, 0.02, 0.0), (0.02, 0.0, 0.01), (0.0, 0.05, 0.0))
_VOL = (0.7, 1.0, 2.0)
_DRIFT = (0.0, 0.0, -0.15)  # annualised, so a stressed regime leans down


def intraday_u(x: float) -> float:
    """Relative activity at fraction ``x`` of the session elapsed (mean 1 over [0, 1])."""
    x = min(1.0, max(0.0, x))
    return 0.5 + 1.5 * (2 * x - 1) ** 2


@dataclass(slots=True)
class Push:
    """A scripted drift: ``rate`` log-return per second between ``start`` and ``end``."""

    start: datetime
    end: datetime
    rate: float
    activity: float  # multiplier on trade rate while it lasts


@dataclass(slots=True)
class SymbolBook:
    """The simulated state of one symbol for the session."""

    symbol: str
    profile: SymbolProfile
    draws: Draws
    prev_close: float
    price: float = 0.0  # mid
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    last: float = 0.0
    last_size: int = 0
    volume: int = 0
    off_exchange_volume: float = 0.0
    regime: int = 1
    bid: float = 0.0
    ask: float = 0.0
    pushes: list[Push] = field(default_factory=list)

    def open_session(self, gap: float) -> None:
        """Start a session at ``prev_close × (1 + gap)``."""
        price = round(self.prev_close * (1 + gap), 2)
        self.price = self.open = self.high = self.low = self.last = price
        self.last_size = 0
        self.volume = 0
        self.off_exchange_volume = 0.0
        self.pushes.clear()
        self.bid, self.ask = self.nbbo()

    def close_session(self) -> None:
        """The last print becomes the previous close of the next session."""
        self.prev_close = self.last

    def push(self, start: datetime, end: datetime, total_return: float, activity: float) -> None:
        """Add ``total_return`` (log) to the path, spread evenly over ``[start, end]``."""
        seconds = max(1e-9, (end - start).total_seconds())
        self.pushes.append(Push(start, end, total_return / seconds, activity))

    def activity(self, now: datetime) -> float:
        """The trade-rate multiplier of the scripted pushes in force at ``now``."""
        out = 1.0
        for p in self.pushes:
            if p.start < now <= p.end:
                out *= p.activity
        return out

    def evolve(self, now: datetime, dt: float, u: float) -> None:
        """Move the mid over the ``dt`` seconds ending at ``now``."""
        d = self.draws
        switch = _SWITCH[self.regime]
        r = d.uniform() * 60 / dt
        acc = 0.0
        for target, chance in enumerate(switch):
            acc += chance
            if r < acc:
                self.regime = target
                break
        sigma = self.profile.sigma * _VOL[self.regime] * math.sqrt(u)
        ret = (_DRIFT[self.regime] - 0.5 * sigma * sigma) * dt / _YEAR_SECONDS
        ret += sigma * math.sqrt(dt / _YEAR_SECONDS) * d.normal()
        scripted = False
        for p in self.pushes:
            if p.start < now <= p.end:
                ret += p.rate * dt
                scripted = True
        if not scripted and d.uniform() < _JUMPS_PER_SECOND * dt:
            ret += 0.02 * self.profile.sigma * d.normal()
        self.price = max(0.05, self.price * math.exp(ret))
        self.bid, self.ask = self.nbbo()

    def nbbo(self) -> tuple[float, float]:
        """Bid and ask around the mid: the profile's spread, wider in the stressed regime."""
        spread = max(0.01, round(self.price * self.profile.spread_bps * 1e-4, 2))
        if self.regime == 2:
            spread = round(spread * 1.5 + 0.004, 2)
        bid = math.floor((self.price - spread / 2) * 100 + 1e-6) / 100
        return round(bid, 2), round(bid + spread, 2)

    def record_print(self, price: float, size: int, off_exchange: bool) -> None:
        """Account one print in the session's totals."""
        self.last = round(price, 2)
        self.last_size = size
        self.volume += size
        if off_exchange:
            self.off_exchange_volume += size
        if price > self.high:
            self.high = round(price, 2)
        if price < self.low:
            self.low = round(price, 2)

    def quote(self, source: str, ts: datetime) -> Quote:
        """The NBBO now, with the session's running totals; sizes in round lots."""
        d = self.draws
        return Quote(
            source=source,
            symbol=self.symbol,
            ts=ts,
            bid=self.bid,
            ask=self.ask,
            bid_size=100 * (1 + int(-6 * math.log(1 - d.uniform()))),
            ask_size=100 * (1 + int(-6 * math.log(1 - d.uniform()))),
            last=self.last,
            last_size=self.last_size,
            volume=self.volume,
            open=self.open,
            high=self.high,
            low=self.low,
            prev_close=self.prev_close,
            simulated=True,
        )
