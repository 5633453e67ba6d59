"""What the market-structure agents share: alert decisions, level crossings, stances.

An agent's analysis is pure: records in, insight dicts and ``AlertCall`` values out. The
runtime (``alphawire.agents.framework``) publishes the calls with cooldowns per
``dedup_key``; the state here decides only *whether* something happened (a crossing, a
block), never how often a channel may hear about it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
Stance = Literal["bullish", "bearish", "neutral"]
Side = Literal["above", "below"]


@dataclass(frozen=True, slots=True)
class AlertCall:
    """An alert an agent decided to raise (``BaseAgent.alert`` cools down its ``dedup_key``)."""

    alert_type: str
    symbol: str | None
    severity: Severity
    title: str
    description: str
    fields: tuple[tuple[str, str], ...]
    dedup_key: str
    time: datetime
    simulated: bool = False

    @property
    def content(self) -> str:
        """The alert's plain text: its title and description."""
        return f"{self.title}: {self.description}"


class Crossing:
    """Which side of a level a value is on; a cross needs the value ``band`` beyond it.

    ``band`` is a fraction of the level (0.0002 = 2 basis points): a value wobbling within
    the band around the level keeps its side, so noise at the level is not a crossing. The
    first ``update`` only sets the side (nothing crossed yet).
    """

    __slots__ = ("band", "side")

    def __init__(self, band: float) -> None:
        self.band = band
        self.side: Side | None = None

    def update(self, value: float, level: float) -> Literal["up", "down"] | None:
        """``"up"``/``"down"`` when ``value`` crossed ``level`` since the last update."""
        margin = abs(level) * self.band
        if self.side is None:
            self.side = "above" if value >= level else "below"
            return None
        if self.side == "above" and value < level - margin:
            self.side = "below"
            return "down"
        if self.side == "below" and value > level + margin:
            self.side = "above"
            return "up"
        return None

    def reset(self) -> None:
        """Forget the side (the level moved to somewhere new: re-learn, do not alert)."""
        self.side = None


class Threshold:
    """A score crossing up through ``threshold``, once per crossing (hysteresis).

    It fires when the score reaches ``threshold`` while armed, and re-arms only after the
    score falls below ``threshold − hysteresis``. It starts armed, so a first reading already
    at or above the threshold fires.
    """

    __slots__ = ("armed", "hysteresis", "threshold")

    def __init__(self, threshold: float, hysteresis: float) -> None:
        self.threshold = threshold
        self.hysteresis = hysteresis
        self.armed = True

    def update(self, score: float) -> bool:
        """True when ``score`` has just crossed the threshold."""
        if self.armed and score >= self.threshold:
            self.armed = False
            return True
        if not self.armed and score < self.threshold - self.hysteresis:
            self.armed = True
        return False


def clip(x: float, low: float = -1.0, high: float = 1.0) -> float:
    """``x`` limited to [low, high]; NaN gives 0."""
    if math.isnan(x):
        return 0.0
    return min(high, max(low, x))


def stance_of(score: float, dead_zone: float = 0.2) -> Stance:
    """``"bullish"`` above ``dead_zone``, ``"bearish"`` below ``−dead_zone``, else neutral."""
    if score > dead_zone:
        return "bullish"
    if score < -dead_zone:
        return "bearish"
    return "neutral"


def evidence(source: str, value: float | str, time: datetime, text: str) -> dict[str, Any]:
    """One evidence item as the dashboard reads it: ``{source, value, time, text}``."""
    return {"source": source, "value": value, "time": time.isoformat(), "text": text}


def money(dollars: float) -> str:
    """Dollars for people: ``$1.25M``, ``$850.0K``, ``$12``; sign kept."""
    size = abs(dollars)
    sign = "-" if dollars < 0 else ""
    if size >= 1e9:
        return f"{sign}${size / 1e9:.2f}B"
    if size >= 1e6:
        return f"{sign}${size / 1e6:.2f}M"
    if size >= 1e3:
        return f"{sign}${size / 1e3:.1f}K"
    return f"{sign}${size:.0f}"
