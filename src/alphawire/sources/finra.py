"""FINRA, no key: Reg SHO daily short-sale volume files and bi-monthly short interest.

**Daily short volume** (``finra_short_volume``): one pipe-delimited file per trade day for the
consolidated NMS facilities, ``{base_url}/CNMSshvol{YYYYMMDD}.txt``, posted by 18:00 New York
time on the trade day. The layout (header, fractional volumes, record-count trailer) is read
by ``alphawire.analytics.parse_finra_short_volume``, which refuses a truncated file. A file is
fetched once: after it is read, nothing is requested until the next session's posting time.

Backfill: the first successful poll also reads the files of the ``backfill_days`` (20) market
sessions before the latest one, and emits their rows first, oldest first, so the short-ratio
z-score has its history on day one (the DarkPool agent alerts only on the newest file). A day
without a file (404: a closure the calendar does not know, a gap at FINRA) is skipped and
logged once. Any other failure fails the round as the day's file would (nothing emitted,
retried by the usual rules: ``Retry-After``, backoff), keeping the files already read so the
retry asks only for the rest; once emitted, none is fetched again. Backfilled rows are those
of ``symbols`` (default: the watchlist) even with ``all_symbols``: twenty whole files would be
some 200,000 records at once, more than an agent's record stream holds.

**Short interest** (``finra_short_interest``): FINRA's Query API dataset
``otcMarket/consolidatedShortInterest``, public and keyless, one row per symbol and settlement
date (mid-month and month-end, published about a week after settlement)::

    POST {base_url}/data/group/otcMarket/name/consolidatedShortInterest
    {"limit": 5000, "compareFilters": [...symbolCode...], "sortFields": ["-settlementDate"]}
    -> [{"settlementDate": "2025-11-14", "symbolCode": "GME",
         "currentShortPositionQuantity": 6.7e7, "averageDailyVolumeQuantity": 8.9e6,
         "daysToCoverQuantity": 7.53, ...}]

Asked once per session after 18:00; only settlement dates newer than those already emitted
are emitted again. If FINRA ever requires credentials for it, the 401/403 shows as
``unavailable`` with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from pydantic import Field

from alphawire.analytics import ShortVolumeRow, parse_finra_short_volume
from alphawire.calendar import NEW_YORK
from alphawire.errors import ValidationError
from alphawire.sources.base import BadPayload, MarketCalendar, SourceContext, SourceUnavailable
from alphawire.sources.http import NotFound
from alphawire.sources.options import Duration, HttpOptions, Symbol
from alphawire.sources.polling import HttpPollingSource
from alphawire.sources.records import Record, ShortInterest, ShortVolume

SHORT_VOLUME_URL = "https://cdn.finra.org/equity/regsho/daily"
QUERY_API_URL = "https://api.finra.org"
MAX_BACKFILL_DAYS = 250  # about a year of sessions: 250 requests at start is plenty
log = logging.getLogger("alphawire.sources")


class ShortVolumeOptions(HttpOptions):
    """``[sources.finra_short_volume]``: each session's CNMS file, earlier ones at start.

    Rows for ``symbols`` (default: the watchlist; ``all_symbols = true`` emits every row of
    the day's file, ~10,000 a day); ``backfill_days`` earlier sessions' files are read at the
    first poll (0: none).
    """

    symbols: list[Symbol] | None = None
    all_symbols: bool = False
    backfill_days: int = Field(
        default=20,
        ge=0,
        le=MAX_BACKFILL_DAYS,
        description="earlier sessions' files read at the first poll (0: none)",
    )
    base_url: str = SHORT_VOLUME_URL
    # Only for retries after a failure or a late file: a read file is never fetched again.
    interval: Duration = Field(default=1800.0, ge=60.0)


class ShortVolumeSource(HttpPollingSource[ShortVolumeOptions]):
    """FINRA Reg SHO consolidated (CNMS) daily short-sale volume, after 18:00 New York time."""

    name = "finra_short_volume"
    produces = frozenset({"short_volume"})
    gate = "end_of_day"
    unavailable_retry = 1800.0  # a 404 after 18:00 is usually a late file, not a gone vendor

    def __init__(self, options: ShortVolumeOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._backfilled = options.backfill_days == 0
        # Backfill files read by a round that then failed: the retry asks only for the rest.
        self._earlier: dict[date, list[ShortVolumeRow]] = {}
        self._missing: list[str] = []  # backfill days without a file (404), logged once each

    def url(self, day: date) -> str:
        """The CNMS file of trade date ``day``."""
        return f"{self.options.base_url.rstrip('/')}/CNMSshvol{day:%Y%m%d}.txt"

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """Read the latest posted file (once) and emit the rows for the configured symbols;
        at the first poll, the backfill's rows before them (see the module docstring)."""
        now = ctx.clock.now()
        day = self.posted_session(ctx.calendar, now)
        url = self.url(day)
        try:
            rows = await self._read(url)
        except NotFound as exc:
            raise SourceUnavailable(f"{exc} (not posted yet for {day}?)") from None
        symbols = set(self.options.symbols or ctx.watchlist)
        wanted = None if self.options.all_symbols else symbols
        earlier: list[ShortVolumeRow] = []
        if not self._backfilled:
            for past in await self._backfill(ctx.calendar, day, symbols):
                earlier.extend(self._earlier[past])
            self._backfilled = True
            self._earlier.clear()
        records: list[Record] = [
            self._record(row, now)
            for row in [*earlier, *(r for r in rows if wanted is None or r.symbol in wanted)]
        ]
        self.read_through = day
        self._status.detail["last_file"] = url.rsplit("/", 1)[-1]
        return records

    async def _read(self, url: str) -> list[ShortVolumeRow]:
        """The rows of one CNMS file; ``BadPayload`` for an HTML page or a damaged file."""
        response = await self.http.get(url, expect="csv", conditional=False)
        if response is None:  # unreachable without a conditional request; keep mypy honest
            return []
        text = response.content.decode("utf-8", errors="replace")
        if text.lstrip()[:1] == "<":
            raise BadPayload(f"{self.name}: an HTML page instead of the file {url}")
        try:
            # ~75 ms of CPU for a whole day's file (~11,000 rows): in a thread, so the event
            # loop (fan-out, the agents) keeps running between the GIL's 5 ms switches instead
            # of stalling once per file, 21 times at a first poll with the backfill.
            return await asyncio.to_thread(parse_finra_short_volume, text)
        except ValidationError as exc:
            raise BadPayload(f"{self.name}: {url}: {exc.message}") from None

    async def _backfill(self, calendar: MarketCalendar, day: date, symbols: set[str]) -> list[date]:
        """Read the ``symbols``' rows of the ``backfill_days`` sessions before ``day`` into
        ``_earlier`` (a missing file as no rows); the sessions, oldest first."""
        sessions: list[date] = []
        last = day
        for _ in range(self.options.backfill_days):
            before = datetime.combine(last, time(0, 0), NEW_YORK)
            last = calendar.previous_close(before).astimezone(NEW_YORK).date()
            sessions.insert(0, last)
        self._earlier = {d: rows for d, rows in self._earlier.items() if d in sessions}
        for past in sessions:
            if past in self._earlier:
                continue
            try:
                rows = await self._read(self.url(past))
            except NotFound:
                log.info("source %s: no file for %s (closed?); backfill skips it", self.name, past)
                rows = []
                self._missing.append(past.isoformat())
            self._earlier[past] = [row for row in rows if row.symbol in symbols]
        missing = sum(1 for d in sessions if d.isoformat() in self._missing)
        self._status.detail["backfill_files"] = len(sessions) - missing
        if self._missing:
            self._status.detail["backfill_missing"] = self._missing
        return sessions

    def _record(self, row: ShortVolumeRow, now: datetime) -> ShortVolume:
        return ShortVolume(
            source=self.name,
            symbol=row.symbol,
            ts=now,
            trade_date=row.date,
            short_volume=row.short_volume,
            short_exempt_volume=row.short_exempt_volume or 0.0,
            total_volume=row.total_volume,
            market=row.market,
        )


class ShortInterestOptions(HttpOptions):
    """``[sources.finra_short_interest]``: the latest settlement for ``symbols``."""

    symbols: list[Symbol] | None = None
    base_url: str = QUERY_API_URL
    interval: Duration = Field(default=3600.0, ge=300.0)


class ShortInterestSource(HttpPollingSource[ShortInterestOptions]):
    """FINRA consolidated short interest (bi-monthly) through the public Query API."""

    name = "finra_short_interest"
    produces = frozenset({"short_interest"})
    gate = "end_of_day"

    def __init__(self, options: ShortInterestOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._latest: dict[str, date] = {}  # symbol -> newest settlement date emitted

    @property
    def url(self) -> str:
        """The dataset's endpoint."""
        return (
            f"{self.options.base_url.rstrip('/')}/data/group/otcMarket/name/"
            "consolidatedShortInterest"
        )

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """Ask for the symbols' recent rows; emit each symbol's settlements not emitted yet."""
        now = ctx.clock.now()
        symbols = list(self.options.symbols or ctx.watchlist)
        query = {
            "limit": 5000,
            "fields": [
                "settlementDate",
                "symbolCode",
                "currentShortPositionQuantity",
                "averageDailyVolumeQuantity",
                "daysToCoverQuantity",
            ],
            "domainFilters": [{"fieldName": "symbolCode", "values": symbols}],
            "sortFields": ["-settlementDate"],
        }
        response = await self.http.get(
            self.url,
            expect="json",
            method="POST",
            json_body=query,
            headers={"Accept": "application/json"},
            conditional=False,
        )
        rows = self.parse(response.content if response is not None else b"[]", now)
        records: list[Record] = []
        for row in sorted(rows, key=lambda r: (r.settlement_date, r.symbol)):
            if row.symbol not in symbols or row.settlement_date <= self._latest.get(
                row.symbol, date.min
            ):
                continue
            self._latest[row.symbol] = row.settlement_date
            records.append(row)
        self.read_through = self.posted_session(ctx.calendar, now)
        return records

    def parse(self, body: bytes, now: datetime) -> list[ShortInterest]:
        """The rows of a Query API JSON answer; ``BadPayload`` naming the bad row and field."""
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise BadPayload(f"{self.name}: not JSON (truncated?): {exc}") from None
        if not isinstance(document, list):
            raise BadPayload(
                f"{self.name}: expected a JSON list of rows, got {type(document).__name__}"
            )
        out: list[ShortInterest] = []
        for i, row in enumerate(document):
            where = f"{self.name}: row {i}"
            if not isinstance(row, dict):
                raise BadPayload(f"{where} is not an object")
            try:
                settled = date.fromisoformat(str(row["settlementDate"]))
                symbol = str(row["symbolCode"]).strip().upper()
                short = float(row["currentShortPositionQuantity"])
                adv = _float_or_none(row.get("averageDailyVolumeQuantity"))
                dtc = _float_or_none(row.get("daysToCoverQuantity"))
            except KeyError as exc:
                raise BadPayload(f"{where}: field {exc.args[0]} is missing") from None
            except (TypeError, ValueError) as exc:
                raise BadPayload(f"{where}: {exc}") from None
            out.append(
                ShortInterest(
                    source=self.name,
                    symbol=symbol,
                    ts=now,
                    settlement_date=settled,
                    short_interest=short,
                    avg_daily_volume=adv,
                    days_to_cover=dtc,
                )
            )
        return out


def _float_or_none(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


__all__ = [
    "MAX_BACKFILL_DAYS",
    "QUERY_API_URL",
    "SHORT_VOLUME_URL",
    "ShortInterestOptions",
    "ShortInterestSource",
    "ShortVolumeOptions",
    "ShortVolumeSource",
]
