"""FRED macro series through the keyless graph CSV download.

``{base_url}/graph/fredgraph.csv?id=DGS10&cosd=2024-11-01`` answers two-column CSV
(``observation_date,DGS10``; older files ``DATE,DGS10``) with ``.`` for a missing day; the
format is read by ``alphawire.analytics.parse_fred_csv``. ``cosd`` (the first date) keeps the
download to ``history_days`` (400 by default: enough for a year-over-year CPI change),
rounded back to the first of the month so the URL stays the same for a month.

The first round emits the last ``backfill`` observations of each series; later rounds only
observations newer than the newest already emitted (a revised past value is not re-sent).
Requests are conditional (``If-Modified-Since``/``If-None-Match``) when FRED sent validators.

By default: the Treasury constant-maturity curve (``CURVE_SERIES``, 3-month to 30-year, daily,
percent: what the macro agent draws), T10Y2Y, VIXCLS, CPIAUCSL, UNRATE and FEDFUNDS, one
request each per round.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from pydantic import Field

from alphawire.analytics import parse_fred_csv
from alphawire.errors import ValidationError
from alphawire.sources.base import BadPayload, SourceContext, SourceUnavailable
from alphawire.sources.options import Duration, HttpOptions
from alphawire.sources.polling import HttpPollingSource
from alphawire.sources.records import MacroObservation, Record

BASE_URL = "https://fred.stlouisfed.org"
# The Treasury curve the macro agent draws (3M to 30Y), then spreads, volatility, the economy.
CURVE_SERIES = ("DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30")
DEFAULT_SERIES = (*CURVE_SERIES, "T10Y2Y", "VIXCLS", "CPIAUCSL", "UNRATE", "FEDFUNDS")


class FredOptions(HttpOptions):
    """``[sources.fred]``: ``series`` (FRED ids) every ``interval``."""

    series: list[str] = Field(default_factory=lambda: list(DEFAULT_SERIES), min_length=1)
    base_url: str = BASE_URL
    interval: Duration = Field(default=3600.0, ge=300.0)
    history_days: int = Field(default=400, ge=7, le=20000)
    backfill: int = Field(default=30, ge=1, le=5000, description="observations sent at start")


class FredSource(HttpPollingSource[FredOptions]):
    """FRED series (the Treasury curve, 2s10s, VIX close, CPI, unemployment, fed funds), hourly
    by default."""

    name = "fred"
    produces = frozenset({"macro"})
    gate = "always"

    def __init__(self, options: FredOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self._latest: dict[str, date] = {}

    async def poll(self, ctx: SourceContext) -> Sequence[Record]:
        """Fetch each series; emit observations newer than those already sent."""
        now = ctx.clock.now()
        # The first of a month, so the URL (and the conditional request) stays the same all month.
        start = (now - timedelta(days=self.options.history_days)).date().replace(day=1)
        url = f"{self.options.base_url.rstrip('/')}/graph/fredgraph.csv"
        records: list[Record] = []
        missing = 0
        for series in self.options.series:
            params = {"id": series, "cosd": start.isoformat()}
            try:
                response = await self.http.get(url, expect="csv", params=params)
            except SourceUnavailable as exc:
                missing += 1
                self.note_problem(exc)
                continue
            except BadPayload as exc:
                self.note_problem(exc)
                continue
            if response is None:
                continue
            try:
                points = parse_fred_csv(response.content.decode("utf-8", errors="replace"))
            except ValidationError as exc:
                self.http.forget()
                self.note_problem(BadPayload(f"{self.name}: {series}: {exc.message}"))
                continue
            last = self._latest.get(series)
            fresh = [p for p in points if last is None or p[0] > last]
            if last is None:
                fresh = fresh[-self.options.backfill :]
            if fresh:
                self._latest[series] = fresh[-1][0]
            records.extend(
                MacroObservation(
                    source=self.name,
                    symbol=None,
                    ts=now,
                    series=series,
                    observation_date=day,
                    value=value,
                )
                for day, value in fresh
            )
        if missing == len(self.options.series):
            reasons = "; ".join(str(p) for p in self._problems[:3])
            raise SourceUnavailable(f"{self.name}: every series refused: {reasons}")
        return records


__all__ = ["BASE_URL", "CURVE_SERIES", "DEFAULT_SERIES", "FredOptions", "FredSource"]
