"""Yahoo Finance through ``yfinance`` (the ``yahoo`` extra): quotes and option chains, keyless,
about 15 minutes delayed for most US listings.

Per symbol and round, on a worker thread (yfinance is blocking):

- ``Ticker.info``: a dict with ``bid``, ``ask``, ``bidSize``, ``askSize``,
  ``regularMarketPrice``, ``regularMarketVolume``, ``regularMarketOpen``,
  ``regularMarketDayHigh``, ``regularMarketDayLow``, ``regularMarketPreviousClose`` -> ``Quote``;
- ``Ticker.options``: the expiries as ``"YYYY-MM-DD"`` strings; ``Ticker.option_chain(expiry)``:
  ``(calls, puts, underlying)`` DataFrames with ``contractSymbol``, ``strike``, ``lastPrice``,
  ``bid``, ``ask``, ``volume``, ``openInterest`` (NaN when none), ``impliedVolatility``
  (a fraction) -> one ``OptionChain`` over the nearest ``expiries`` expiries. Yahoo gives no
  greeks: ``delta`` and ``gamma`` are ``None`` (the analytics compute them from ``iv``).

Yahoo's rate limiting (``yfinance.exceptions.YFRateLimitError``) becomes ``RateLimited``
with backoff; any other error of one symbol is reported and the other symbols still come.
No price history is emitted: the record contract has no bar type.
"""

from __future__ import annotations

import asyncio
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from alphawire.sources.base import RateLimited, SourceContext, SourceUnavailable
from alphawire.sources.cboe import parse_occ
from alphawire.sources.options import Duration, SourceOptions, Symbol
from alphawire.sources.polling import PollingSource
from alphawire.sources.records import OptionChain, OptionContract, Quote, Record

INSTALL_HINT = "yfinance is not installed: pip install 'alphawire[yahoo]'"


class YahooOptions(SourceOptions):
    """``[sources.yahoo]``: quotes (and chains) for ``symbols`` (default: the watchlist)."""

    symbols: list[Symbol] | None = None
    interval: Duration = Field(default=60.0, ge=30.0)
    quotes: bool = True
    chains: bool = False
    expiries: int = Field(default=2, ge=1, le=20, description="nearest expiries per chain")


class YahooSource(PollingSource):
    """Quotes and option chains from Yahoo Finance via yfinance, during market hours."""

    name = "yahoo"
    produces = frozenset({"quote", "option_chain"})
    gate = "intraday"
    delay = timedelta(minutes=15)
    uses_http = False  # yfinance has its own HTTP client

    def __init__(
        self,
        options: YahooOptions,
        ticker: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(interval=options.interval, **kwargs)
        self.options = options
        self._ticker = ticker  # yfinance.Ticker unless a test hands in its stand-in

    def _ticker_factory(self) -> Callable[[str], Any]:
        if self._ticker is None:
            try:
                self._ticker = importlib.import_module("yfinance").Ticker
            except ImportError:
                raise SourceUnavailable(f"{self.name}: {INSTALL_HINT}") from None
        return self._ticker

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """Read each symbol on a worker thread; one symbol's failure does not stop the others."""
        factory = self._ticker_factory()
        now = ctx.clock.now()
        records: list[Record] = []
        for symbol in self.options.symbols or list(ctx.watchlist):
            try:
                records.extend(await asyncio.to_thread(self._read, factory(symbol), symbol, now))
            except Exception as exc:
                if type(exc).__name__ == "YFRateLimitError":
                    limited = RateLimited(f"{self.name}: Yahoo rate limit: {exc}")
                    if not records:
                        raise limited from None
                    self.note_problem(limited)  # keep what was read; wait as for a 429
                    break
                self.note_problem(Exception(f"{self.name}: {symbol}: {type(exc).__name__}: {exc}"))
        return records

    def _read(self, ticker: Any, symbol: str, now: datetime) -> list[Record]:
        info: Mapping[str, Any] = ticker.info or {}
        out: list[Record] = []
        price = _num(info.get("regularMarketPrice")) or _num(info.get("currentPrice"))
        if self.options.quotes:
            if price is None:
                raise ValueError("no regularMarketPrice in Ticker.info (unknown or delisted?)")
            out.append(
                Quote(
                    source=self.name,
                    symbol=symbol,
                    ts=now,
                    bid=_num(info.get("bid")) or price,
                    ask=_num(info.get("ask")) or price,
                    bid_size=int(_num(info.get("bidSize")) or 0),
                    ask_size=int(_num(info.get("askSize")) or 0),
                    last=price,
                    last_size=0,
                    volume=int(_num(info.get("regularMarketVolume")) or 0),
                    open=_num(info.get("regularMarketOpen")),
                    high=_num(info.get("regularMarketDayHigh")),
                    low=_num(info.get("regularMarketDayLow")),
                    prev_close=_num(info.get("regularMarketPreviousClose")),
                )
            )
        if self.options.chains:
            expiries = list(ticker.options or ())[: self.options.expiries]
            contracts: list[OptionContract] = []
            for expiry in expiries:
                chain = ticker.option_chain(expiry)
                for frame in (chain.calls, chain.puts):
                    contracts.extend(_contract(row) for row in frame.to_dict("records"))
                underlying = getattr(chain, "underlying", None) or {}
                if price is None:
                    price = _num(underlying.get("regularMarketPrice"))
            if contracts and price is not None:
                out.append(
                    OptionChain(
                        source=self.name,
                        symbol=symbol,
                        ts=now,
                        spot=price,
                        contracts=tuple(contracts),
                    )
                )
        return out


def _contract(row: Mapping[str, Any]) -> OptionContract:
    occ = str(row["contractSymbol"])
    _, expiry, kind, strike = parse_occ(occ)
    iv = _num(row.get("impliedVolatility"))
    return OptionContract(
        occ=occ,
        expiry=expiry,
        strike=strike,
        option_kind=kind,
        bid=_num(row.get("bid")) or 0.0,
        ask=_num(row.get("ask")) or 0.0,
        last=_num(row.get("lastPrice")) or 0.0,
        volume=_num(row.get("volume")) or 0.0,
        open_interest=_num(row.get("openInterest")) or 0.0,
        iv=iv if iv else None,
    )


def _num(value: Any) -> float | None:
    """A finite float, or None for None/NaN/non-numbers (Yahoo's gaps come as NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


__all__ = ["YahooOptions", "YahooSource"]
