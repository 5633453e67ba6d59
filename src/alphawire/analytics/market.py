"""Price and volume readings of one symbol's session: trend, volatility, gap, relative volume,
and breadth across a watchlist.

Conventions: prices in the instrument's currency; ``closes`` are one price per minute, oldest
first; returns are natural-log returns; percentages are percent (1.5 = 1.5 %); volatility is
annualised with 390 one-minute bars a session and 252 sessions a year.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from alphawire.errors import ValidationError

BARS_PER_YEAR = 390 * 252  # one-minute bars in a year of regular sessions
Trend = Literal["up", "down", "sideways"]
VolRegime = Literal["low", "normal", "high"]


@dataclass(frozen=True, slots=True)
class TrendReading:
    """The trend over a window of closes: ``label`` from ``z`` against the threshold."""

    log_return: float  # ln(last / first) over the window
    z: float  # log_return / (std of the one-bar returns × sqrt(bars)); 0 when flat
    bars: int  # one-bar returns used
    label: Trend


def _closes(closes: Sequence[float], field: str) -> np.ndarray:
    prices = np.asarray(closes, dtype=float)
    if prices.ndim != 1 or not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        raise ValidationError(f"{field} must be positive finite prices", [{"field": field}])
    return prices


def trend(closes: Sequence[float], threshold: float = 1.0) -> TrendReading:
    """How far price moved over ``closes`` relative to its own noise.

    ``z = ln(p_last / p_first) / (σ · √n)`` where σ is the sample standard deviation of the
    ``n`` one-bar log returns: the window's move in units of what random bars of that size
    would move. ``"up"`` when ``z > threshold``, ``"down"`` when ``z < -threshold``, else
    ``"sideways"``; fewer than 3 closes or no variation give ``z = 0``.

    Example: closes 100, 101, 100.5, 102 → returns ln(1.01)=0.00995, ln(100.5/101)=-0.00496,
    ln(102/100.5)=0.01482; sum 0.01980; σ = 0.01031; z = 0.01980 / (0.01031 · √3) = 1.11 → up.
    """
    prices = _closes(closes, "closes")
    if prices.size < 3:
        return TrendReading(0.0, 0.0, max(prices.size - 1, 0), "sideways")
    returns = np.diff(np.log(prices))
    total = float(returns.sum())
    sigma = float(returns.std(ddof=1))
    z = total / (sigma * math.sqrt(returns.size)) if sigma > 0 else 0.0
    label: Trend = "up" if z > threshold else "down" if z < -threshold else "sideways"
    return TrendReading(total, z, int(returns.size), label)


def realized_volatility(closes: Sequence[float], bars_per_year: float = BARS_PER_YEAR) -> float:
    """Annualised realised volatility, a fraction: ``std(ln returns, ddof=1) · √bars_per_year``.

    Fewer than 3 closes give 0. Example: minute returns with σ = 0.001 → 0.001 · √98,280 = 0.3135
    (31 %).
    """
    prices = _closes(closes, "closes")
    if prices.size < 3:
        return 0.0
    return float(np.diff(np.log(prices)).std(ddof=1) * math.sqrt(bars_per_year))


def volatility_regime(
    recent: float, baseline: float, low: float = 0.75, high: float = 1.5
) -> VolRegime:
    """``"high"`` when recent volatility is above ``high ×`` the baseline, ``"low"`` below
    ``low ×``, else ``"normal"`` (a zero baseline: ``"normal"``)."""
    if baseline <= 0:
        return "normal"
    ratio = recent / baseline
    return "high" if ratio > high else "low" if ratio < low else "normal"


def gap_pct(session_open: float, prev_close: float) -> float:
    """The opening gap in percent: ``(open − prev_close) / prev_close · 100``
    (101.5 after 100 → 1.5)."""
    if prev_close <= 0 or session_open <= 0:
        raise ValidationError("open and prev_close must be positive", [{"field": "prev_close"}])
    return (session_open - prev_close) / prev_close * 100


def relative_volume(volume: float, usual: Iterable[float]) -> float | None:
    """Volume so far divided by the mean of ``usual`` (the cumulative volume at this time of
    day in earlier sessions); None without a positive usual volume. 3,000 against 1,000 and
    2,000 → 2.0."""
    values = [v for v in usual if math.isfinite(v) and v > 0]
    if not values:
        return None
    return volume / (sum(values) / len(values))


SESSION_SECONDS = 23_400.0  # a regular US equity session, 09:30-16:00 New York


def paced_relative_volume(
    volume: float,
    avg_daily_volume: float,
    elapsed_seconds: float,
    session_seconds: float = SESSION_SECONDS,
) -> float | None:
    """Volume so far against an average day's volume spread evenly over the session:
    ``volume / (avg_daily_volume × min(elapsed, session) / session)``; 1.0 = the average pace.

    For when no earlier session's volume-by-minute is known (``relative_volume`` is better:
    it knows the open's and the close's heavier minutes). The even pace overstates the
    first minutes of a session, whose volume is front-loaded on a real tape. None without a
    positive average or elapsed time. Hand-checked: 150,000 shares 1,170 s (5 %) into a
    session of a 1,000,000-share average day: ``150,000 / 50,000 = 3.0``.
    """
    if not (avg_daily_volume > 0 and elapsed_seconds > 0 and session_seconds > 0):
        return None
    return volume / (avg_daily_volume * min(elapsed_seconds, session_seconds) / session_seconds)


def breadth(changes: Iterable[float], flat: float = 0.0) -> dict[str, int]:
    """Advancers, decliners and unchanged among ``changes`` (each symbol's change from its
    previous close); ``|change| <= flat`` counts as unchanged."""
    out = {"advancers": 0, "decliners": 0, "unchanged": 0}
    for change in changes:
        key = "advancers" if change > flat else "decliners" if change < -flat else "unchanged"
        out[key] += 1
    return out


__all__ = [
    "BARS_PER_YEAR",
    "TrendReading",
    "breadth",
    "gap_pct",
    "paced_relative_volume",
    "realized_volatility",
    "relative_volume",
    "trend",
    "volatility_regime",
]
