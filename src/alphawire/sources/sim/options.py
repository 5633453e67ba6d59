"""Listed options of a simulated symbol: expiries, strikes, an IV surface, chains and prints.

Conventions (the same the agents' analytics use, so their numbers are checkable here):

- Black-Scholes with no dividends, rate ``RATE`` (4.3 %), time in calendar years (365 days)
  to 16:00 New York on the expiry date, at least one minute (a 0DTE contract at the bell).
- Implied volatility ``iv = atm(T) · (1 - skew·m + 0.02·m²)``, ``m = ln(K/S) / (atm·√T)``
  (``T`` at least one day, ``|m|`` at most 6), ``atm(T) = 1.05·σ·(0.9 + 0.1·min(1, T/0.25))``:
  a gentle contango, puts richer for index ETFs (skew 0.09) and stocks (0.05), calls richer for meme
  names (-0.04). Clamped to [5 %, 400 %].
- Greeks per share: ``delta`` (calls in [0, 1], puts in [-1, 0]) and ``gamma`` per dollar.
- Expiries: index ETFs list the next three sessions (0DTE every day); every symbol lists the
  next three Fridays (0DTE on Fridays) and the next two monthlies (third Fridays).
  Holidays are not skipped.
- 25 strikes centred on the session's open (none at or below zero), ``strike_step`` apart.
- Listed open interest decays away from the money and is 3.2× heavier out of the money
  (calls above spot, puts below) than in it.
- Open interest is the start-of-day figure all day (as the OCC publishes it); at the close it
  grows by a share (10-50 %) of the day's volume in each contract, and the next day lists it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from alphawire.sources.records import OptionChain, OptionContract, OptionKind
from alphawire.sources.sim.draws import Draws
from alphawire.sources.sim.profiles import SymbolProfile
from alphawire.sources.sim.session import NEW_YORK

RATE = 0.043
_SQRT2 = math.sqrt(2.0)
_YEAR = 365 * 86_400
STRIKES_EACH_SIDE = 12


def norm_cdf(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def black_scholes(
    spot: float, strike: float, years: float, iv: float, kind: OptionKind
) -> tuple[float, float, float]:
    """(price, delta, gamma) per share of a European option; rate ``RATE``, no dividends."""
    sqrt_t = math.sqrt(years)
    vol_t = iv * sqrt_t
    d1 = (math.log(spot / strike) + (RATE + 0.5 * iv * iv) * years) / vol_t
    d2 = d1 - vol_t
    discount = math.exp(-RATE * years)
    gamma = math.exp(-0.5 * d1 * d1) / (math.sqrt(2 * math.pi) * spot * vol_t)
    if kind == "call":
        delta = norm_cdf(d1)
        price = spot * delta - strike * discount * norm_cdf(d2)
    else:
        delta = norm_cdf(d1) - 1.0
        price = strike * discount * norm_cdf(-d2) - spot * norm_cdf(-d1)
    return max(0.0, price), delta, gamma


def strike_step(price: float) -> float:
    """Strike spacing for a price level (about 0.8 % of it, on a listed-looking grid)."""
    for step in (0.5, 1.0, 2.5, 5.0, 10.0):
        if price * 0.008 <= step:
            return step
    return 10.0


def occ_symbol(root: str, expiry: date, kind: OptionKind, strike: float) -> str:
    """The OCC/OSI symbol: root padded to six, YYMMDD, C or P, strike × 1000 in 8 digits."""
    return f"{root:<6}{expiry:%y%m%d}{'C' if kind == 'call' else 'P'}{round(strike * 1000):08d}"


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def expiries(day: date, etf: bool) -> list[date]:
    """The listed expiries on ``day`` (see the module docstring)."""
    out: set[date] = set()
    if etf:
        d, listed = day, 0
        while listed < 3:
            if d.weekday() < 5:
                out.add(d)
                listed += 1
            d += timedelta(days=1)
    friday = day + timedelta(days=(4 - day.weekday()) % 7)
    out.update(friday + timedelta(weeks=k) for k in range(3))
    year, month, monthlies = day.year, day.month, 0
    while monthlies < 2:
        third = _third_friday(year, month)
        if third >= day:
            out.add(third)
            monthlies += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(out)


def years_to_expiry(now: datetime, expiry: date) -> float:
    """Calendar years from ``now`` to 16:00 New York on ``expiry``, at least one minute."""
    return max(60.0, (_expiry_close(expiry) - now).total_seconds()) / _YEAR


@functools.lru_cache(maxsize=1024)
def _expiry_close(expiry: date) -> datetime:
    # Time-zone conversion is the slow part of pricing one print: do it once per expiry.
    return datetime.combine(expiry, time(16, 0), NEW_YORK).astimezone(UTC)


@dataclass(slots=True)
class OptionBook:
    """Every listed contract of one underlying for the session, with OI and day volume."""

    symbol: str
    profile: SymbolProfile
    draws: Draws
    occ: list[str] = field(default_factory=list)
    expiry: list[date] = field(default_factory=list)
    strike: list[float] = field(default_factory=list)
    kind: list[OptionKind] = field(default_factory=list)
    open_interest: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)
    expiry_list: list[date] = field(default_factory=list)
    strike_list: list[float] = field(default_factory=list)

    def list_session(self, day: date, spot: float, carried: dict[str, float]) -> None:
        """List the day's contracts around ``spot``; ``carried`` OI (by OCC symbol) survives."""
        d = self.draws
        step = strike_step(spot)
        # Centred on spot, but never at or below zero (a $4 stock lists from $0.50 up).
        low = max(step, round(spot / step) * step - STRIKES_EACH_SIDE * step)
        self.strike_list = [round(low + k * step, 2) for k in range(2 * STRIKES_EACH_SIDE + 1)]
        self.expiry_list = expiries(day, self.profile.etf)
        for name in ("occ", "expiry", "strike", "kind", "open_interest", "volume"):
            getattr(self, name).clear()
        base = 4000 * self.profile.options_per_s
        for n, exp in enumerate(self.expiry_list):
            weight = 0.5 if n == 0 else (1.5 if exp == _third_friday(exp.year, exp.month) else 1.0)
            for k in self.strike_list:
                for kind in ("call", "put"):
                    occ = occ_symbol(self.symbol, exp, kind, k)
                    away = abs(math.log(k / spot)) / (self.profile.sigma * 0.1)
                    oi = carried.get(occ)
                    if oi is None:
                        # Open interest sits mostly out of the money: calls above spot,
                        # puts below (hedges and overwrites), which is what gives GEX its shape.
                        otm = (kind == "call") == (k > spot)
                        tilt = 1.0 if k == spot else (1.6 if otm else 0.5)
                        oi = base * weight * tilt * math.exp(-0.5 * away) * d.between(0.6, 1.4)
                        oi = float(round(oi))
                    self.occ.append(occ)
                    self.expiry.append(exp)
                    self.strike.append(k)
                    self.kind.append(kind)
                    self.open_interest.append(oi)
                    self.volume.append(0.0)

    def close_session(self) -> dict[str, float]:
        """Open interest after the close: each contract keeps 10-50 % of its volume as OI."""
        d = self.draws
        return {
            occ: oi + round(vol * d.between(0.1, 0.5))
            for occ, oi, vol in zip(self.occ, self.open_interest, self.volume, strict=True)
        }

    def iv(self, spot: float, i: int, years: float) -> float:
        """Implied volatility of contract ``i`` (the surface in the module docstring)."""
        p = self.profile
        atm = 1.05 * p.sigma * (0.9 + 0.1 * min(1.0, years / 0.25))
        skew = -0.04 if p.call_skew else (0.09 if p.etf else 0.05)
        m = math.log(self.strike[i] / spot) / (atm * math.sqrt(max(years, 1 / 365)))
        m = max(-6.0, min(6.0, m))  # far wings flatten instead of exploding
        return min(4.0, max(0.05, atm * (1 - skew * m + 0.02 * m * m)))

    def theo(self, now: datetime, spot: float, i: int) -> tuple[float, float, float, float]:
        """(price, delta, gamma, iv) of contract ``i`` at ``spot``."""
        years = years_to_expiry(now, self.expiry[i])
        iv = self.iv(spot, i, years)
        price, delta, gamma = black_scholes(spot, self.strike[i], years, iv, self.kind[i])
        return price, delta, gamma, iv

    def index(self, expiry: date, strike: float, kind: OptionKind) -> int:
        """The contract's index (ValueError when not listed)."""
        return self.occ.index(occ_symbol(self.symbol, expiry, kind, strike))

    def chain(self, source: str, now: datetime, spot: float) -> OptionChain:
        """A snapshot of every contract at ``spot``: quotes, volume, OI, IV, delta, gamma."""
        contracts: list[OptionContract] = []
        for i in range(len(self.occ)):
            price, delta, gamma, iv = self.theo(now, spot, i)
            bid, ask = quote_around(price)
            contracts.append(
                OptionContract(
                    occ=self.occ[i],
                    expiry=self.expiry[i],
                    strike=self.strike[i],
                    option_kind=self.kind[i],
                    bid=bid,
                    ask=ask,
                    last=round(max(0.01, price), 2),
                    volume=self.volume[i],
                    open_interest=self.open_interest[i],
                    iv=round(iv, 4),
                    delta=round(delta, 4),
                    gamma=round(gamma, 6),
                )
            )
        return OptionChain(
            source=source,
            symbol=self.symbol,
            ts=now,
            spot=round(spot, 2),
            contracts=tuple(contracts),
            simulated=True,
        )

    def gamma_exposure(self, now: datetime, spot: float) -> float:
        """Dealer gamma in dollars per 1 % move, if dealers are long calls and short puts.

        ``Σ ±gamma · OI · 100 · spot² · 0.01`` (+ calls, − puts), gamma re-priced at
        ``spot``: the usual GEX convention; it changes sign at the gamma flip.
        """
        calls = self.gamma_exposure_side(now, spot, "call")
        puts = self.gamma_exposure_side(now, spot, "put")
        return calls - puts

    def gamma_exposure_side(self, now: datetime, spot: float, kind: OptionKind) -> float:
        """``Σ gamma · OI · 100 · spot² · 0.01`` over the contracts of one kind, at ``spot``."""
        total = 0.0
        for i in range(len(self.occ)):
            if self.kind[i] != kind:
                continue
            years = years_to_expiry(now, self.expiry[i])
            iv = self.iv(spot, i, years)
            _, _, gamma = black_scholes(spot, self.strike[i], years, iv, kind)
            total += gamma * self.open_interest[i]
        return total * 100 * spot * spot * 0.01


def quote_around(theo: float) -> tuple[float, float]:
    """A market maker's bid and ask around a theoretical price (about 4 % wide, a cent min)."""
    half = max(0.005, 0.02 * theo + 0.005)
    bid = max(0.0, round(theo - half, 2))
    ask = round(max(bid + 0.01, theo + half), 2)
    return bid, ask
