"""GammaAgent's analysis: dealer gamma exposure per underlying, flips and wall breaks.

Inputs: ``option_chain`` records (the chain, its spot) and ``quote`` records (the spot
between chains: the NBBO mid ``(bid + ask) / 2``). Each new chain is read with
``alphawire.analytics.chain_lines`` + ``gamma_exposure`` (dollars of dealer delta per 1 %
move, calls +, puts −: see that module), which is the heavy step the agent runs off the
event loop. Then, on every spot:

- **flip** (``gamma_flip``): the spot crossed the zero-gamma level (``zero_gamma``, where
  the re-priced chain's total GEX changes sign) by more than ``flip_band`` of it. Down
  means dealers turned short gamma (they now sell into falls: moves get bigger), severity
  ``high``; up means back to long gamma, severity ``medium``.
- **wall break** (``gamma_wall_break``): the spot went above the call wall (strike of the
  largest call GEX) or below the put wall (largest |put GEX|) by more than ``wall_band``.
  A new chain that moves a wall re-learns the spot's side of it without alerting.

Insight per symbol (``docs/dashboard.md``, gamma): ``score = clip((spot − zero_gamma) /
zero_gamma / 0.01)`` (±1 at 1 % from the flip; ±0.5 by regime when there is no flip in
0.8-1.2 × spot); ``confidence`` 0.7 with a chain younger than ``stale_after`` seconds, else
0.4.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.book import WatchlistBook
from alphawire.agents.framework import AgentOptions
from alphawire.agents.insight import Insight
from alphawire.agents.triggers import (
    AlertCall,
    CallingAgent,
    Crossing,
    clip,
    evidence,
    money,
    stance_of,
)
from alphawire.analytics.gamma import GammaProfile, chain_lines, gamma_exposure
from alphawire.sources.options import Duration
from alphawire.sources.records import OptionChain, Quote, Record

MAX_BACKLOG = 50_000  # records waiting behind an unread chain, per symbol


class GammaOptions(AgentOptions):
    """``[agents.gamma]`` in alphawire.toml (besides the keys every agent takes)."""

    cadence: Duration = Field(15.0, description="seconds between insights (chains: at once)")
    rate: float = Field(
        0.043,
        ge=-0.1,
        le=1,
        description="risk-free rate for the greeks, annual fraction (the sim prices at 4.3 %)",
    )
    flip_band: float = Field(0.0005, ge=0, lt=0.1, description="fraction past zero gamma")
    wall_band: float = Field(0.001, ge=0, lt=0.1, description="fraction past a wall")
    stale_after: float = Field(900.0, gt=0, description="seconds until a chain is stale")
    max_strikes: int = Field(120, ge=1, le=2000, description="by_strike rows kept, nearest spot")


def read_chain(chain: OptionChain, rate: float) -> GammaProfile:
    """The chain's gamma profile at its own spot (the heavy step: run it off the loop)."""
    return gamma_exposure(chain_lines(chain.contracts, chain.ts), chain.spot, rate=rate)


@dataclass
class _Underlying:
    symbol: str
    spot: float | None = None
    spot_time: datetime | None = None
    simulated: bool = False
    chain_time: datetime | None = None
    contracts: int = 0
    source: str = ""
    profile: GammaProfile | None = None
    flip: Crossing = field(default_factory=lambda: Crossing(0.0))
    call_wall: Crossing = field(default_factory=lambda: Crossing(0.0))
    put_wall: Crossing = field(default_factory=lambda: Crossing(0.0))
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5))


class GammaBook(WatchlistBook[GammaOptions, _Underlying]):
    """Gamma state per underlying (one entry per watchlist symbol at most)."""

    def __init__(self, options: GammaOptions, watchlist: tuple[str, ...] = ()) -> None:
        super().__init__(options, watchlist)
        # Per symbol with a chain waiting to be read: that chain, then every record after it.
        self._backlog: dict[str, deque[Record]] = {}
        self.dropped = 0  # quotes dropped from a full backlog

    def _new(self, symbol: str) -> _Underlying:
        o = self.options
        state = _Underlying(symbol, flip=Crossing(o.flip_band), call_wall=Crossing(o.wall_band))
        state.put_wall = Crossing(o.wall_band)
        return state

    def observe(self, record: Record) -> list[AlertCall]:
        """Take a quote (spot, crossings checked) or a chain (queued for ``take_chains``).

        While a symbol's chain waits to be read, its later records wait behind it (at most
        ``MAX_BACKLOG``; past that further quotes are dropped and counted in ``dropped``):
        each quote is compared with the levels of the chain before it, however long the
        read takes, so a replay gives the same alerts as the day it recorded.
        """
        if not isinstance(record, OptionChain | Quote) or self._state(record.symbol) is None:
            return []
        waiting = self._backlog.get(record.symbol)
        if waiting is not None:
            if len(waiting) < MAX_BACKLOG or isinstance(record, OptionChain):
                waiting.append(record)
            else:
                self.dropped += 1
            return []
        if isinstance(record, OptionChain):
            self._backlog[record.symbol] = deque([record])
            return []
        return self._quote(record)

    def _quote(self, record: Quote) -> list[AlertCall]:
        if record.bid > 0 and record.ask > 0:
            state = self._state(record.symbol)
            if state is None:
                return []
            state.spot = round((record.bid + record.ask) / 2, 4)
            state.spot_time = record.ts
            state.simulated = state.simulated or record.simulated
            return self._crossings(state, record.ts)
        return []

    def take_chains(self) -> list[OptionChain]:
        """The next chain to read of each symbol that has one waiting (``apply`` it next)."""
        return [w[0] for w in self._backlog.values() if isinstance(w[0], OptionChain)]

    def apply(self, chain: OptionChain, profile: GammaProfile) -> list[AlertCall]:
        """Store a chain's profile, check the spot against its levels, then take the records
        that waited behind it (up to the next waiting chain)."""
        calls = self._profile(chain, profile)
        waiting = self._backlog.get(chain.symbol)
        if waiting and waiting[0] is chain:
            waiting.popleft()
            while waiting and isinstance(waiting[0], Quote):
                calls += self._quote(waiting.popleft())
            if not waiting:
                del self._backlog[chain.symbol]
        return calls

    def _profile(self, chain: OptionChain, profile: GammaProfile) -> list[AlertCall]:
        state = self._state(chain.symbol)
        if state is None:
            return []
        old = state.profile
        if old is None or old.call_wall != profile.call_wall:
            state.call_wall.reset()
        if old is None or old.put_wall != profile.put_wall:
            state.put_wall.reset()
        state.profile = profile
        state.chain_time = chain.ts
        state.contracts = len(chain.contracts)
        state.source = chain.source
        state.simulated = state.simulated or chain.simulated
        # A level seen for the first time takes its side from the chain's own spot (true at
        # the chain's time): a quote already newer than the chain (the record bus conflates
        # quotes under load) is then compared with it, not taken as the starting side.
        for crossing, level in (
            (state.flip, profile.zero_gamma),
            (state.call_wall, profile.call_wall),
            (state.put_wall, profile.put_wall),
        ):
            if crossing.side is None and level is not None:
                crossing.update(chain.spot, level)
        if state.spot is None or (state.spot_time is not None and state.spot_time < chain.ts):
            state.spot, state.spot_time = chain.spot, chain.ts
        return self._crossings(state, max(chain.ts, state.spot_time or chain.ts))

    def _crossings(self, s: _Underlying, now: datetime) -> list[AlertCall]:
        p, spot = s.profile, s.spot
        if p is None or spot is None:
            return []
        calls: list[AlertCall] = []
        if p.zero_gamma is not None:
            zg = round(p.zero_gamma, 2)
            moved = s.flip.update(spot, p.zero_gamma)
            if moved is not None:
                down = moved == "down"
                what = "below" if down else "above"
                dealers = "short" if down else "long"
                calls.append(
                    self._call(
                        s,
                        now,
                        "gamma_flip",
                        "high" if down else "medium",
                        f"{s.symbol} gamma flip: spot {spot:.2f} {what} zero gamma {zg:.2f}",
                        f"Dealers are now {dealers} gamma: expect moves to be "
                        + ("amplified" if down else "dampened")
                        + ".",
                        (("Zero gamma", f"{zg:.2f}"), ("Direction", moved)),
                        f"gamma_flip:{s.symbol}",
                    )
                )
        for name, wall, crossing, outward in (
            ("call wall", p.call_wall, s.call_wall, "up"),
            ("put wall", p.put_wall, s.put_wall, "down"),
        ):
            if wall is not None and crossing.update(spot, wall) == outward:
                word = "above" if outward == "up" else "below"
                calls.append(
                    self._call(
                        s,
                        now,
                        "gamma_wall_break",
                        "medium",
                        f"{s.symbol} broke its {name}: spot {spot:.2f} {word} {wall:.2f}",
                        f"The {name} at {wall:.2f} no longer holds the price.",
                        (("Wall", name), ("Strike", f"{wall:.2f}")),
                        f"gamma_wall_break:{name.split()[0]}:{s.symbol}",
                    )
                )
        return calls

    def _call(
        self,
        s: _Underlying,
        now: datetime,
        alert_type: str,
        severity: Any,
        title: str,
        description: str,
        extra: tuple[tuple[str, str], ...],
        dedup_key: str,
    ) -> AlertCall:
        assert s.profile is not None
        assert s.spot is not None
        s.events.append(evidence("gamma", round(s.spot, 2), now, title))
        fields = (
            ("Spot", f"{s.spot:.2f}"),
            *extra,
            ("Total GEX / 1%", money(s.profile.total)),
            ("Regime", s.profile.regime),
        )
        return AlertCall(
            alert_type,
            s.symbol,
            severity,
            title,
            description,
            fields,
            dedup_key,
            now,
            s.simulated,
        )

    def symbols(self) -> list[str]:
        """Symbols with a profile, in watchlist order where known."""
        return sorted(s for s, st in self._by_symbol.items() if st.profile is not None)

    def insight(self, symbol: str, now: datetime) -> dict[str, Any] | None:
        """The symbol's insight (``docs/dashboard.md`` gamma metrics), or None before a chain."""
        s = self._by_symbol.get(symbol)
        if s is None or s.profile is None or s.spot is None or s.chain_time is None:
            return None
        p, spot = s.profile, round(s.spot, 2)
        zg = None if p.zero_gamma is None else round(p.zero_gamma, 2)
        nearest = sorted(p.by_strike, key=lambda k: abs(k - spot))[: self.options.max_strikes]
        total = round(p.total, 2)
        if zg is not None:
            distance = round((spot - zg) / zg * 100, 2)
            score = clip(distance)
        else:
            distance = None
            score = 0.5 if p.regime == "positive" else -0.5
        age = (now - s.chain_time).total_seconds()
        fresh = age <= self.options.stale_after
        dealers = "long" if p.regime == "positive" else "short"
        if zg is None:
            headline = f"{symbol} at {spot:.2f}: dealers {dealers} gamma, no flip near the spot"
        else:
            side = "above" if spot >= zg else "below"
            headline = f"{symbol} {spot:.2f} is {side} zero gamma {zg:.2f}: dealers {dealers} gamma"
        walls = ", ".join(
            f"{n} {v:.2f}" for n, v in (("call wall", p.call_wall), ("put wall", p.put_wall)) if v
        )
        summary = (
            f"Total dealer gamma {money(total)} per one-percent move ({p.regime} regime). "
            + (f"Walls: {walls}. " if walls else "")
            + (
                "Dealers buy dips and sell rips here: ranges hold."
                if p.regime == "positive"
                else "Dealers chase the tape here: moves extend."
            )
        )
        metrics: dict[str, Any] = {
            "spot": spot,
            "total_gex": total,
            "total_gex_millions": round(total / 1e6, 2),
            "unit": "usd_per_1pct",
            "by_strike": [{"strike": k, "gex": round(p.by_strike[k], 2)} for k in sorted(nearest)],
            "call_wall": p.call_wall,
            "put_wall": p.put_wall,
            "zero_gamma": zg,
            "zero_gamma_cumulative": (
                None if p.zero_gamma_cumulative is None else round(p.zero_gamma_cumulative, 2)
            ),
            "distance_to_zero_gamma_pct": distance,
            "regime": p.regime,
            "contracts": s.contracts,
            "chain_age_seconds": round(age, 1),
        }
        levels = {
            k: v
            for k, v in (("call_wall", p.call_wall), ("put_wall", p.put_wall), ("zero_gamma", zg))
            if v is not None
        }
        proof = [
            evidence(
                s.source or "option_chain",
                s.contracts,
                s.chain_time,
                f"option chain of {s.contracts} contracts read at spot {p.spot:.2f}",
            ),
            *s.events,
        ]
        return {
            "symbol": symbol,
            "stance": stance_of(score),
            "score": round(score, 3),
            "confidence": 0.7 if fresh else 0.4,
            "headline": headline,
            "summary": summary,
            "metrics": metrics,
            "levels": levels,
            "evidence": proof,
            "as_of": max(s.chain_time, s.spot_time or s.chain_time).isoformat(),
            "simulated": s.simulated,
        }


class GammaAgent(CallingAgent):
    """Dealer gamma per underlying on ``agent_gamma``; ``gamma_flip`` / ``gamma_wall_break``."""

    name: ClassVar[str] = "gamma"
    Options: ClassVar[type[AgentOptions]] = GammaOptions
    records: ClassVar[tuple[str, ...]] = ("option_chain", "quote")

    def setup(self, ctx: AgentContext) -> None:
        assert isinstance(self.options, GammaOptions)
        self.settings = self.options
        self.book = GammaBook(self.options, self.watchlist)

    def on_record(self, record: Record) -> None:
        self.queue(self.book.observe(record))
        if isinstance(record, OptionChain):
            self.trigger("option chain")

    async def evaluate(self, now: datetime) -> list[Insight]:
        while chains := self.book.take_chains():
            for chain in chains:
                profile = await self.compute(read_chain, chain, self.settings.rate)
                self.queue(self.book.apply(chain, profile), trigger=False)
        await self.raise_queued()
        return self.checked(self.book.insight(s, now) for s in self.book.symbols())
