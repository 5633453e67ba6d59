"""DarkPoolAgent's analysis: off-exchange blocks, dark levels, short-volume ratio and DIX.

Inputs: ``trade`` records (only ``off_exchange`` prints count: FINRA TRF/ADF volume),
``short_volume`` records (FINRA Reg SHO daily files) and ``quote`` records (closes for DIX).

- **Blocks**: ``classify_print`` on each dark print (block when ``size ≥ block_shares`` or
  ``notional ≥ block_notional``; side by the quote rule). ``block_lean`` is the
  notional-weighted mean of each block's place in the spread, ``(price − mid) / (half
  spread)`` clipped to ±1: +1 all at the ask (buyers paying up), −1 all at the bid.
- **Levels**: dark volume of the session binned by price (bins ``level_bin_bps`` of the
  price wide, centred on multiples of the width); ``levels`` lists the ``levels_top`` bins
  with the most shares.
- **Short ratio**: ``short_volume / total_volume`` of each trade date (rounded to 0.0001);
  ``short_ratio`` is the newest date's, ``short_ratio_z = (ratio − mean) / stdev`` of the
  symbol's earlier days (sample stdev, at least ``min_history`` of them, rounded to 0.01;
  otherwise null). ``short_ratio_history`` lists every kept day, oldest first.
- **DIX** per trade date over the watchlist (``alphawire.analytics.dix``): weights are
  ``total_volume × close``; a row without a close (FINRA's files and the simulator's carry
  none) uses the symbol's latest known close (its quote's ``prev_close``, else its last
  print) for every day, an approximation for older days: each day's ratios are exact, its
  dollar weights are today's.

Alerts: ``darkpool_block`` for a dark block with ``notional ≥ alert_notional`` or ``size ≥
alert_shares`` (key per symbol). ``short_ratio_extreme`` when ``|z| ≥ z_alert`` for a row that
is the newest file: a trade date not seen before, the newest the symbol has, and no older
than the latest session (``ctx.calendar``) whose file FINRA had posted by the row's ``ts``
(``FINRA_POSTING``: by 18:00 New York, half days included, when the FINRA source reads
it). Older rows are backfill (the FINRA
source's first poll, the simulator's first open send 20 earlier sessions, oldest first): they
update the history and never alert, so a start-up backfill raises at most the newest day's
alert, its z against the days before it. State is bounded: per watchlist symbol
``max_blocks`` blocks, ``max_levels`` price bins (the smallest bin is dropped when full),
``history_days`` of short volume.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.book import WatchlistBook
from alphawire.agents.framework import AgentOptions
from alphawire.agents.insight import Insight
from alphawire.agents.triggers import AlertCall, CallingAgent, clip, evidence, money, stance_of
from alphawire.analytics.darkpool import classify_print, dix
from alphawire.sources.base import MarketCalendar
from alphawire.sources.options import Duration
from alphawire.sources.records import Quote, Record, ShortVolume, Trade

NEW_YORK = ZoneInfo("America/New_York")
# When FINRA has posted a session's short-volume file, New York time (the FINRA source's
# posting_time): 18:00 after a half day too, not two hours after its 13:00 close.
FINRA_POSTING = time(18, 0)


class DarkPoolOptions(AgentOptions):
    """``[agents.darkpool]`` in alphawire.toml (besides the keys every agent takes)."""

    cadence: Duration = Field(15.0, description="seconds between insights")
    block_shares: float = Field(10_000, gt=0, description="a dark print this size is a block")
    block_notional: float = Field(200_000, gt=0, description="or this many dollars")
    alert_shares: float = Field(100_000, gt=0, description="alert on a block of this size")
    alert_notional: float = Field(5_000_000, gt=0, description="or of this many dollars")
    z_alert: float = Field(2.0, gt=0, description="alert when |short_ratio_z| reaches this")
    min_history: int = Field(5, ge=2, description="days of history before a z-score")
    history_days: int = Field(60, ge=2, le=1000, description="short-volume days kept")
    level_bin_bps: float = Field(10.0, gt=0, description="dark-level bin width, bp of price")
    levels_top: int = Field(5, ge=1, le=50)
    max_blocks: int = Field(50, ge=1, le=1000, description="blocks kept per symbol")
    max_levels: int = Field(500, ge=10, le=10_000, description="price bins kept per symbol")


@dataclass
class _Symbol:
    symbol: str
    session: date | None = None
    blocks: deque[dict[str, Any]] = field(default_factory=deque)
    lean_num: float = 0.0  # Σ notional × place in spread, this session's blocks
    block_notional: float = 0.0
    dark_shares: float = 0.0
    all_shares: float = 0.0
    bins: dict[float, list[float]] = field(default_factory=dict)  # centre → [shares, $, n, width]
    days: dict[date, ShortVolume] = field(default_factory=dict)
    close: float | None = None
    simulated: bool = False


class DarkPoolBook(WatchlistBook[DarkPoolOptions, _Symbol]):
    """Dark-pool state per watchlist symbol and the market-wide DIX."""

    def __init__(
        self,
        options: DarkPoolOptions,
        watchlist: tuple[str, ...] = (),
        *,
        calendar: MarketCalendar,
    ) -> None:
        super().__init__(options, watchlist)
        self.calendar = calendar

    def _new(self, symbol: str) -> _Symbol:
        return _Symbol(symbol, blocks=deque(maxlen=self.options.max_blocks))

    def observe(self, record: Record) -> list[AlertCall]:
        """Take a trade, short-volume row or quote; the alerts it causes."""
        if not isinstance(record, Trade | ShortVolume | Quote):
            return []
        s = self._state(record.symbol)
        if s is None:
            return []
        s.simulated = s.simulated or record.simulated
        if isinstance(record, Quote):
            s.close = record.prev_close or s.close
            return []
        if isinstance(record, ShortVolume):
            return self._short_volume(s, record)
        return self._trade(s, record)

    def _trade(self, s: _Symbol, t: Trade) -> list[AlertCall]:
        day = t.ts.astimezone(NEW_YORK).date()
        if s.session != day:  # a new session: blocks and levels start again
            s.session, s.lean_num, s.block_notional = day, 0.0, 0.0
            s.dark_shares = s.all_shares = 0.0
            s.blocks.clear()
            s.bins.clear()
        s.all_shares += t.size
        if s.close is None:
            s.close = t.price
        if not t.off_exchange:
            return []
        o = self.options
        s.dark_shares += t.size
        self._bin(s, t)
        c = classify_print(
            t.size,
            t.price,
            t.bid,
            t.ask,
            block_shares=o.block_shares,
            block_notional=o.block_notional,
        )
        if not c.is_block:
            return []
        place = 0.0
        if t.bid is not None and t.ask is not None and t.ask > t.bid > 0:
            place = clip((t.price - (t.bid + t.ask) / 2) / ((t.ask - t.bid) / 2))
        s.lean_num += c.notional * place
        s.block_notional += c.notional
        block = {
            "time": t.ts.isoformat(),
            "price": t.price,
            "size": t.size,
            "notional": round(c.notional, 2),
            "side": c.side,
            "venue": t.venue,
        }
        s.blocks.append(block)
        if c.notional < o.alert_notional and t.size < o.alert_shares:
            return []
        title = (
            f"{t.symbol} dark block: {t.size:,.0f} shares at {t.price:.2f} ({money(c.notional)})"
        )
        return [
            AlertCall(
                "darkpool_block",
                t.symbol,
                "high" if c.notional >= 4 * o.alert_notional else "medium",
                title,
                f"Off-exchange print on {t.venue}, {c.side} side; "
                f"{len(s.blocks)} dark blocks this session.",
                (
                    ("Size", f"{t.size:,.0f}"),
                    ("Price", f"{t.price:.2f}"),
                    ("Notional", money(c.notional)),
                    ("Side", c.side),
                    ("Venue", t.venue),
                ),
                f"darkpool_block:{t.symbol}",
                t.ts,
                t.simulated,
            )
        ]

    def _bin(self, s: _Symbol, t: Trade) -> None:
        width = t.price * self.options.level_bin_bps / 10_000
        # The width is set by the session's first dark print so bins stay put as price moves.
        if s.bins:
            width = next(iter(s.bins.values()))[3]
        centre = round(round(t.price / width) * width, 4)
        row = s.bins.get(centre)
        if row is None:
            if len(s.bins) >= self.options.max_levels:
                smallest = min(s.bins, key=lambda k: s.bins[k][0])
                del s.bins[smallest]
            row = s.bins[centre] = [0.0, 0.0, 0.0, width]
        row[0] += t.size
        row[1] += t.size * t.price
        row[2] += 1

    def _short_volume(self, s: _Symbol, row: ShortVolume) -> list[AlertCall]:
        new = row.trade_date not in s.days
        s.days[row.trade_date] = row
        while len(s.days) > self.options.history_days:
            del s.days[min(s.days)]
        if not new or row.trade_date != max(s.days) or not self.is_newest_file(row):
            return []  # a file read again, or backfill: history only
        ratio, z, _ = self._ratio(s)
        if z is None or abs(z) < self.options.z_alert or ratio is None:
            return []
        word = "high" if z > 0 else "low"
        return [
            AlertCall(
                "short_ratio_extreme",
                s.symbol,
                "medium",
                f"{s.symbol} short-volume ratio {word}: {ratio:.1%} (z {z:+.2f})",
                f"FINRA short volume on {row.trade_date.isoformat()} against the symbol's "
                f"own {len(s.days) - 1} earlier days.",
                (("Ratio", f"{ratio:.1%}"), ("z-score", f"{z:+.2f}")),
                f"short_ratio_extreme:{s.symbol}:{row.trade_date.isoformat()}",
                row.ts,
                row.simulated,
            )
        ]

    def is_newest_file(self, row: ShortVolume) -> bool:
        """Whether ``row``'s trade date is the newest file FINRA can have posted by its ``ts``
        (see the module docstring); older rows are backfill."""
        posted = self.calendar.previous_close(row.ts).astimezone(NEW_YORK).date()
        if datetime.combine(posted, FINRA_POSTING, NEW_YORK) > row.ts:
            # That session closed but its file is not out yet: the one before is the newest.
            midnight = datetime.combine(posted, time(0, 0), NEW_YORK)
            posted = self.calendar.previous_close(midnight).astimezone(NEW_YORK).date()
        return row.trade_date >= posted

    def _ratio(self, s: _Symbol) -> tuple[float | None, float | None, list[dict[str, Any]]]:
        ratios = [
            (d, round(r.short_volume / r.total_volume, 4))
            for d, r in sorted(s.days.items())
            if r.total_volume > 0
        ]
        history: list[dict[str, Any]] = [{"date": d.isoformat(), "ratio": v} for d, v in ratios]
        if not ratios:
            return None, None, []
        ratio = ratios[-1][1]
        earlier = [v for _, v in ratios[:-1]]
        z = None
        if len(earlier) >= self.options.min_history:
            sd = statistics.stdev(earlier)
            if sd > 0:
                z = round((ratio - statistics.fmean(earlier)) / sd, 2) + 0.0  # never -0.0
        return ratio, z, history

    def dix_history(self) -> list[dict[str, Any]]:
        """``{date, value}`` per trade date over the watchlist (see the module docstring)."""
        by_date: dict[date, list[dict[str, Any]]] = {}
        for s in self._by_symbol.values():
            for d, r in s.days.items():
                close = r.close or s.close
                if close and close > 0:
                    by_date.setdefault(d, []).append(
                        {
                            "short_volume": r.short_volume,
                            "total_volume": r.total_volume,
                            "close": close,
                        }
                    )
        out = []
        for d in sorted(by_date):
            value = dix(by_date[d])
            if value is not None:
                out.append({"date": d.isoformat(), "value": round(value, 4)})
        return out

    def symbols(self) -> list[str]:
        """Symbols with any dark print or short-volume day."""
        return sorted(s for s, st in self._by_symbol.items() if st.blocks or st.days or st.bins)

    def insight(self, symbol: str, now: datetime) -> dict[str, Any] | None:
        """The symbol's insight (``docs/dashboard.md`` darkpool metrics)."""
        s = self._by_symbol.get(symbol)
        if s is None:
            return None
        ratio, z, history = self._ratio(s)
        lean = round(s.lean_num / s.block_notional, 3) if s.block_notional else 0.0
        score = clip(0.7 * lean + 0.3 * clip((z or 0.0) / 3))
        top = sorted(s.bins.items(), key=lambda kv: kv[1][0], reverse=True)[
            : self.options.levels_top
        ]
        levels = [
            {"price": k, "shares": v[0], "notional": round(v[1], 2), "prints": int(v[2])}
            for k, v in top
        ]
        dark_pct = round(100 * s.dark_shares / s.all_shares, 1) if s.all_shares else None
        n = len(s.blocks)
        parts = [f"{symbol}: {n} dark blocks this session"]
        if n:
            parts.append(f"lean {lean:+.2f}")
        if ratio is not None:
            parts.append(f"short ratio {ratio:.1%}" + (f" (z {z:+.2f})" if z is not None else ""))
        summary = []
        if levels:
            summary.append(f"Dark volume clusters at {levels[0]['price']:.2f}.")
        if dark_pct is not None:
            summary.append(f"{dark_pct:.1f}% of the session's shares printed off-exchange.")
        if z is None and ratio is not None:
            summary.append("Too little short-volume history for a z-score yet.")
        metrics = {
            "blocks": list(s.blocks),
            "block_count": n,
            "block_notional": round(s.block_notional, 2),
            "block_lean": lean,
            "dark_shares": s.dark_shares,
            "dark_share_pct": dark_pct,
            "levels": levels,
            "short_ratio": ratio,
            "short_ratio_z": z,
            "short_ratio_history": history,
        }
        proof = [
            evidence("darkpool", b["notional"], _time(b["time"]), _block_text(symbol, b))
            for b in list(s.blocks)[-5:]
        ]
        if ratio is not None:
            last = s.days[max(s.days)]
            proof.append(
                evidence(
                    last.source,
                    ratio,
                    last.ts,
                    f"FINRA short volume {last.trade_date.isoformat()}: "
                    f"{last.short_volume:,.0f} of {last.total_volume:,.0f} shares",
                )
            )
        return {
            "symbol": symbol,
            "stance": stance_of(score),
            "score": round(score, 3),
            "confidence": round(min(1.0, 0.3 + 0.05 * n + (0.2 if z is not None else 0.0)), 2),
            "headline": ", ".join(parts),
            "summary": " ".join(summary),
            "metrics": metrics,
            "levels": {f"dark_level_{i + 1}": lv["price"] for i, lv in enumerate(levels[:3])},
            "evidence": proof,
            "as_of": now.isoformat(),
            "simulated": s.simulated,
        }

    def market_insight(self, now: datetime) -> dict[str, Any] | None:
        """The market-wide insight: DIX and its history over the watchlist."""
        history = self.dix_history()
        if not history:
            return None
        value = history[-1]["value"]
        earlier = [h["value"] for h in history[:-1]]
        mean = statistics.fmean(earlier) if earlier else None
        # DIX above its own average: dark-pool short sales absorbing buyers (SqueezeMetrics'
        # reading), leaning bullish; ±1 at 5 points from the mean.
        score = clip((value - mean) / 0.05) if mean is not None else 0.0
        blocks = sum(len(s.blocks) for s in self._by_symbol.values())
        return {
            "symbol": None,
            "stance": stance_of(score),
            "score": round(score, 3),
            "confidence": 0.5 if len(history) >= self.options.min_history else 0.3,
            "headline": f"DIX {value:.1%} over the watchlist on the latest FINRA day",
            "summary": f"{blocks} dark blocks across the watchlist this session.",
            "metrics": {
                "dix": value,
                "dix_history": history,
                "dix_mean": None if mean is None else round(mean, 4),
                "blocks": blocks,
            },
            "levels": {},
            "evidence": [],
            "as_of": now.isoformat(),
            "simulated": any(s.simulated for s in self._by_symbol.values()),
        }


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _block_text(symbol: str, b: dict[str, Any]) -> str:
    return f"{symbol} {b['size']:,.0f} shares at {b['price']:.2f} on {b['venue']} ({b['side']})"


class DarkPoolAgent(CallingAgent):
    """Dark blocks, dark levels, short-volume z-score and DIX on ``agent_darkpool``."""

    name: ClassVar[str] = "darkpool"
    Options: ClassVar[type[AgentOptions]] = DarkPoolOptions
    records: ClassVar[tuple[str, ...]] = ("trade", "short_volume", "quote")

    def setup(self, ctx: AgentContext) -> None:
        assert isinstance(self.options, DarkPoolOptions)
        self.book = DarkPoolBook(self.options, self.watchlist, calendar=ctx.calendar)

    def on_record(self, record: Record) -> None:
        self.queue(self.book.observe(record))

    async def evaluate(self, now: datetime) -> list[Insight]:
        await self.raise_queued()
        found = [self.book.insight(s, now) for s in self.book.symbols()]
        return self.checked([*found, self.book.market_insight(now)])
