"""``MarketAgent`` (``market``): trend, volatility regime, relative volume and gap per symbol,
and breadth across the watchlist.

Per symbol it keeps one close per minute of the current session (the minute's newest print,
or quote for a source without prints; fixed arrays of 420 minutes) and the session's
cumulative volume at each minute; at a new session the finished session's volume-by-minute is
kept for the relative volume (up to ``volume_sessions``).
Every ``cadence`` (default 30 s, intraday only) it publishes, per symbol with quotes:

- ``trend`` over the last ``trend_window`` minutes (``analytics.market.trend``: the move in
  units of its own one-minute noise, ``trend_z``; up/down beyond ``trend_threshold``),
- ``volatility`` (annualised realised volatility of the last ``trend_window`` minutes, a
  fraction) and ``volatility_regime`` (against the whole session's: high above
  ``vol_high_ratio`` × it, low below 0.75 ×, else normal),
- ``rel_volume`` and ``avg_volume`` (the usual volume by now), on one of two bases named by
  ``rel_volume_basis``: ``"sessions"``, volume so far ÷ the mean volume by this minute of the
  earlier sessions the agent saw (``analytics.market.relative_volume``); before it has seen
  one, ``"adv_pace"``, volume so far ÷ the symbol's average daily volume (from its newest
  ``short_interest`` record, FINRA's average daily volume) spread evenly over the session
  (``analytics.market.paced_relative_volume``), once 30 s of the session have passed;
  absent when neither is known. ``volume``, ``gap_pct``, ``change_pct``;

and one market-wide insight with ``breadth`` (advancers / decliners / unchanged against the
previous close). Score per symbol: ``clip(trend_z / 3, −1, 1)``; market-wide:
``(advancers − decliners) / symbols``. Alerts: ``gap`` (|gap| ≥ ``gap_alert_pct``, once per
symbol per session), ``volume_spike`` (rel_volume ≥ ``rel_volume_alert`` on the ``sessions``
basis only: an even pace overstates every morning, whose volume is front-loaded) and
``volatility_high`` (regime turns high), each with the cooldown.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.framework import AgentOptions, BaseAgent
from alphawire.agents.insight import Evidence, Insight
from alphawire.analytics.market import (
    SESSION_SECONDS,
    breadth,
    gap_pct,
    paced_relative_volume,
    realized_volatility,
    relative_volume,
    trend,
    volatility_regime,
)
from alphawire.sources.options import Duration
from alphawire.sources.records import Quote, Record, ShortInterest, Trade

NEW_YORK = ZoneInfo("America/New_York")
SESSION_MINUTES = 420  # minute slots kept per session (390 regular + margin for a late tape)
PACE_MIN_SECONDS = 30.0  # session seconds before a paced relative volume means anything


class MarketOptions(AgentOptions):
    """``[agents.market]``: the market agent's windows and alert thresholds."""

    cadence: Duration = Field(default=30.0, description="seconds between evaluations")
    intraday_only: bool = Field(default=True, description="skip evaluations while NYSE is closed")
    trend_window: int = Field(default=30, ge=5, le=390, description="minutes for trend/vol")
    trend_threshold: float = Field(default=1.0, gt=0, description="|trend_z| for up/down")
    volume_sessions: int = Field(default=20, ge=1, le=60, description="sessions for rel volume")
    vol_high_ratio: float = Field(
        default=1.5, gt=1, description="recent / session volatility above this is high"
    )
    gap_alert_pct: float = Field(default=2.0, gt=0, description="alert on a gap this large")
    rel_volume_alert: float = Field(default=3.0, gt=1, description="alert at this rel volume")


def _empty() -> np.ndarray:
    return np.full(SESSION_MINUTES, np.nan)


@dataclass
class _Symbol:
    """One symbol's session so far, by minute of the session (NaN: nothing that minute)."""

    day: date
    trade_close: np.ndarray = field(default_factory=_empty)  # newest print's price per minute
    trade_at: np.ndarray = field(default_factory=_empty)  # and its POSIX time
    quote_close: np.ndarray = field(default_factory=_empty)  # newest quote's last per minute
    quote_at: np.ndarray = field(default_factory=_empty)
    volume_by_minute: np.ndarray = field(default_factory=_empty)
    minute: int = -1  # the latest minute with a record
    last: Quote | None = None
    regime: str = "normal"

    def closes(self) -> list[float]:
        """The minute closes: from prints when the session has any (a record stream never
        drops or reorders them), else from quotes (which a stream conflates)."""
        source = self.trade_close if not np.all(np.isnan(self.trade_close)) else self.quote_close
        return [float(v) for v in source[~np.isnan(source)]]


class MarketAgent(BaseAgent):
    """Trend, volatility, relative volume and gaps per symbol; breadth over the watchlist."""

    name = "market"
    Options = MarketOptions
    options: MarketOptions
    records = ("quote", "trade", "short_interest")

    def setup(self, ctx: AgentContext) -> None:
        self.symbols: dict[str, _Symbol] = {}
        cap = self.options.volume_sessions
        self.history: dict[str, deque[np.ndarray]] = {s: deque(maxlen=cap) for s in self.watchlist}
        self.avg_daily_volume: dict[str, float] = {}  # newest short-interest file's, by symbol

    def on_record(self, record: Record) -> None:
        # Trades as well as quotes: a record stream conflates quotes (the newest per symbol
        # takes the place of a waiting one, so some are never seen), never trades. Each
        # minute's close is its newest print (else quote) by time, whatever the arrival order.
        if record.symbol not in self.history:
            return  # bounded: the watchlist only
        if isinstance(record, ShortInterest):
            if record.avg_daily_volume:
                self.avg_daily_volume[record.symbol] = record.avg_daily_volume
            return
        if not isinstance(record, Quote | Trade):
            return
        local = record.ts.astimezone(NEW_YORK)
        minute = (local.hour * 60 + local.minute) - (9 * 60 + 30)
        state = self.symbols.get(record.symbol)
        if state is None or state.day != local.date():
            if state is not None and state.minute >= 0:
                self.history[record.symbol].append(state.volume_by_minute)
            state = self.symbols[record.symbol] = _Symbol(local.date())
        if isinstance(record, Quote) and (state.last is None or record.ts >= state.last.ts):
            state.last = record
        if not 0 <= minute < SESSION_MINUTES:
            return
        if isinstance(record, Quote):
            # Cumulative: the largest seen in the minute is its newest.
            state.volume_by_minute[minute] = np.fmax(state.volume_by_minute[minute], record.volume)
        trade = isinstance(record, Trade)
        price = record.price if isinstance(record, Trade) else record.last
        closes, times = (
            (state.trade_close, state.trade_at) if trade else (state.quote_close, state.quote_at)
        )
        stamp = record.ts.timestamp()
        if price > 0 and not stamp < times[minute]:  # NaN (nothing yet) compares False
            times[minute] = stamp
            closes[minute] = price
        state.minute = max(state.minute, minute)

    async def evaluate(self, now: datetime) -> list[Insight]:
        out: list[Insight] = []
        changes: list[float] = []
        evidence: list[Evidence] = []
        for symbol in self.watchlist:
            state = self.symbols.get(symbol)
            if state is None or state.last is None:
                continue
            insight = await self._symbol_insight(symbol, state, now)
            out.append(insight)
            change = insight.metrics.get("change_pct")
            if change is not None:
                changes.append(change)
                evidence.append(
                    Evidence(source="quote", value=change, time=state.last.ts, text=symbol)
                )
        if changes:
            out.append(self._breadth_insight(changes, evidence, now))
        return out

    async def _symbol_insight(self, symbol: str, state: _Symbol, now: datetime) -> Insight:
        quote = state.last
        assert quote is not None
        opts = self.options
        closes = state.closes()
        recent = closes[-(opts.trend_window + 1) :]
        reading = trend(recent, opts.trend_threshold) if recent else None
        vol = realized_volatility(recent) if recent else 0.0
        session_vol = realized_volatility(closes) if closes else 0.0
        regime = volatility_regime(vol, session_vol, high=opts.vol_high_ratio)
        metrics: dict[str, Any] = {
            "last": quote.last,
            "volume": quote.volume,
            "trend": reading.label if reading else "sideways",
            "trend_z": round(reading.z, 4) if reading else 0.0,
            "trend_window_min": len(recent),
            "volatility": round(vol, 6),
            "session_volatility": round(session_vol, 6),
            "volatility_regime": regime,
        }
        if quote.prev_close:
            metrics["prev_close"] = quote.prev_close
            metrics["change_pct"] = round(
                (quote.last - quote.prev_close) / quote.prev_close * 100, 4
            )
            if quote.open:
                metrics["gap_pct"] = round(gap_pct(quote.open, quote.prev_close), 4)
        if 0 <= state.minute < SESSION_MINUTES:
            usual = [h[state.minute] for h in self.history[symbol]]
            rel = relative_volume(quote.volume, usual)
            if rel is not None:
                metrics["rel_volume"] = round(rel, 4)
                metrics["avg_volume"] = round(float(np.nanmean(usual)), 1)
                metrics["rel_volume_basis"] = "sessions"
            else:
                self._paced_volume(symbol, quote, metrics)
        await self._alerts(symbol, state, metrics)
        z = metrics["trend_z"]
        score = float(np.clip(z / 3, -1, 1))
        stance = {"up": "bullish", "down": "bearish"}.get(metrics["trend"], "neutral")
        filled = min(1.0, len(recent) / (opts.trend_window + 1))
        confidence = round(filled * (0.5 + 0.5 * min(1.0, abs(z) / 3)), 4)
        return Insight(
            symbol=symbol,
            stance=stance,
            score=round(score, 4),
            confidence=confidence,
            headline=_headline(symbol, metrics),
            summary=_summary(metrics),
            metrics=metrics,
            levels={
                k: v
                for k, v in (
                    ("prev_close", quote.prev_close),
                    ("open", quote.open),
                    ("high", quote.high),
                    ("low", quote.low),
                )
                if v
            },
            evidence=[
                Evidence(source=quote.source, value=quote.last, time=quote.ts, text="last price")
            ],
            as_of=quote.ts,
        )

    def _paced_volume(self, symbol: str, quote: Quote, metrics: dict[str, Any]) -> None:
        """Relative volume against the average day's even pace (no earlier session seen)."""
        adv = self.avg_daily_volume.get(symbol)
        local = quote.ts.astimezone(NEW_YORK)
        opened = local.replace(hour=9, minute=30, second=0, microsecond=0)
        elapsed = (local - opened).total_seconds()
        if adv is None or elapsed < PACE_MIN_SECONDS:
            return  # a few seconds of prints say nothing about the day's pace
        rel = paced_relative_volume(quote.volume, adv, elapsed)
        if rel is not None:
            metrics["rel_volume"] = round(rel, 4)
            metrics["avg_volume"] = round(adv * min(elapsed, SESSION_SECONDS) / SESSION_SECONDS, 1)
            metrics["rel_volume_basis"] = "adv_pace"

    async def _alerts(self, symbol: str, state: _Symbol, metrics: dict[str, Any]) -> None:
        opts = self.options
        gap = metrics.get("gap_pct")
        if gap is not None and abs(gap) >= opts.gap_alert_pct:
            await self.alert(
                "gap",
                title=f"{symbol} gapped {'up' if gap > 0 else 'down'} {abs(gap):.1f}%",
                symbol=symbol,
                severity="medium",
                fields={"gap %": round(gap, 2), "prev close": metrics["prev_close"]},
                dedup_key=f"market:gap:{symbol}:{state.day.isoformat()}",
                cooldown=86_400.0,
            )
        rel = metrics.get("rel_volume")
        paced = metrics.get("rel_volume_basis") != "sessions"
        if rel is not None and not paced and rel >= opts.rel_volume_alert:
            await self.alert(
                "volume_spike",
                title=f"{symbol} volume {rel:.1f}x its usual by this time",
                symbol=symbol,
                severity="medium",
                fields={"rel volume": round(rel, 2), "volume": metrics["volume"]},
            )
        regime = metrics["volatility_regime"]
        if regime == "high" and state.regime != "high":
            await self.alert(
                "volatility_high",
                title=f"{symbol} volatility expanding",
                symbol=symbol,
                severity="low",
                fields={
                    "recent vol %": round(metrics["volatility"] * 100, 1),
                    "session vol %": round(metrics["session_volatility"] * 100, 1),
                },
            )
        state.regime = regime

    def _breadth_insight(
        self, changes: list[float], evidence: list[Evidence], now: datetime
    ) -> Insight:
        counts = breadth(changes)
        total = len(changes)
        score = (counts["advancers"] - counts["decliners"]) / total
        stance = "bullish" if score > 0.2 else "bearish" if score < -0.2 else "neutral"
        return Insight(
            symbol=None,
            stance=stance,
            score=round(score, 4),
            confidence=round(min(1.0, total / max(len(self.watchlist), 1)), 4),
            headline=(
                f"Breadth: {counts['advancers']} up, {counts['decliners']} down, "
                f"{counts['unchanged']} flat"
            ),
            metrics={"breadth": counts, "symbols": total},
            evidence=evidence,
            as_of=now,
        )


def _headline(symbol: str, m: dict[str, Any]) -> str:
    parts = [f"{symbol} {m['last']:.2f}"]
    if "change_pct" in m:
        parts.append(f"{m['change_pct']:+.2f}% on the day")
    word = {"up": "trending up", "down": "trending down"}.get(m["trend"], "going sideways")
    parts.append(word)
    if "rel_volume" in m:
        parts.append(f"volume {m['rel_volume']:.1f}x usual")
    return ", ".join(parts)


def _summary(m: dict[str, Any]) -> str:
    text = (
        f"Trend z {m['trend_z']:.2f} over {m['trend_window_min']} minutes; realised volatility "
        f"{m['volatility'] * 100:.1f}% annualised ({m['volatility_regime']} against the "
        f"session's {m['session_volatility'] * 100:.1f}%)."
    )
    if "gap_pct" in m:
        text += f" Opened with a {m['gap_pct']:+.2f}% gap."
    return text
