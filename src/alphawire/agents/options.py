"""OptionsAgent's analysis: unusual contracts, premium by side and sentiment, sweeps and hits.

Inputs: ``option_chain`` records (each line read with ``unusual_option``: volume against
open interest, premium, side of the last trade) and ``option_trade`` records where
trade-level data exists (grouped into orders; ``detect_sweeps`` and ``repeated_hits``).
Conventions are ``alphawire.analytics.flow``'s: ask side = buyer paying up, bullish for
calls and bearish for puts; premium = price × contracts × 100, dollars.

- ``premium``: the session's traded premium by right (``calls``, ``puts``) and by sentiment
  (``bullish``, ``bearish``, ``neutral`` = mid), from every print.
- ``unusual``: newest first, at most ``max_unusual`` rows: sweeps, blocks (orders of at
  least ``block_contracts``) and chain lines flagged unusual.
- ``score = (bullish − bearish) / (bullish + bearish + neutral)`` premium of the session.

Alert ``unusual_options`` (once per contract per session; key per contract): a sweep or
block order, a run of repeated hits, or an unusual chain line carrying at least
``alert_premium`` dollars. Prints are kept ``hit_window_seconds`` (at most ``max_trades``
per symbol, oldest dropped first) and read again each evaluation; the sweeps and blocks found
accumulate over the session (at most ``4 × max_unusual``, oldest dropped), and a chain is
read once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.book import WatchlistBook
from alphawire.agents.framework import AgentOptions
from alphawire.agents.insight import Insight
from alphawire.agents.triggers import AlertCall, CallingAgent, clip, evidence, money, stance_of
from alphawire.analytics.flow import (
    OptionOrder,
    RepeatedHit,
    UnusualOption,
    flow_sentiment,
    group_orders,
    repeated_hits,
    trade_side,
    unusual_option,
)
from alphawire.sources.options import Duration
from alphawire.sources.records import OptionChain, OptionContract, OptionTrade, Record

NEW_YORK = ZoneInfo("America/New_York")


class OptionsOptions(AgentOptions):
    """``[agents.options]`` in alphawire.toml (besides the keys every agent takes)."""

    cadence: Duration = Field(10.0, description="seconds between flow reads and insights")
    alert_premium: float = Field(250_000, gt=0, description="alert at this much premium, $")
    block_contracts: float = Field(500, gt=0, description="an order this size is a block")
    order_window_ms: float = Field(500, gt=0, description="prints of one order, ms")
    min_exchanges: int = Field(2, ge=2, description="venues that make an order a sweep")
    hit_window_seconds: float = Field(300, gt=0, description="repeated hits within this")
    min_hits: int = Field(3, ge=2, description="hits that make a run")
    max_trades: int = Field(20_000, ge=100, le=1_000_000, description="prints kept per symbol")
    max_unusual: int = Field(50, ge=1, le=500, description="rows in metrics.unusual")


@dataclass(frozen=True, slots=True)
class FlowRead:
    """One symbol's read of its recent prints and chain (``read_flow``)."""

    orders: tuple[OptionOrder, ...]  # sweeps and blocks
    hits: tuple[RepeatedHit, ...]
    lines: tuple[tuple[OptionContract, UnusualOption], ...]  # unusual chain lines
    chain: OptionChain | None  # the chain the lines come from (None: no new chain read)
    as_of: datetime


def read_flow(
    trades: Sequence[OptionTrade], chain: OptionChain | None, o: OptionsOptions, now: datetime
) -> FlowRead:
    """Sweeps, blocks, repeated hits and unusual chain lines (the heavy step: off the loop)."""
    orders = tuple(
        order
        for order in group_orders(trades, window_ms=o.order_window_ms)
        if len(order.exchanges) >= o.min_exchanges or order.contracts >= o.block_contracts
    )
    hits = tuple(
        repeated_hits(
            trades,
            window_seconds=o.hit_window_seconds,
            min_hits=o.min_hits,
            window_ms=o.order_window_ms,
        )
    )
    lines: list[tuple[OptionContract, UnusualOption]] = []
    if chain is not None:
        day = chain.ts.astimezone(NEW_YORK).date()
        for c in chain.contracts:
            read = unusual_option(
                c.option_kind,
                c.strike,
                chain.spot,
                float((c.expiry - day).days),
                c.volume,
                c.open_interest,
                c.last,
                c.bid,
                c.ask,
            )
            if read.unusual:
                lines.append((c, read))
    return FlowRead(orders, hits, tuple(lines), chain, now)


@dataclass
class _Symbol:
    symbol: str
    trades: deque[OptionTrade]
    session: Any = None
    premium: dict[str, float] = field(default_factory=dict)
    chain: OptionChain | None = None
    read_chain: OptionChain | None = None  # the chain behind ``lines``
    orders: dict[tuple[str, datetime], OptionOrder] = field(default_factory=dict)
    hits: tuple[RepeatedHit, ...] = ()
    lines: tuple[tuple[OptionContract, UnusualOption], ...] = ()
    alerted: set[str] = field(default_factory=set)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5))
    simulated: bool = False


def _empty_premium() -> dict[str, float]:
    return {"calls": 0.0, "puts": 0.0, "bullish": 0.0, "bearish": 0.0, "neutral": 0.0}


class OptionsBook(WatchlistBook[OptionsOptions, _Symbol]):
    """Options-flow state per watchlist symbol."""

    def _new(self, symbol: str) -> _Symbol:
        return _Symbol(symbol, deque(maxlen=self.options.max_trades), premium=_empty_premium())

    def observe(self, record: Record) -> None:
        """Take an option print (premium tallied, kept for sweeps) or a chain."""
        if not isinstance(record, OptionTrade | OptionChain):
            return
        s = self._state(record.symbol)
        if s is None:
            return
        s.simulated = s.simulated or record.simulated
        day = record.ts.astimezone(NEW_YORK).date()
        if s.session != day:  # a new session: premium and alerted contracts start again
            s.session, s.premium = day, _empty_premium()
            s.alerted.clear()
            s.orders.clear()
        if isinstance(record, OptionChain):
            s.chain = record
            return
        s.trades.append(record)
        dollars = record.price * record.size * 100
        s.premium["calls" if record.option_kind == "call" else "puts"] += dollars
        sentiment = flow_sentiment(
            record.option_kind, trade_side(record.price, record.bid, record.ask)
        )
        s.premium[sentiment] += dollars

    def work(self, now: datetime) -> list[tuple[str, list[OptionTrade], OptionChain | None]]:
        """Per symbol, the prints within the hit window (older ones dropped) and its chain
        when it has not been read yet."""
        cutoff = now - timedelta(seconds=self.options.hit_window_seconds)
        out = []
        for s in self._by_symbol.values():
            while s.trades and s.trades[0].ts < cutoff:
                s.trades.popleft()
            fresh = s.chain if s.chain is not s.read_chain else None
            if s.trades or fresh is not None:
                out.append((s.symbol, list(s.trades), fresh))
        return out

    def apply(self, symbol: str, read: FlowRead) -> list[AlertCall]:
        """Store a symbol's read; the alerts for contracts newly over ``alert_premium``."""
        s = self._by_symbol.get(symbol)
        if s is None:
            return []
        for order in read.orders:  # a still-filling order is replaced by its larger self
            s.orders[(order.occ, order.start)] = order
        while len(s.orders) > 4 * self.options.max_unusual:
            del s.orders[min(s.orders, key=lambda k: k[1])]
        s.hits = read.hits
        if read.chain is not None:
            s.read_chain, s.lines = read.chain, read.lines
        floor = self.options.alert_premium
        found: list[tuple[str, float, str, str, str]] = []  # occ, premium, what, sentiment, side
        for h in read.hits:
            found.append((h.occ, h.premium, f"{h.hits} repeated hits", h.sentiment, h.side))
        for order in read.orders:
            what = "sweep" if len(order.exchanges) >= self.options.min_exchanges else "block"
            found.append((order.occ, order.premium, what, order.sentiment, order.side))
        for c, u in read.lines:
            found.append((c.occ, u.premium, "unusual volume", u.sentiment, u.side))
        calls: list[AlertCall] = []
        for occ, premium, what, sentiment, side in found:
            if premium < floor or occ in s.alerted:
                continue
            s.alerted.add(occ)
            contract = occ.split()[-1]
            title = f"{symbol} unusual options: {money(premium)} {sentiment} {what} in {contract}"
            s.events.append(evidence("options", round(premium, 2), read.as_of, title))
            calls.append(
                AlertCall(
                    "unusual_options",
                    symbol,
                    "high" if premium >= 4 * floor else "medium",
                    title,
                    f"{what.capitalize()} on the {side} side of {occ}.",
                    (
                        ("Contract", occ),
                        ("Premium", money(premium)),
                        ("Side", side),
                        ("Sentiment", sentiment),
                        ("Kind", what),
                    ),
                    f"unusual_options:{occ}",
                    read.as_of,
                    s.simulated,
                )
            )
        return calls

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    def insight(self, symbol: str, now: datetime) -> dict[str, Any] | None:
        """The symbol's insight (``docs/dashboard.md`` options metrics)."""
        s = self._by_symbol.get(symbol)
        if s is None:
            return None
        p = {k: round(v, 2) for k, v in s.premium.items()}
        total = p["bullish"] + p["bearish"] + p["neutral"]
        score = clip((p["bullish"] - p["bearish"]) / total) if total else 0.0
        rows = self._rows(s)
        sweeps = sum(1 for r in rows if r["sweep"])
        lean = (
            "bullish"
            if p["bullish"] > p["bearish"]
            else "bearish"
            if p["bearish"] > p["bullish"]
            else "even"
        )
        hits = list(s.hits)
        return {
            "symbol": symbol,
            "stance": stance_of(score),
            "score": round(score, 3),
            "confidence": round(0.3 + 0.4 * min(1.0, total / (4 * self.options.alert_premium)), 2),
            "headline": f"{symbol} options: {money(p['bullish'])} bullish vs "
            f"{money(p['bearish'])} bearish premium",
            "summary": f"Flow leans {lean}; {len(rows)} unusual prints or lines, {sweeps} sweeps, "
            f"{len(hits)} repeated-hit runs.",
            "metrics": {
                "premium": p,
                "unusual": rows,
                "unusual_count": len(rows),
                "sweeps": sweeps,
                "repeated_hits": [
                    {
                        "contract": h.occ,
                        "side": h.side,
                        "sentiment": h.sentiment,
                        "hits": h.hits,
                        "contracts": h.contracts,
                        "premium": round(h.premium, 2),
                        "first": h.first.isoformat(),
                        "last": h.last.isoformat(),
                    }
                    for h in hits
                ],
                "repeated_runs": len(hits),
            },
            "levels": {},
            "evidence": list(s.events),
            "as_of": now.isoformat(),
            "simulated": s.simulated,
        }

    def _rows(self, s: _Symbol) -> list[dict[str, Any]]:
        chain = {c.occ: c for c in s.chain.contracts} if s.chain else {}
        rows: list[dict[str, Any]] = []
        for o in s.orders.values():
            line = chain.get(o.occ)
            rows.append(
                _row(
                    o.start,
                    o.occ,
                    o.expiry.isoformat(),
                    o.strike,
                    o.option_kind,
                    o.side,
                    o.sentiment,
                    o.contracts,
                    o.premium,
                    line,
                    len(o.exchanges) >= self.options.min_exchanges,
                )
            )
        for c, u in s.lines:
            assert s.read_chain is not None
            rows.append(
                _row(
                    s.read_chain.ts,
                    c.occ,
                    c.expiry.isoformat(),
                    c.strike,
                    c.option_kind,
                    u.side,
                    u.sentiment,
                    c.volume,
                    u.premium,
                    c,
                    False,
                )
            )
        rows.sort(key=lambda r: r["time"], reverse=True)
        return rows[: self.options.max_unusual]


def _row(
    ts: datetime,
    occ: str,
    expiry: str,
    strike: float,
    right: str,
    side: str,
    sentiment: str,
    size: float,
    premium: float,
    line: OptionContract | None,
    sweep: bool,
) -> dict[str, Any]:
    return {
        "time": ts.isoformat(),
        "contract": occ,
        "expiry": expiry,
        "strike": strike,
        "right": right,
        "side": side,
        "sentiment": sentiment,
        "size": size,
        "premium": round(premium, 2),
        "volume": None if line is None else line.volume,
        "open_interest": None if line is None else line.open_interest,
        "sweep": sweep,
    }


class OptionsAgent(CallingAgent):
    """Unusual contracts, premium flow, sweeps and hits on ``agent_options``; large-flow alerts."""

    name: ClassVar[str] = "options"
    Options: ClassVar[type[AgentOptions]] = OptionsOptions
    records: ClassVar[tuple[str, ...]] = ("option_trade", "option_chain")

    def setup(self, ctx: AgentContext) -> None:
        assert isinstance(self.options, OptionsOptions)
        self.settings = self.options
        self.book = OptionsBook(self.options, self.watchlist)

    def on_record(self, record: Record) -> None:
        self.book.observe(record)

    async def evaluate(self, now: datetime) -> list[Insight]:
        for symbol, trades, chain in self.book.work(now):
            read = await self.compute(read_flow, trades, chain, self.settings, now)
            self.queue(self.book.apply(symbol, read), trigger=False)
        await self.raise_queued()
        return self.checked(self.book.insight(s, now) for s in self.book.symbols())
