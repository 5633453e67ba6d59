"""CBOE delayed quotes: whole option chains with greeks and open interest, no key, ~15 minutes
delayed.

CBOE's site reads ``{base_url}/options/{SYMBOL}.json`` (index roots with a leading
underscore: ``_SPX``, ``_VIX``, ``_NDX``, ``_RUT``). The body is JSON::

    {"timestamp": "2025-12-01 15:45:02",
     "data": {"symbol": "SPY", "current_price": 683.39, "bid": ..., "ask": ..., "volume": ...,
              "options": [{"option": "SPY251219C00680000", "bid": 9.5, "ask": 9.56,
                           "iv": 0.1532, "open_interest": 23814, "volume": 3210,
                           "delta": 0.5634, "gamma": 0.0213, "last_trade_price": 9.52, ...}]}}

``timestamp`` is New York time. ``iv`` is a fraction; greeks are per share; ``iv`` of 0 means
CBOE computed none (kept as ``None``, not 0). Each ``option`` is an OCC symbol without the
padding spaces (``parse_occ``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from pydantic import Field

from alphawire.calendar import NEW_YORK
from alphawire.sources.base import BadPayload, RateLimited, SourceContext, SourceUnavailable
from alphawire.sources.options import Duration, HttpOptions, Symbol
from alphawire.sources.polling import HttpPollingSource
from alphawire.sources.records import OptionChain, OptionContract, OptionKind, Record

BASE_URL = "https://cdn.cboe.com/api/global/delayed_quotes"
INDEX_ROOTS = ("SPX", "XSP", "NDX", "RUT", "VIX", "DJX", "OEX", "MRUT")


def parse_occ(symbol: str) -> tuple[str, date, OptionKind, float]:
    """``(root, expiry, kind, strike)`` of an OCC/OSI option symbol.

    The symbol is the root (1-6 characters, padded with spaces to 6 in the OCC form; CBOE
    leaves the padding out), then the expiry ``YYMMDD``, ``C`` or ``P``, and the strike in
    thousandths of a dollar over 8 digits: ``SPXW  251219P05800000`` is the SPXW 19 Dec 2025
    5800 put; ``AAPL251219C00232500`` the AAPL 232.50 call. Read from the right, so a root
    with digits (an adjusted ``AMC1``) parses too. Raises ``ValueError`` naming the symbol.
    """
    text = symbol.strip()
    if len(text) < 16:
        raise ValueError(f"{symbol!r} is not an OCC option symbol (ROOT YYMMDD C/P 8-digit strike)")
    root, yymmdd, kind, strike = text[:-15].strip(), text[-15:-9], text[-9], text[-8:]
    if (
        not (1 <= len(root) <= 6)
        or not yymmdd.isdigit()
        or kind not in "CP"
        or not strike.isdigit()
    ):
        raise ValueError(f"{symbol!r} is not an OCC option symbol (ROOT YYMMDD C/P 8-digit strike)")
    try:
        expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        raise ValueError(f"{symbol!r}: {yymmdd!r} is not a YYMMDD expiry") from None
    return root, expiry, "call" if kind == "C" else "put", int(strike) / 1000


class CboeOptions(HttpOptions):
    """``[sources.cboe]``: chains for ``symbols`` (default: the watchlist) every ``interval``."""

    symbols: list[Symbol] | None = None
    interval: Duration = Field(default=60.0, ge=15.0)
    base_url: str = BASE_URL
    index_roots: list[Symbol] = Field(default_factory=lambda: list(INDEX_ROOTS))
    max_expiry_days: int | None = Field(
        default=None, ge=0, description="keep contracts expiring within this many days"
    )


class CboeSource(HttpPollingSource[CboeOptions]):
    """Option chains (greeks, OI) from CBOE's delayed-quotes JSON, polled while the market is
    open and for the 15 minutes of delay after the close."""

    name = "cboe"
    produces = frozenset({"option_chain"})
    gate = "intraday"
    delay = timedelta(minutes=15)

    def __init__(self, options: CboeOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.base_url = options.base_url.rstrip("/")

    def url(self, symbol: str) -> str:
        """Where the chain of ``symbol`` is served (``_SPX`` for index roots)."""
        prefix = "_" if symbol in self.options.index_roots else ""
        return f"{self.base_url}/options/{prefix}{symbol}.json"

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """One chain per symbol; a symbol CBOE does not list (404) is skipped and reported."""
        symbols = self.options.symbols or list(ctx.watchlist)
        chains: list[Record] = []
        missing: list[str] = []
        for symbol in symbols:
            try:
                response = await self.http.get(self.url(symbol), expect="json")
            except SourceUnavailable as exc:
                # Per symbol: CBOE's CDN answers a symbol it has no file for with 404, or with
                # 403 as storage behind a CDN does; only all symbols refused is the vendor's.
                missing.append(symbol)
                self.note_problem(exc)
                continue
            except BadPayload as exc:
                self.note_problem(exc)
                continue
            except RateLimited as exc:
                # Keep what was read; the base class waits as the vendor asked.
                self.note_problem(exc)
                break
            if response is None:  # 304: unchanged since the last round
                continue
            try:
                chains.append(self.parse(symbol, response.content, ctx.clock.now()))
            except BadPayload as exc:
                self.http.forget()
                self.note_problem(exc)
        self._status.detail["not_listed"] = missing
        if symbols and len(missing) == len(symbols):
            reasons = "; ".join(str(p) for p in self._problems[:3])
            raise SourceUnavailable(f"{self.name}: every symbol refused: {reasons}")
        return chains

    def parse(self, symbol: str, body: bytes, now: datetime) -> OptionChain:
        """The ``OptionChain`` in a delayed-quotes body; ``BadPayload`` naming what is wrong."""
        where = f"{self.name}: {symbol}"
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadPayload(f"{where}: not JSON (truncated?): {exc}") from None
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("options"), list):
            raise BadPayload(f"{where}: no data.options list in the response")
        spot = _number(data, "current_price", where)
        ts = _timestamp(document.get("timestamp"), now)
        horizon = self.options.max_expiry_days
        contracts: list[OptionContract] = []
        for i, row in enumerate(data["options"]):
            if not isinstance(row, dict):
                raise BadPayload(f"{where}: options[{i}] is not an object")
            try:
                _, expiry, kind, strike = parse_occ(str(row.get("option", "")))
            except ValueError as exc:
                raise BadPayload(f"{where}: options[{i}]: {exc}") from None
            if horizon is not None and (expiry - ts.astimezone(NEW_YORK).date()).days > horizon:
                continue
            at = f"{where} options[{i}]"
            iv = _optional(row, "iv", at)
            contracts.append(
                OptionContract(
                    occ=str(row["option"]),
                    expiry=expiry,
                    strike=strike,
                    option_kind=kind,
                    bid=_number(row, "bid", at),
                    ask=_number(row, "ask", at),
                    last=_optional(row, "last_trade_price", at) or 0.0,
                    volume=_optional(row, "volume", at) or 0.0,
                    open_interest=_optional(row, "open_interest", at) or 0.0,
                    iv=iv if iv else None,
                    delta=_optional(row, "delta", at),
                    gamma=_optional(row, "gamma", at),
                )
            )
        return OptionChain(
            source=self.name, symbol=symbol, ts=ts, spot=spot, contracts=tuple(contracts)
        )


def _number(row: Mapping[str, Any], key: str, where: str) -> float:
    value = _optional(row, key, where)
    if value is None:
        raise BadPayload(f"{where}: {key} is missing")
    return value


def _optional(row: Mapping[str, Any], key: str, where: str) -> float | None:
    value = row.get(key)
    if isinstance(value, float):  # the common case first: a chain has ~10 per contract
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadPayload(f"{where}: {key} is {value!r}, not a number")
    try:
        return float(value)
    except ValueError:
        raise BadPayload(f"{where}: {key} is {value!r}, not a number") from None


def _timestamp(value: Any, fallback: datetime) -> datetime:
    """CBOE's ``timestamp`` (New York wall time) in UTC; the read time when absent."""
    if not isinstance(value, str):
        return fallback
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return fallback
    if local.tzinfo is None:
        local = local.replace(tzinfo=NEW_YORK)
    return local.astimezone(UTC)


__all__ = ["BASE_URL", "CboeOptions", "CboeSource", "parse_occ"]
