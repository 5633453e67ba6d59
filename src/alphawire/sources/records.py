"""What sources hand to the agents: typed, immutable market records.

Every record is a frozen dataclass with a ``kind`` (its type's name on the wire), the
``source`` that produced it, the ``symbol`` it is about (``None`` for a market-wide series),
its event time ``ts`` (timezone-aware UTC) and ``simulated`` (True for everything the
simulated market makes: simulated data always says so).

Conventions: prices in the instrument's currency (USD), sizes and volumes in shares (stocks)
or contracts (options) and always ``float`` where a vendor publishes fractions (FINRA files
have had fractional volumes for years), implied volatility and rates as fractions
(0.25 = 25 %), borrow fees as annual fractions, times in UTC.

Records are also the unit of recording and replay: ``to_json`` / ``record_from_json`` make a
lossless round trip through plain JSON types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

OptionKind = Literal["call", "put"]


@dataclass(frozen=True, slots=True)
class Quote:
    """A top-of-book (NBBO) quote with the session's running totals."""

    kind: ClassVar[str] = "quote"
    source: str
    symbol: str
    ts: datetime
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    last_size: int
    volume: int  # shares traded in the session so far
    open: float | None = None
    high: float | None = None
    low: float | None = None
    prev_close: float | None = None
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class Trade:
    """One stock print, with the quote in force when it printed (for side classification).

    ``venue`` is the reporting venue's code; ``off_exchange`` is True for prints reported to a
    FINRA trade reporting facility (TRF/ADF), the dark-pool and internalised volume.
    """

    kind: ClassVar[str] = "trade"
    source: str
    symbol: str
    ts: datetime
    price: float
    size: float
    venue: str
    off_exchange: bool = False
    bid: float | None = None
    ask: float | None = None
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class OptionContract:
    """One line of an option chain (a value inside ``OptionChain``, not a record itself).

    ``occ`` is the OCC/OSI symbol (``SPY   250117C00450000``-style root, expiry, kind,
    strike × 1000; spaces optional). Greeks are per share, as vendors quote them.
    """

    occ: str
    expiry: date
    strike: float
    option_kind: OptionKind
    bid: float
    ask: float
    last: float
    volume: float
    open_interest: float
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    multiplier: int = 100


@dataclass(frozen=True, slots=True)
class OptionChain:
    """A snapshot of every listed contract of one underlying, with the spot it was taken at."""

    kind: ClassVar[str] = "option_chain"
    source: str
    symbol: str
    ts: datetime
    spot: float
    contracts: tuple[OptionContract, ...]
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class OptionTrade:
    """One option print: where trade-level data exists (the simulator, paid feeds).

    ``exchange`` is the venue's code; a multi-exchange sweep is several prints of one
    contract within milliseconds on different exchanges, which the analytics detect.
    ``condition`` carries the vendor's sale condition when there is one (e.g. ``"ISO"``).
    """

    kind: ClassVar[str] = "option_trade"
    source: str
    symbol: str  # the underlying
    ts: datetime
    occ: str
    expiry: date
    strike: float
    option_kind: OptionKind
    price: float
    size: float  # contracts
    bid: float
    ask: float
    exchange: str
    spot: float | None = None
    condition: str | None = None
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class ShortVolume:
    """One row of a FINRA Reg SHO daily short-sale volume file (volumes are floats)."""

    kind: ClassVar[str] = "short_volume"
    source: str
    symbol: str
    ts: datetime  # when the file was read; ``trade_date`` is the day it describes
    trade_date: date
    short_volume: float
    short_exempt_volume: float
    total_volume: float
    market: str  # FINRA facility codes, comma-joined (e.g. "B,Q,N")
    close: float | None = None  # the day's closing price, when the source knows it
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class ShortInterest:
    """Short interest and the borrow market for one symbol.

    FINRA's bi-monthly file gives ``short_interest`` (shares) at ``settlement_date`` and the
    average daily volume behind ``days_to_cover``; borrow fee (annual fraction), utilization
    (fraction of lendable shares on loan) and float come from the simulator or a paid feed
    and are ``None`` when unknown.
    """

    kind: ClassVar[str] = "short_interest"
    source: str
    symbol: str
    ts: datetime
    settlement_date: date
    short_interest: float
    avg_daily_volume: float | None = None
    days_to_cover: float | None = None
    float_shares: float | None = None
    borrow_fee: float | None = None
    utilization: float | None = None
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class SocialPost:
    """A post or comment from a retail forum; the agents extract tickers and sentiment."""

    kind: ClassVar[str] = "post"
    source: str
    symbol: None  # posts are not about one symbol until the analytics say so
    ts: datetime
    id: str
    community: str  # e.g. "wallstreetbets"
    author: str
    title: str
    text: str
    score: int = 0  # upvotes minus downvotes, when known
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class Mentions:
    """An aggregator's mention count for one ticker (ApeWisdom-style), over its window."""

    kind: ClassVar[str] = "mentions"
    source: str
    symbol: str
    ts: datetime
    mentions: int
    upvotes: int | None = None
    rank: int | None = None
    mentions_24h_ago: int | None = None
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class MacroObservation:
    """One observation of an economic series (FRED ids: DGS10, T10Y2Y, VIXCLS, CPIAUCSL...)."""

    kind: ClassVar[str] = "macro"
    source: str
    symbol: None
    ts: datetime
    series: str
    observation_date: date
    value: float
    simulated: bool = False


Record = (
    Quote
    | Trade
    | OptionChain
    | OptionTrade
    | ShortVolume
    | ShortInterest
    | SocialPost
    | Mentions
    | MacroObservation
)

RECORD_TYPES: dict[str, type[Any]] = {
    cls.kind: cls
    for cls in (
        Quote,
        Trade,
        OptionChain,
        OptionTrade,
        ShortVolume,
        ShortInterest,
        SocialPost,
        Mentions,
        MacroObservation,
    )
}
RECORD_KINDS: frozenset[str] = frozenset(RECORD_TYPES)


def to_json(record: Record) -> dict[str, Any]:
    """The record as plain JSON types, with its ``kind``; dates and times in ISO-8601."""
    out: dict[str, Any] = {"kind": record.kind}
    for f in dataclasses.fields(record):
        out[f.name] = _plain(getattr(record, f.name))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, OptionContract):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def record_from_json(data: Mapping[str, Any]) -> Record:
    """Rebuild a record written by ``to_json``; an unknown kind or field raises ValueError."""
    kind = data.get("kind")
    cls = RECORD_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown record kind {kind!r}: expected one of {sorted(RECORD_KINDS)}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        values[f.name] = _typed(f, data[f.name])
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)} - {"kind"}
    if unknown:
        raise ValueError(f"{kind} record: unknown field(s) {sorted(unknown)}")
    result: Record = cls(**values)
    return result


def _typed(f: dataclasses.Field[Any], value: Any) -> Any:
    if value is None:
        return None
    name = f.name
    if name == "ts":
        return datetime.fromisoformat(value)
    if name in ("trade_date", "settlement_date", "observation_date", "expiry"):
        return date.fromisoformat(value)
    if name == "contracts":
        return tuple(
            OptionContract(
                **{
                    **c,
                    "expiry": date.fromisoformat(c["expiry"]),
                }
            )
            for c in value
        )
    return value


__all__ = [
    "RECORD_KINDS",
    "RECORD_TYPES",
    "MacroObservation",
    "Mentions",
    "OptionChain",
    "OptionContract",
    "OptionKind",
    "OptionTrade",
    "Quote",
    "Record",
    "ShortInterest",
    "ShortVolume",
    "SocialPost",
    "Trade",
    "record_from_json",
    "to_json",
]
