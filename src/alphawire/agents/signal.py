"""``SignalAgent`` (``signal``): the agents' stances combined into trade signals, each tracked
to its outcome.

**The rule** (every number configurable in ``[agents.signal]``). For each watchlist symbol,
the latest per-symbol insight of every other agent (``agent_*``) younger than ``max_age`` is a
vote ``v_a = score_a × confidence_a`` (each −1..1) with weight ``w_a`` (``weights``, default
1). The combined score is ``S = Σ w_a v_a / Σ w_a``. A signal is raised when
``|S| ≥ threshold`` (0.3) and at least ``min_agents`` (2) agents have a stance of S's sign;
``action`` is ``"buy"`` for S > 0, ``"sell"`` for S < 0; ``confidence = min(1, |S|) ×
agreeing / voting`` (voting: agents with a non-neutral stance). No new signal for a symbol while
one is open, within ``rearm`` (15 min) of its last one's close, or until some vote is newer
than its last signal (fresh evidence, not the same stances again). ``entry`` is the last
quote; ``stop`` / ``target`` are ``stop_pct`` (1 %) against and ``target_pct`` (2 %) in favour
of the entry; ``timeframe`` is ``horizon`` (2 h) written as a duration.

Hand-checked: gamma bullish 0.6 × 0.8 = 0.48, darkpool bullish 0.5 × 0.6 = 0.30, reddit
bearish −0.2 × 0.5 = −0.10, equal weights: S = 0.68 / 3 = 0.2267 < 0.3, no signal; with gamma's
weight 2: S = (0.96 + 0.30 − 0.10) / 4 = 0.29, still none; with ``threshold = 0.25`` a buy with
confidence 0.29 × 2/3 = 0.1933.

**Outcomes**, on every quote (``last``) and trade (``price``) of the symbol: a buy is ``hit``
when the price ≥ target, ``stopped`` when ≤ stop (a sell the mirror); a signal neither by
``opened + horizon`` on the clock is ``expired``. A hit or a stop is also an alert
(``signal_hit`` / ``signal_stopped``) at the next evaluation. ``record = {signals, hits,
stops, expired, open, hit_rate}`` where ``hit_rate = hits / (hits + stops + expired)`` (closed
signals; 0 with none closed) — on the market-wide insight's ``metrics.record`` (its confidence:
the hit rate × min(1, closed / 10)) and ``performance()`` (``GET
/api/v1/signals/performance``). Closed signals kept: the last ``MAX_CLOSED``.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.framework import AgentOptions, BaseAgent
from alphawire.agents.insight import Evidence, Insight
from alphawire.sources.options import Duration
from alphawire.sources.records import Quote, Record, Trade

MAX_CLOSED = 500
MAX_AGENTS = 32  # voters remembered per symbol (agents are few; a flood of names is capped)
Outcome = Literal["open", "hit", "stopped", "expired"]


class SignalOptions(AgentOptions):
    """``[agents.signal]``: the combination rule and the signals' risk and horizon."""

    cadence: Duration = Field(default=30.0, description="seconds between evaluations")
    threshold: float = Field(default=0.3, gt=0, le=1, description="|combined score| to signal")
    min_agents: int = Field(default=2, ge=1, description="agents agreeing with the direction")
    max_age: Duration = Field(default=1800.0, description="ignore insights older than this")
    weights: dict[str, float] = Field(default_factory=dict, description="agent -> weight (1)")
    stop_pct: float = Field(default=1.0, gt=0, lt=50, description="stop, percent from entry")
    target_pct: float = Field(default=2.0, gt=0, lt=100, description="target, percent")
    horizon: Duration = Field(default=7200.0, description="a signal expires after this")
    rearm: Duration = Field(
        default=900.0, description="no new signal for a symbol this soon after one closed"
    )


@dataclass
class Vote:
    """One agent's latest stance on a symbol."""

    agent: str
    stance: str
    score: float
    confidence: float
    headline: str
    as_of: datetime


@dataclass
class TrackedSignal:
    """A published signal and what became of it."""

    id: str
    symbol: str
    action: str
    entry: float
    stop: float
    target: float
    confidence: float
    opened: datetime
    expires: datetime
    agents: list[str]
    outcome: Outcome = "open"
    closed: datetime | None = None
    exit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "symbol": self.symbol,
            "action": self.action,
            "entry": self.entry,
            "stop": self.stop,
            "target": self.target,
            "confidence": self.confidence,
            "opened": self.opened.isoformat(),
            "expires": self.expires.isoformat(),
            "agents": self.agents,
            "outcome": self.outcome,
            "closed": self.closed.isoformat() if self.closed else None,
            "exit": self.exit,
        }


def combine(votes: list[Vote], weights: Mapping[str, float]) -> tuple[float, int, int]:
    """``(S, agreeing, voting)`` for the rule in the module docstring."""
    total_weight = sum(weights.get(v.agent, 1.0) for v in votes)
    if not votes or total_weight <= 0:
        return 0.0, 0, 0
    s = sum(weights.get(v.agent, 1.0) * v.score * v.confidence for v in votes) / total_weight
    wanted = "bullish" if s > 0 else "bearish"
    voting = sum(v.stance != "neutral" for v in votes)
    agreeing = sum(v.stance == wanted for v in votes)
    return s, agreeing, voting


class SignalAgent(BaseAgent):
    """Combines the other agents' stances into signals and keeps their record."""

    name = "signal"
    Options = SignalOptions
    options: SignalOptions
    records = ("quote", "trade")
    channels = ("agent_*",)

    def setup(self, ctx: AgentContext) -> None:
        self.votes: dict[str, dict[str, Vote]] = {s: {} for s in self.watchlist}
        self.last_price: dict[str, float] = {}
        self.open: dict[str, TrackedSignal] = {}
        self.closed: deque[TrackedSignal] = deque(maxlen=MAX_CLOSED)
        self.tally = {"signals": 0, "hits": 0, "stops": 0, "expired": 0}
        self.last_signal: dict[str, datetime] = {}
        self.last_closed: dict[str, datetime] = {}
        self.resolved: deque[TrackedSignal] = deque(maxlen=100)
        self._ids = itertools.count(1)

    def on_message(self, message: Mapping[str, Any]) -> None:
        insight = message.get("insight")
        agent = str(message.get("agent", "")).lower()
        if message.get("type") != "agent_insight" or not isinstance(insight, Mapping):
            return
        symbol = insight.get("symbol")
        votes = self.votes.get(symbol) if isinstance(symbol, str) else None
        if votes is None or (agent not in votes and len(votes) >= MAX_AGENTS):
            return  # market-wide, off the watchlist, or one agent too many
        try:
            vote = Vote(
                agent,
                str(insight.get("stance", "neutral")),
                float(insight["score"]),
                float(insight["confidence"]),
                str(insight.get("headline", "")),
                datetime.fromisoformat(str(insight.get("as_of") or message["timestamp"])),
            )
        except (KeyError, TypeError, ValueError):
            return  # not an insight of the documented shape: nothing to vote with
        previous = votes.get(agent)
        votes[agent] = vote
        if previous is None or previous.stance != vote.stance:
            self.trigger(f"{agent} {vote.stance} on {symbol}")

    def on_record(self, record: Record) -> None:
        # Trades as well as quotes: a stream conflates quotes (newest per symbol), never
        # trades, so a print that touched a target is seen even when quotes were skipped.
        if isinstance(record, Quote):
            price = record.last
        elif isinstance(record, Trade):
            price = record.price
        else:
            return
        if price <= 0:
            return
        self.last_price[record.symbol] = price
        tracked = self.open.get(record.symbol)
        if tracked is None:
            return
        buy = tracked.action == "buy"
        if (price >= tracked.target) if buy else (price <= tracked.target):
            self._close(tracked, "hit", record.ts, price)
        elif (price <= tracked.stop) if buy else (price >= tracked.stop):
            self._close(tracked, "stopped", record.ts, price)

    def _close(
        self, tracked: TrackedSignal, outcome: Outcome, at: datetime, price: float | None
    ) -> None:
        tracked.outcome, tracked.closed, tracked.exit = outcome, at, price
        self.last_closed[tracked.symbol] = at
        del self.open[tracked.symbol]
        self.closed.append(tracked)
        self.tally[{"hit": "hits", "stopped": "stops", "expired": "expired"}[outcome]] += 1
        if outcome != "expired":
            self.resolved.append(tracked)  # alerted at the next evaluation: on_record never waits

    def record(self) -> dict[str, Any]:
        """``{signals, hits, stops, expired, open, hit_rate}`` (see the module docstring)."""
        closed = self.tally["hits"] + self.tally["stops"] + self.tally["expired"]
        return {
            **self.tally,
            "open": len(self.open),
            "hit_rate": round(self.tally["hits"] / closed, 4) if closed else 0.0,
        }

    def performance(self) -> dict[str, Any]:
        """The record, the open signals and the closed ones (newest first)."""
        return {
            "record": self.record(),
            "open": [t.as_json() for t in self.open.values()],
            "closed": [t.as_json() for t in reversed(self.closed)],
        }

    async def evaluate(self, now: datetime) -> list[Insight]:
        opts = self.options
        for tracked in list(self.open.values()):
            if now >= tracked.expires:
                self._close(
                    tracked, "expired", tracked.expires, self.last_price.get(tracked.symbol)
                )
        while self.resolved:
            await self._outcome_alert(self.resolved.popleft())
        out: list[Insight] = []
        for symbol in self.watchlist:
            fresh = [
                v
                for v in self.votes[symbol].values()
                if (now - v.as_of).total_seconds() <= opts.max_age
            ]
            if not fresh:
                continue
            s, agreeing, voting = combine(fresh, opts.weights)
            fires = abs(s) >= opts.threshold and agreeing >= opts.min_agents
            last = self.last_signal.get(symbol)
            closed = self.last_closed.get(symbol)
            ready = (last is None or any(v.as_of > last for v in fresh)) and (
                closed is None or (now - closed).total_seconds() >= opts.rearm
            )
            if fires and ready and symbol not in self.open and symbol in self.last_price:
                await self._raise_signal(symbol, s, agreeing, voting, fresh, now)
            out.append(self._symbol_insight(symbol, s, agreeing, voting, fresh, now))
        out.append(self._record_insight(now))
        return out

    async def _raise_signal(
        self, symbol: str, s: float, agreeing: int, voting: int, votes: list[Vote], now: datetime
    ) -> None:
        assert self.ctx is not None
        opts = self.options
        buy = s > 0
        entry = self.last_price[symbol]
        sign = 1 if buy else -1
        stop = round(entry * (1 - sign * opts.stop_pct / 100), 4)
        target = round(entry * (1 + sign * opts.target_pct / 100), 4)
        confidence = round(min(1.0, abs(s)) * agreeing / max(voting, 1), 4)
        wanted = "bullish" if buy else "bearish"
        backers = sorted((v for v in votes if v.stance == wanted), key=lambda v: v.agent)
        against = sorted(
            (v for v in votes if v.stance not in (wanted, "neutral")), key=lambda v: v.agent
        )
        rationale = (
            f"{'buy' if buy else 'sell'} {symbol}: combined score {s:+.2f} from "
            + "; ".join(f"{v.agent} {v.stance} {v.score:+.2f} ({v.headline})" for v in backers)
            + (f"; against: {', '.join(v.agent for v in against)}" if against else "")
        )
        tracked = TrackedSignal(
            id=f"sig-{now:%Y%m%dT%H%M%S}-{symbol}-{next(self._ids)}",
            symbol=symbol,
            action="buy" if buy else "sell",
            entry=entry,
            stop=stop,
            target=target,
            confidence=confidence,
            opened=now,
            expires=now + timedelta(seconds=opts.horizon),
            agents=[v.agent for v in backers],
        )
        await self.ctx.publish_signal(
            {
                "symbol": symbol,
                "action": tracked.action,
                "confidence": confidence,
                "entry": entry,
                "stop": stop,
                "target": target,
                "timeframe": _duration(opts.horizon),
                "rationale": rationale[:4096],
                "id": tracked.id,
                "agents": tracked.agents,
                "expires": tracked.expires.isoformat(),
                "simulated": self.simulated_inputs,
            },
            timestamp=now,
        )
        self.open[symbol] = tracked
        self.last_signal[symbol] = now
        self.tally["signals"] += 1

    async def _outcome_alert(self, tracked: TrackedSignal) -> None:
        hit = tracked.outcome == "hit"
        exit_price = tracked.exit if tracked.exit is not None else tracked.entry
        move = (exit_price - tracked.entry) / tracked.entry * 100
        await self.alert(
            "signal_hit" if hit else "signal_stopped",
            title=f"{tracked.symbol} {tracked.action} {'hit its target' if hit else 'stopped out'}"
            f" at {exit_price:.2f} ({move:+.2f}%)",
            symbol=tracked.symbol,
            severity="medium" if hit else "low",
            fields={
                "entry": tracked.entry,
                "exit": exit_price,
                "target": tracked.target,
                "stop": tracked.stop,
                "opened": tracked.opened.isoformat(),
            },
            dedup_key=f"signal:{tracked.id}",
        )

    def _symbol_insight(
        self, symbol: str, s: float, agreeing: int, voting: int, votes: list[Vote], now: datetime
    ) -> Insight:
        tracked = self.open.get(symbol)
        stance = (
            "bullish"
            if s >= self.options.threshold
            else "bearish"
            if s <= -self.options.threshold
            else "neutral"
        )
        headline = f"{symbol}: combined score {s:+.2f}, {agreeing} of {voting} agents agree"
        if tracked is not None:
            headline += f"; open {tracked.action} from {tracked.entry:.2f}"
        return Insight(
            symbol=symbol,
            stance=stance,
            score=round(max(-1.0, min(1.0, s)), 4),
            confidence=round(min(1.0, abs(s)) * agreeing / max(voting, 1), 4),
            headline=headline,
            metrics={
                "combined": round(s, 4),
                "agreeing": agreeing,
                "voting": voting,
                "votes": {v.agent: round(v.score * v.confidence, 4) for v in votes},
                "open_signal": tracked.as_json() if tracked else None,
            },
            levels={"entry": tracked.entry, "stop": tracked.stop, "target": tracked.target}
            if tracked
            else {},
            evidence=[
                Evidence(
                    source=f"agent_{v.agent}", value=v.score, time=v.as_of, text=v.headline[:1024]
                )
                for v in sorted(votes, key=lambda v: v.agent)
            ],
            as_of=now,
        )

    def _record_insight(self, now: datetime) -> Insight:
        record = self.record()
        closed = record["hits"] + record["stops"] + record["expired"]
        longs = sum(t.action == "buy" for t in self.open.values())
        shorts = len(self.open) - longs
        net = (longs - shorts) / len(self.open) if self.open else 0.0
        return Insight(
            symbol=None,
            stance="bullish" if net > 0 else "bearish" if net < 0 else "neutral",
            score=round(net, 4),
            # The hit rate, trusted in proportion to how many signals it rests on (full at 10).
            confidence=round(record["hit_rate"] * min(1.0, closed / 10), 4),
            headline=(
                f"{_count(record['open'], 'open signal')}; record {_count(record['hits'], 'hit')}, "
                f"{_count(record['stops'], 'stop')}, {record['expired']} expired"
            ),
            summary=f"Hit rate {record['hit_rate'] * 100:.0f}% of closed signals.",
            metrics={"record": record, "open_signals": [t.as_json() for t in self.open.values()]},
            as_of=now,
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
