"""SqueezeAgent's analysis: the squeeze score per symbol, its inputs, the ranking, crossings.

Inputs: ``short_interest`` records (short interest, float, days to cover, borrow fee,
utilization) and ``quote`` records (price change and relative volume). The score is
``alphawire.analytics.squeeze_score`` (0-100; missing inputs drop out and the weights of the
rest are renormalised) on:

- ``si_pct_float = short_interest / float_shares``, ``days_to_cover``, ``borrow_fee``,
  ``utilization``, ``float_shares`` from the newest short-interest record;
- ``rvol = session volume / (avg_daily_volume × elapsed / 23,400 s)``
  (``analytics.market.paced_relative_volume``): the session's volume so far against the
  average day's pace, once ``rvol_min_seconds`` of the session have
  passed (earlier it is left out: a few seconds of prints say nothing). The pace is linear,
  so the heavier opening minutes read a little above 1 on an ordinary day.

The insight's ``metrics.inputs`` shows the inputs in people's units (percentages, days,
shares, a multiple). An alert ``squeeze_threshold`` fires when a symbol's score reaches
``threshold``; it re-arms only once the score falls below ``threshold − hysteresis``
(``Threshold``), so a score hovering at the line alerts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.book import WatchlistBook
from alphawire.agents.framework import AgentOptions
from alphawire.agents.insight import Insight
from alphawire.agents.triggers import AlertCall, CallingAgent, Threshold, evidence
from alphawire.analytics.market import paced_relative_volume
from alphawire.analytics.squeeze import SQUEEZE_WEIGHTS, squeeze_components, squeeze_score
from alphawire.sources.options import Duration
from alphawire.sources.records import Quote, Record, ShortInterest


class SqueezeOptions(AgentOptions):
    """``[agents.squeeze]`` in alphawire.toml (besides the keys every agent takes)."""

    cadence: Duration = Field(15.0, description="seconds between scorings (new data: at once)")
    threshold: float = Field(75.0, gt=0, le=100, description="alert at this score")
    hysteresis: float = Field(5.0, ge=0, le=50, description="re-arm below threshold − this")
    rvol_min_seconds: float = Field(10.0, ge=0, description="session seconds before rvol")


@dataclass
class _Symbol:
    symbol: str
    si: ShortInterest | None = None
    quote: Quote | None = None
    rvol: float | None = None
    score: float | None = None
    inputs: dict[str, float] = field(default_factory=dict)
    components: dict[str, float] = field(default_factory=dict)
    gate: Threshold | None = None
    simulated: bool = False


class SqueezeBook(WatchlistBook[SqueezeOptions, _Symbol]):
    """Squeeze state per watchlist symbol."""

    def _new(self, symbol: str) -> _Symbol:
        return _Symbol(symbol, gate=Threshold(self.options.threshold, self.options.hysteresis))

    def observe(self, record: Record) -> None:
        """Take a short-interest record or a quote (scoring happens in ``score``)."""
        if not isinstance(record, ShortInterest | Quote):
            return
        s = self._state(record.symbol)
        if s is None:
            return
        s.simulated = s.simulated or record.simulated
        if isinstance(record, ShortInterest):
            s.si = record
        else:
            s.quote = record

    def score(self, now: datetime, session_open: datetime | None) -> list[AlertCall]:
        """Score every symbol as of ``now``; the threshold crossings.

        ``session_open`` is the open of the session in progress (None when closed: rvol is
        then left out).
        """
        calls: list[AlertCall] = []
        for s in self._by_symbol.values():
            if s.si is None:
                continue
            si = s.si
            s.rvol = None
            q = s.quote
            if session_open is not None and q is not None and si.avg_daily_volume:
                elapsed = (now - session_open).total_seconds()
                if elapsed >= max(self.options.rvol_min_seconds, 1e-9) and q.ts >= session_open:
                    s.rvol = paced_relative_volume(q.volume, si.avg_daily_volume, elapsed)
            pct = si.short_interest / si.float_shares if si.float_shares else None
            given = {
                "si_pct_float": pct,
                "days_to_cover": si.days_to_cover,
                "borrow_fee": si.borrow_fee,
                "utilization": si.utilization,
                "float_shares": si.float_shares,
                "rvol": s.rvol,
            }
            s.score = squeeze_score(**given)
            s.components = {k: round(v, 4) for k, v in squeeze_components(**given).items()}
            s.inputs = _inputs(given, q)
            if s.score is None or s.gate is None or not s.gate.update(s.score):
                continue
            shown = round(s.score, 1)
            calls.append(
                AlertCall(
                    "squeeze_threshold",
                    s.symbol,
                    "high" if s.score >= 90 else "medium",
                    f"{s.symbol} squeeze score {shown:.1f} crossed {self.options.threshold:g}",
                    _drivers(s),
                    tuple(
                        (k, f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:g}") for k, v in s.inputs.items()
                    ),
                    f"squeeze_threshold:{s.symbol}",
                    now,
                    s.simulated,
                )
            )
        return calls

    def ranking(self) -> list[tuple[str, float]]:
        """(symbol, score) by score, highest first (ties by symbol)."""
        scored = [(s.symbol, s.score) for s in self._by_symbol.values() if s.score is not None]
        return sorted(
            ((sym, sc) for sym, sc in scored if sc is not None), key=lambda x: (-x[1], x[0])
        )

    def insight(self, symbol: str, now: datetime) -> dict[str, Any] | None:
        """The symbol's insight (``docs/dashboard.md`` squeeze metrics)."""
        s = self._by_symbol.get(symbol)
        if s is None or s.score is None or s.si is None:
            return None
        ranks = [sym for sym, _ in self.ranking()]
        rank = ranks.index(symbol) + 1
        value = round(s.score, 1)
        above = value >= self.options.threshold
        weight = sum(SQUEEZE_WEIGHTS[k] for k in s.components)
        headline = f"{symbol} squeeze score {value:.1f}, rank {rank} of {len(ranks)}"
        return {
            "symbol": symbol,
            "stance": "bullish" if above else "neutral",
            "score": round(value / 100, 3),
            "confidence": round(weight, 2),
            "headline": headline,
            "summary": _drivers(s),
            "metrics": {
                "squeeze_score": value,
                "inputs": s.inputs,
                "components": s.components,
                "rank": rank,
                "ranked": len(ranks),
                "threshold": self.options.threshold,
            },
            "levels": {},
            "evidence": [
                evidence(
                    s.si.source,
                    s.si.short_interest,
                    s.si.ts,
                    f"short interest {s.si.short_interest:,.0f} shares, "
                    f"settled {s.si.settlement_date.isoformat()}",
                )
            ],
            "as_of": max(s.si.ts, s.quote.ts if s.quote else s.si.ts).isoformat(),
            "simulated": s.simulated,
        }

    def market_insight(self, now: datetime) -> dict[str, Any] | None:
        """The market-wide insight: the watchlist ranked by squeeze score."""
        ranked = self.ranking()
        if not ranked:
            return None
        top = ranked[0][0]
        rows = [{"symbol": sym, "squeeze_score": round(sc, 1)} for sym, sc in ranked]
        return {
            "symbol": None,
            "stance": "neutral",
            "score": 0.0,
            "confidence": 0.5,
            "headline": f"Most crowded short: {top} at {rows[0]['squeeze_score']:.1f}",
            "summary": f"{len(rows)} symbols scored.",
            "metrics": {"ranking": rows, "ranked": len(rows)},
            "levels": {},
            "evidence": [],
            "as_of": now.isoformat(),
            "simulated": any(s.simulated for s in self._by_symbol.values()),
        }


def _inputs(given: dict[str, float | None], q: Quote | None) -> dict[str, float]:
    out: dict[str, float] = {}
    scale = {
        "si_pct_float": ("short_interest_pct", 100, 2),
        "days_to_cover": ("days_to_cover", 1, 2),
        "borrow_fee": ("borrow_fee_pct", 100, 2),
        "utilization": ("utilization_pct", 100, 1),
        "float_shares": ("float_shares", 1, 0),
        "rvol": ("rel_volume", 1, 2),
    }
    for name, value in given.items():
        if value is not None:
            key, times, digits = scale[name]
            out[key] = round(value * times, digits)
    if q is not None and q.prev_close:
        out["change_pct"] = round((q.last / q.prev_close - 1) * 100, 2)
    return out


def _drivers(s: _Symbol) -> str:
    names = {
        "short_interest_pct": "short interest {v:g}% of float",
        "days_to_cover": "{v:g} days to cover",
        "borrow_fee_pct": "borrow {v:g}% a year",
        "utilization_pct": "utilization {v:g}%",
        "rel_volume": "volume {v:g}x its usual pace",
    }
    parts = [text.format(v=s.inputs[k]) for k, text in names.items() if k in s.inputs]
    return ("Drivers: " + ", ".join(parts) + ".") if parts else "No inputs yet."


class SqueezeAgent(CallingAgent):
    """Squeeze score per symbol, ranked, on ``agent_squeeze``; ``squeeze_threshold`` alerts."""

    name: ClassVar[str] = "squeeze"
    Options: ClassVar[type[AgentOptions]] = SqueezeOptions
    records: ClassVar[tuple[str, ...]] = ("short_interest", "quote")

    def setup(self, ctx: AgentContext) -> None:
        assert isinstance(self.options, SqueezeOptions)
        self.book = SqueezeBook(self.options, self.watchlist)

    def on_record(self, record: Record) -> None:
        self.book.observe(record)
        if isinstance(record, ShortInterest):
            self.trigger("short interest")

    async def evaluate(self, now: datetime) -> list[Insight]:
        assert self.ctx is not None
        calendar = self.ctx.calendar
        opened = calendar.next_open(calendar.previous_close(now)) if calendar.is_open(now) else None
        self.queue(self.book.score(now, opened), trigger=False)
        await self.raise_queued()
        found = [self.book.insight(s, now) for s, _ in self.book.ranking()]
        return self.checked([*found, self.book.market_insight(now)])
