"""What the market-structure agents share: alert decisions, level crossings, stances.

An agent's analysis is pure: records in, insight dicts and ``AlertCall`` values out
(``GammaBook``, ``DarkPoolBook``, ...). ``CallingAgent`` runs such an analysis inside a
``BaseAgent``, which publishes the calls with cooldowns per ``dedup_key``: the analysis decides
only *whether* something happened (a crossing, a block), never how often a channel may hear
about it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from alphawire.agents.framework import AgentOptions, BaseAgent
from alphawire.agents.insight import Insight
from alphawire.clock import VirtualClock

T = TypeVar("T")

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


MAX_QUEUED_CALLS = 256  # alert calls waiting for the next evaluation; the oldest go first


class CallingAgent(BaseAgent):
    """A ``BaseAgent`` whose analysis hands back ``AlertCall`` values from ``on_record``.

    ``queue`` keeps them (at most ``MAX_QUEUED_CALLS``; past that the oldest are dropped and
    counted in ``counts["dropped_calls"]``) and asks for an evaluation; the evaluation raises
    them with ``raise_queued`` (the base's dedup and cooldown apply per ``dedup_key``).
    """

    def __init__(self, options: Mapping[str, Any] | AgentOptions | None = None) -> None:
        super().__init__(options)
        self._calls: deque[AlertCall] = deque(maxlen=MAX_QUEUED_CALLS)
        self.counts["dropped_calls"] = 0

    async def compute(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; inline under a ``VirtualClock``.

        A replay moves its virtual clock as soon as the records before are handed over; an
        evaluation waiting on a thread would see a varying number of later records each run.
        Inline, a replay gives the same alerts at the same times every time (and a replay is
        a batch job: nobody waits on its loop).
        """
        if self.ctx is not None and isinstance(self.ctx.clock, VirtualClock):
            return fn(*args, **kwargs)
        return await super().compute(fn, *args, **kwargs)

    def queue(self, calls: list[AlertCall], *, trigger: bool = True) -> None:
        """Keep ``calls`` for the next evaluation (and ask for one soon)."""
        if not calls:
            return
        overflow = len(self._calls) + len(calls) - MAX_QUEUED_CALLS
        if overflow > 0:
            self.counts["dropped_calls"] += overflow
        self._calls.extend(calls)
        if trigger:
            self.trigger(calls[-1].alert_type)

    async def raise_queued(self) -> None:
        """Raise every queued call, in order."""
        while self._calls:
            c = self._calls.popleft()
            await self.alert(
                c.alert_type,
                title=c.title,
                description=c.description,
                symbol=c.symbol,
                severity=c.severity,
                fields=c.fields,
                dedup_key=c.dedup_key,
                content=c.content,
            )

    @staticmethod
    def checked(insights: Iterable[Mapping[str, Any] | None]) -> list[Insight]:
        """The analysis's insight dicts as ``Insight`` models (None skipped)."""
        return [Insight.model_validate(i) for i in insights if i is not None]
