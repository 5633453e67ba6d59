"""Options flow: unusual volume on a chain line, and sweeps and repeated hits in option prints.

Side and sentiment conventions (shared by every function here): a trade at or above the ask
was paid for by an eager buyer (``"ask"``), one at or below the bid was hit by an eager
seller (``"bid"``), anything else is ``"mid"``. Buying calls or selling puts is
``"bullish"``; buying puts or selling calls is ``"bearish"``; mid is ``"neutral"``.
Premiums are dollars: price × contracts × multiplier (100 for US equity options).

Option prints (for ``detect_sweeps`` and ``repeated_hits``) are ``OptionTrade`` records
(``alphawire.sources.records``) or mappings with the same fields: ``occ`` (the contract),
``ts`` (a timezone-aware ``datetime``), ``exchange``, ``price``, ``size`` (contracts),
``bid``, ``ask``, ``option_kind`` (``"call"``/``"put"``), ``strike``, ``expiry``, and
optionally ``symbol`` (the underlying) and ``multiplier`` (default 100).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from alphawire.errors import ValidationError

Side = Literal["ask", "bid", "mid"]
Sentiment = Literal["bullish", "bearish", "neutral"]
OptionKind = Literal["call", "put"]


def trade_side(price: float, bid: float, ask: float) -> Side:
    """``"ask"`` if ``price ≥ ask``, ``"bid"`` if ``price ≤ bid``, else ``"mid"`` (ask first)."""
    if price >= ask:
        return "ask"
    if price <= bid:
        return "bid"
    return "mid"


def flow_sentiment(kind: OptionKind, side: Side) -> Sentiment:
    """Bullish for ask-side calls and bid-side puts, bearish for the reverse, neutral at mid."""
    if side == "mid":
        return "neutral"
    return "bullish" if (kind == "call") == (side == "ask") else "bearish"


@dataclass(frozen=True, slots=True)
class UnusualOption:
    """One chain line's flow read (see ``unusual_option`` for every field's formula)."""

    kind: OptionKind
    strike: float
    dte: float
    vol_oi: float | None  # volume / open interest; None when open interest is 0
    premium: float  # volume × last × 100, dollars
    otm_pct: float  # (K − S)/S for calls, (S − K)/S for puts; negative when in the money
    side: Side
    sentiment: Sentiment
    opening: bool  # volume > open interest: today's trades must include new positions
    unusual: bool


def unusual_option(
    kind: OptionKind,
    strike: float,
    spot: float,
    dte: float,
    volume: float,
    open_interest: float,
    last: float,
    bid: float,
    ask: float,
) -> UnusualOption:
    """Read one option line's day: volume against open interest, premium, moneyness and side.

    - ``vol_oi = volume / open_interest`` (``None`` when open interest is 0);
    - ``premium = volume × last × 100`` dollars;
    - ``otm_pct = (strike − spot) / spot`` for calls, ``(spot − strike) / spot`` for puts, a
      fraction (0.05 = 5 % out of the money; negative in the money);
    - ``side`` of ``last`` against ``bid``/``ask`` and ``sentiment`` (module conventions);
    - ``opening``: ``volume > open_interest``;
    - ``unusual``: volume > 500, open interest > 100, last > 0.10 and vol/OI ≥ 1.25.

    ``dte`` (days to expiry) is carried through for the caller. Raises ``ValidationError``
    for an unknown kind, a spot or strike ≤ 0, or a negative or non-finite number.
    """
    if kind not in ("call", "put"):
        raise ValidationError(f"kind must be 'call' or 'put', got {kind!r}", [{"field": "kind"}])
    for name, value in (("strike", strike), ("spot", spot)):
        _number(name, value, positive=True)
    for name, value in (
        ("dte", dte),
        ("volume", volume),
        ("open_interest", open_interest),
        ("last", last),
        ("bid", bid),
        ("ask", ask),
    ):
        _number(name, value)
    vol_oi = volume / open_interest if open_interest > 0 else None
    side = trade_side(last, bid, ask)
    return UnusualOption(
        kind=kind,
        strike=float(strike),
        dte=float(dte),
        vol_oi=vol_oi,
        premium=volume * last * 100,
        otm_pct=(strike - spot) / spot if kind == "call" else (spot - strike) / spot,
        side=side,
        sentiment=flow_sentiment(kind, side),
        opening=volume > open_interest,
        unusual=volume > 500
        and open_interest > 100
        and last > 0.10
        and vol_oi is not None
        and vol_oi >= 1.25,
    )


@dataclass(frozen=True, slots=True)
class OptionOrder:
    """Prints of one contract within a short window, taken as one order (maybe a sweep)."""

    occ: str
    symbol: str | None
    option_kind: OptionKind
    strike: float
    expiry: date
    start: datetime
    end: datetime
    prints: int
    exchanges: tuple[str, ...]  # distinct venues, sorted
    contracts: float
    premium: float  # Σ price × size × multiplier, dollars
    avg_price: float  # size-weighted
    side: Side  # the side with the most contracts (ties: "mid")
    sentiment: Sentiment


@dataclass(frozen=True, slots=True)
class _Print:
    occ: str
    symbol: str | None
    ts: datetime
    exchange: str
    price: float
    size: float
    side: Side
    kind: OptionKind
    strike: float
    expiry: date
    multiplier: float


def group_orders(
    prints: Iterable[Mapping[str, Any] | object], *, window_ms: float = 500.0
) -> list[OptionOrder]:
    """Group prints into orders: per contract, in time order, each print joins the current
    order while it is at most ``window_ms`` after that order's first print.

    Orders are returned by start time. Raises ``ValidationError`` for a print missing a
    field or with a bad value (naming the print's index and field).
    """
    by_contract: dict[str, list[_Print]] = defaultdict(list)
    for index, raw in enumerate(prints):
        p = _print(index, raw)
        by_contract[p.occ].append(p)
    window = window_ms / 1000.0
    orders: list[OptionOrder] = []
    for group in by_contract.values():
        group.sort(key=lambda p: p.ts)
        current: list[_Print] = []
        for p in group:
            if current and (p.ts - current[0].ts).total_seconds() > window:
                orders.append(_order(current))
                current = []
            current.append(p)
        if current:
            orders.append(_order(current))
    orders.sort(key=lambda o: (o.start, o.occ))
    return orders


def detect_sweeps(
    prints: Iterable[Mapping[str, Any] | object],
    *,
    window_ms: float = 500.0,
    min_exchanges: int = 2,
    min_premium: float = 0.0,
) -> list[OptionOrder]:
    """Sweeps: orders (``group_orders`` with ``window_ms``) filled on at least
    ``min_exchanges`` distinct exchanges, with premium ≥ ``min_premium`` dollars.

    A sweep is an order split across venues to take all displayed size at once: urgency.
    Returned by start time.
    """
    return [
        order
        for order in group_orders(prints, window_ms=window_ms)
        if len(order.exchanges) >= min_exchanges and order.premium >= min_premium
    ]


@dataclass(frozen=True, slots=True)
class RepeatedHit:
    """One contract bought (or sold) again and again on the same side within a window."""

    occ: str
    symbol: str | None
    option_kind: OptionKind
    strike: float
    expiry: date
    side: Side  # "ask" or "bid"
    sentiment: Sentiment
    hits: int  # orders, not prints: a sweep's prints are one hit
    contracts: float
    premium: float
    first: datetime
    last: datetime


def repeated_hits(
    prints: Iterable[Mapping[str, Any] | object],
    *,
    window_seconds: float = 300.0,
    min_hits: int = 3,
    window_ms: float = 500.0,
) -> list[RepeatedHit]:
    """Contracts hit at least ``min_hits`` times on the same side within ``window_seconds``.

    Prints are first grouped into orders (``group_orders`` with ``window_ms``) so one sweep
    counts once; mid orders are left out (they show no urgency). Per contract and side,
    scanning orders in time order, a run is every order within ``window_seconds`` of the
    run's first; a run of ``min_hits`` or more is reported and scanning continues after it,
    so runs never overlap. Returned by first hit.
    """
    if min_hits < 1:
        raise ValidationError(f"min_hits must be ≥ 1, got {min_hits}")
    runs: dict[tuple[str, Side], list[OptionOrder]] = defaultdict(list)
    for order in group_orders(prints, window_ms=window_ms):
        if order.side != "mid":
            runs[(order.occ, order.side)].append(order)
    hits: list[RepeatedHit] = []
    for (_, side), orders in runs.items():
        i = 0
        while i < len(orders):
            j = i
            while (
                j + 1 < len(orders)
                and (orders[j + 1].start - orders[i].start).total_seconds() <= window_seconds
            ):
                j += 1
            if j - i + 1 >= min_hits:
                run = orders[i : j + 1]
                hits.append(
                    RepeatedHit(
                        occ=run[0].occ,
                        symbol=run[0].symbol,
                        option_kind=run[0].option_kind,
                        strike=run[0].strike,
                        expiry=run[0].expiry,
                        side=side,
                        sentiment=flow_sentiment(run[0].option_kind, side),
                        hits=len(run),
                        contracts=sum(o.contracts for o in run),
                        premium=sum(o.premium for o in run),
                        first=run[0].start,
                        last=run[-1].start,
                    )
                )
                i = j + 1
            else:
                i += 1
    hits.sort(key=lambda h: (h.first, h.occ))
    return hits


def _order(group: list[_Print]) -> OptionOrder:
    first = group[0]
    contracts = sum(p.size for p in group)
    by_side: dict[Side, float] = {"ask": 0.0, "bid": 0.0, "mid": 0.0}
    for p in group:
        by_side[p.side] += p.size
    ranked = sorted(by_side.items(), key=lambda kv: kv[1], reverse=True)
    side: Side = ranked[0][0] if ranked[0][1] > ranked[1][1] else "mid"
    return OptionOrder(
        occ=first.occ,
        symbol=first.symbol,
        option_kind=first.kind,
        strike=first.strike,
        expiry=first.expiry,
        start=first.ts,
        end=group[-1].ts,
        prints=len(group),
        exchanges=tuple(sorted({p.exchange for p in group})),
        contracts=contracts,
        premium=sum(p.price * p.size * p.multiplier for p in group),
        avg_price=sum(p.price * p.size for p in group) / contracts if contracts else first.price,
        side=side,
        sentiment=flow_sentiment(first.kind, side),
    )


_FIELDS = (
    "occ",
    "ts",
    "exchange",
    "price",
    "size",
    "bid",
    "ask",
    "option_kind",
    "strike",
    "expiry",
)


def _print(index: int, raw: Mapping[str, Any] | object) -> _Print:
    def get(name: str, default: Any = ...) -> Any:
        value = raw.get(name, default) if isinstance(raw, Mapping) else getattr(raw, name, default)
        if value is ...:
            raise ValidationError(
                f"print {index}: missing {name!r}", [{"index": index, "field": name}]
            )
        return value

    occ, ts, exchange, price, size, bid, ask, kind, strike, expiry = (get(f) for f in _FIELDS)
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise ValidationError(
            f"print {index}: ts must be a timezone-aware datetime, got {ts!r}",
            [{"index": index, "field": "ts"}],
        )
    if not isinstance(expiry, date) or isinstance(expiry, datetime):
        raise ValidationError(
            f"print {index}: expiry must be a date, got {expiry!r}",
            [{"index": index, "field": "expiry"}],
        )
    if not isinstance(occ, str) or not occ:
        raise ValidationError(
            f"print {index}: occ must be a non-empty string, got {occ!r}",
            [{"index": index, "field": "occ"}],
        )
    if kind not in ("call", "put"):
        raise ValidationError(
            f"print {index}: option_kind must be 'call' or 'put', got {kind!r}",
            [{"index": index, "field": "option_kind"}],
        )
    multiplier = get("multiplier", 100)
    for name, value, positive in (
        ("price", price, False),
        ("size", size, False),
        ("bid", bid, False),
        ("ask", ask, False),
        ("strike", strike, True),
        ("multiplier", multiplier, True),
    ):
        _number(name, value, positive=positive, where=f"print {index}: ")
    return _Print(
        occ=occ,
        symbol=get("symbol", None),
        ts=ts,
        exchange=str(exchange),
        price=float(price),
        size=float(size),
        side=trade_side(price, bid, ask),
        kind=kind,
        strike=float(strike),
        expiry=expiry,
        multiplier=float(multiplier),
    )


def _number(name: str, value: Any, *, positive: bool = False, where: str = "") -> None:
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or not math.isfinite(value) or value < 0 or (positive and value == 0):
        rule = "a finite number > 0" if positive else "a finite number ≥ 0"
        raise ValidationError(f"{where}{name} must be {rule}, got {value!r}", [{"field": name}])
