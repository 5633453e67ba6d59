"""What each simulated symbol is like: price level, volatility, activity and its borrow market.

Levels are late-2026 magnitudes; daily volumes are what the simulated tape prints (each
print a realistic size, so index ETFs print less than their real volume); float, short
interest and borrow are plausible orders of magnitude, with GME and AMC set up as crowded
shorts. A symbol not in the table gets a profile drawn from its own seeded stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from alphawire.sources.sim.draws import Draws

DEFAULT_WATCHLIST: tuple[str, ...] = (
    "SPY",
    "QQQ",
    "IWM",
    "AAPL",
    "NVDA",
    "TSLA",
    "AMD",
    "GME",
    "AMC",
)


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """Parameters of one simulated symbol (rates per simulated second, vols annualised)."""

    price: float  # previous close, USD
    sigma: float  # annualised volatility of the calm regime's base
    trades_per_s: float  # mean stock prints per second, before the intraday U-shape
    options_per_s: float  # mean option prints per second, before the U-shape
    spread_bps: float  # quoted NBBO spread, basis points of price (at least one cent)
    float_shares: float
    short_pct_float: float  # short interest as a fraction of float
    borrow_fee: float  # annual fraction
    utilization: float  # fraction of lendable shares on loan
    short_ratio: float  # FINRA short volume / total volume, typical day
    etf: bool = False  # index ETFs list daily expiries (0DTE every session)
    call_skew: bool = False  # meme names: calls richer than puts


_TABLE: dict[str, SymbolProfile] = {
    "SPY": SymbolProfile(598.0, 0.13, 2.0, 1.0, 0.3, 900e6, 0.02, 0.003, 0.10, 0.48, etf=True),
    "QQQ": SymbolProfile(515.0, 0.18, 1.6, 0.6, 0.4, 560e6, 0.02, 0.003, 0.12, 0.50, etf=True),
    "IWM": SymbolProfile(228.0, 0.21, 0.8, 0.4, 0.5, 290e6, 0.06, 0.004, 0.20, 0.52, etf=True),
    "AAPL": SymbolProfile(232.0, 0.24, 1.4, 0.5, 0.5, 15.0e9, 0.007, 0.0025, 0.05, 0.40),
    "NVDA": SymbolProfile(142.0, 0.45, 2.0, 0.6, 0.8, 23.5e9, 0.011, 0.0025, 0.06, 0.42),
    "TSLA": SymbolProfile(338.0, 0.58, 1.8, 0.6, 0.6, 2.8e9, 0.025, 0.003, 0.10, 0.45),
    "AMD": SymbolProfile(151.0, 0.44, 1.1, 0.4, 0.8, 1.6e9, 0.022, 0.003, 0.08, 0.44),
    "GME": SymbolProfile(25.0, 0.75, 0.7, 0.3, 4.0, 380e6, 0.24, 0.42, 0.96, 0.58, call_skew=True),
    "AMC": SymbolProfile(4.2, 0.80, 0.6, 0.2, 24.0, 380e6, 0.17, 0.25, 0.90, 0.55, call_skew=True),
}


def profile_for(symbol: str, seed: int) -> SymbolProfile:
    """The symbol's profile; an unknown one is drawn from a stream seeded by its name."""
    known = _TABLE.get(symbol)
    if known is not None:
        return known
    d = Draws(seed, "profile", symbol)
    price = round(10 + 290 * d.uniform(), 2)
    return SymbolProfile(
        price=price,
        sigma=0.25 + 0.35 * d.uniform(),
        trades_per_s=0.4 + 0.6 * d.uniform(),
        options_per_s=0.1 + 0.2 * d.uniform(),
        spread_bps=max(1.0, 200 / price),
        float_shares=(0.2 + 5 * d.uniform()) * 1e9,
        short_pct_float=0.01 + 0.05 * d.uniform(),
        borrow_fee=0.003,
        utilization=0.05 + 0.25 * d.uniform(),
        short_ratio=0.40 + 0.12 * d.uniform(),
    )


def mean_print_size() -> float:
    """Mean shares per stock print (lognormal body with median 150 shares, plus blocks)."""
    return 150 * 1.6487 * 0.997 + 0.003 * 30_000


def daily_volume(profile: SymbolProfile, session_seconds: float = 23_400) -> float:
    """Expected shares printed in a full session (the ADV behind days to cover)."""
    return profile.trades_per_s * session_seconds * mean_print_size()
