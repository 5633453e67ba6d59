"""A seeded random-walk market: realistic quotes for a watchlist, reproducible from a seed.

Prices follow a geometric random walk with per-symbol volatility; each tick carries a
quote (bid/ask around the last trade, spread by price level), the day's open/high/low,
cumulative volume, VWAP and change against the previous close. It is a simulation and says
so: every tick carries ``"simulated": true``.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Reference levels (late-2026 magnitudes) and annualised volatilities for a plausible tape.
_PROFILE: dict[str, tuple[float, float]] = {
    "SPY": (598.0, 0.14),
    "QQQ": (515.0, 0.19),
    "IWM": (228.0, 0.22),
    "AAPL": (232.0, 0.26),
    "NVDA": (142.0, 0.48),
    "TSLA": (338.0, 0.62),
    "AMD": (151.0, 0.45),
    "MSFT": (421.0, 0.24),
    "META": (583.0, 0.33),
    "AMZN": (205.0, 0.30),
    "GOOGL": (172.0, 0.29),
}
_TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600


@dataclass
class _Book:
    prev_close: float
    price: float
    open: float
    high: float
    low: float
    volume: int
    notional: float
    sigma: float


class SimulatedMarket:
    """Generates ``market_data`` ticks for a watchlist; same seed, same tape."""

    def __init__(self, symbols: Iterable[str], *, seed: int = 7, interval: float = 0.25) -> None:
        self._rng = random.Random(seed)
        self.interval = interval
        self._books: dict[str, _Book] = {}
        for symbol in symbols:
            level, sigma = _PROFILE.get(symbol, (50.0 + self._rng.random() * 200, 0.35))
            prev_close = round(level * (1 + self._rng.gauss(0, 0.01)), 2)
            open_ = round(prev_close * (1 + self._rng.gauss(0, 0.004)), 2)
            self._books[symbol] = _Book(prev_close, open_, open_, open_, open_, 0, 0.0, sigma)

    @property
    def symbols(self) -> list[str]:
        return list(self._books)

    def tick(self, symbol: str, dt: float | None = None) -> dict[str, Any]:
        """Advance ``symbol`` by ``dt`` seconds of trading and return its new quote."""
        book = self._books[symbol]
        rng = self._rng
        step = dt if dt is not None else self.interval
        # Speed the tape up 30x so that a demo shows visible moves within minutes.
        scale = book.sigma * math.sqrt(step * 30 / _TRADING_SECONDS_PER_YEAR)
        book.price = max(0.01, book.price * math.exp(rng.gauss(0, scale)))
        price = round(book.price, 2)
        book.high = max(book.high, price)
        book.low = min(book.low, price)
        size = int(rng.paretovariate(1.6) * 100)
        book.volume += size
        book.notional += size * price
        half_spread = max(0.01, round(price * 0.00002, 2))
        return {
            "price": price,
            "bid": round(price - half_spread, 2),
            "ask": round(price + half_spread, 2),
            "bid_size": rng.randint(1, 40) * 100,
            "ask_size": rng.randint(1, 40) * 100,
            "last_size": size,
            "volume": book.volume,
            "open": book.open,
            "high": book.high,
            "low": book.low,
            "prev_close": book.prev_close,
            "change": round(price - book.prev_close, 2),
            "change_pct": round((price / book.prev_close - 1) * 100, 3),
            "vwap": round(book.notional / book.volume, 4),
            "simulated": True,
        }

    async def run(self, publish: Callable[[str, dict[str, Any]], Awaitable[object]]) -> None:
        """Publish ticks forever, each symbol about every ``interval`` seconds."""
        rng = self._rng
        symbols = self.symbols
        # One loop for all symbols: the next tick goes to a random symbol after an
        # exponential wait, so the tape looks like trades arriving, not a metronome.
        mean_wait = self.interval / max(1, len(symbols))
        while True:
            await asyncio.sleep(rng.expovariate(1 / mean_wait))
            symbol = rng.choice(symbols)
            await publish(symbol, self.tick(symbol))
