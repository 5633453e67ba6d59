"""FRED graph CSV series and ApeWisdom mentions, against a local server."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
from tests.fake_vendors import FakeVendors, RecordingContext, Reply, run_until_sleeping, stop

from alphawire.agents.macro import MacroOptions, MacroTracker
from alphawire.sources.apewisdom import ApeWisdomOptions, ApeWisdomSource
from alphawire.sources.fred import CURVE_SERIES, FredOptions, FredSource
from alphawire.sources.records import MacroObservation, Mentions

pytestmark = pytest.mark.anyio

DGS10 = "/graph/fredgraph.csv?id=DGS10"
VIXCLS = "/graph/fredgraph.csv?id=VIXCLS"
PAGE1 = "/api/v1.0/filter/all-stocks/page/1"
NOW = datetime(2025, 12, 1, 23, 30, tzinfo=UTC)


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors().start()
    yield fake
    fake.stop()


def fred(vendors: FakeVendors, **options: object) -> FredSource:
    opts = FredOptions(enabled=True, base_url=vendors.url, series=["DGS10", "VIXCLS"], **options)  # type: ignore[arg-type]
    return FredSource(opts, rng=random.Random(5))


async def test_both_header_spellings_and_missing_values(vendors: FakeVendors) -> None:
    """observation_date and DATE headers both parse; '.' and empty values are skipped, not 0."""
    source = fred(vendors)
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    got = [(r.series, r.observation_date, r.value) for r in ctx.records]
    assert got == [
        ("DGS10", date(2025, 11, 24), 4.03),
        ("DGS10", date(2025, 11, 25), 4.01),
        ("DGS10", date(2025, 11, 26), 4.00),
        ("DGS10", date(2025, 11, 28), 4.02),
        ("VIXCLS", date(2025, 11, 25), 18.56),
        ("VIXCLS", date(2025, 11, 26), 17.19),
        ("VIXCLS", date(2025, 11, 28), 16.35),
    ]
    assert all(isinstance(r, MacroObservation) and r.symbol is None for r in ctx.records)
    (request,) = vendors.seen(DGS10)
    assert "cosd=2024-10-01" in request.query  # 400 days back, from the 1st


async def test_only_new_observations_after_the_first_round(vendors: FakeVendors) -> None:
    """An unchanged series answers 304; a new day brings exactly that observation."""
    source = fred(vendors, backfill=2)
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    assert [r.observation_date.day for r in ctx.records] == [26, 28, 26, 28]  # backfill = 2
    await ctx.step(3600)
    assert len(ctx.records) == 4
    assert "if-none-match" in vendors.seen(DGS10)[-1].headers
    vendors.serve(DGS10, "fred/DGS10-next-day.csv")
    await ctx.step(3600)
    await stop(task)
    assert [(r.series, r.observation_date, r.value) for r in ctx.records[4:]] == [
        ("DGS10", date(2025, 12, 1), 4.09)
    ]


async def test_unknown_series_and_html_are_reported_not_fatal(vendors: FakeVendors) -> None:
    """A series FRED lacks (404) and an HTML page are problems; the good series still comes."""
    vendors.script(VIXCLS, Reply.html_page())
    source = FredSource(
        FredOptions(base_url=vendors.url, series=["DGS10", "VIXCLS", "NOPE"]), rng=random.Random(1)
    )
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert {r.series for r in ctx.records} == {"DGS10"}
    status = source.status()
    assert status.state == "degraded"
    assert "HTML page instead of CSV" in (status.last_error or "")
    assert "HTTP 404" in (status.last_error or "")


async def test_default_series_bring_the_whole_treasury_curve(vendors: FakeVendors) -> None:
    """The defaults ask for the seven constant-maturity yields (3M to 30Y) besides the
    earlier series; from the fixtures each tenor's observations arrive ('.' on Thanksgiving
    skipped) and make a seven-point curve for the macro agent, 28 November's yields."""
    assert FredOptions().series == [
        *("DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30"),
        *("T10Y2Y", "VIXCLS", "CPIAUCSL", "UNRATE", "FEDFUNDS"),
    ]
    source = FredSource(FredOptions(base_url=vendors.url), rng=random.Random(3))
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    asked = [r.key.removeprefix("/graph/fredgraph.csv?id=") for r in vendors.requests]
    assert asked == FredOptions().series
    got: dict[str, list[tuple[date, float]]] = {}
    for r in ctx.records:
        assert isinstance(r, MacroObservation)
        got.setdefault(r.series, []).append((r.observation_date, r.value))
    assert list(got) == [*CURVE_SERIES, "VIXCLS"]  # the others have no fixture: 404
    days = [date(2025, 11, d) for d in (24, 25, 26, 28)]
    assert got["DGS3MO"] == list(zip(days, (3.90, 3.89, 3.88, 3.87), strict=True))
    assert got["DGS30"] == list(zip(days, (4.66, 4.64, 4.63, 4.66), strict=True))
    assert all([d for d, _ in got[s]] == days for s in CURVE_SERIES)
    tracker = MacroTracker(MacroOptions())
    tracker.add(r for r in ctx.records if isinstance(r, MacroObservation))
    m = tracker.metrics()
    assert [(p["tenor"], p["yield"]) for p in m["curve"]] == [
        ("3M", 3.87),
        ("6M", 3.79),
        ("1Y", 3.61),
        ("2Y", 3.49),
        ("5Y", 3.59),
        ("10Y", 4.02),
        ("30Y", 4.66),
    ]
    assert m["spread_3m10y"] == 0.15  # 4.02 − 3.87
    assert m["spread_2s10s"] == 0.53  # no T10Y2Y: 4.02 − 3.49


def apewisdom(vendors: FakeVendors, **options: object) -> ApeWisdomSource:
    opts = ApeWisdomOptions(enabled=True, base_url=vendors.url, **options)  # type: ignore[arg-type]
    return ApeWisdomSource(opts, rng=random.Random(5))


async def test_mentions_from_every_page_numbers_or_strings(vendors: FakeVendors) -> None:
    """Two pages give four tickers; counts written as strings or numbers read alike."""
    source = apewisdom(vendors, pages=3)
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["GME", "NVDA", "PLTR", "AMC"]
    gme, nvda, _, amc = ctx.records
    assert isinstance(gme, Mentions)
    assert (gme.mentions, gme.upvotes, gme.rank, gme.mentions_24h_ago) == (482, 3907, 1, 211)
    assert (nvda.mentions, nvda.mentions_24h_ago) == (301, 355)
    assert amc.mentions_24h_ago is None
    assert len(vendors.requests) == 2  # stopped at the last page, not at 3


async def test_watchlist_only(vendors: FakeVendors) -> None:
    """watchlist_only keeps the watchlist's tickers."""
    source = apewisdom(vendors, watchlist_only=True)
    ctx = RecordingContext(NOW, watchlist=("GME", "SPY"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["GME"]


async def test_429_with_an_http_date_retry_after(vendors: FakeVendors) -> None:
    """Retry-After given as an HTTP date is honoured (the wait counted from the wall clock)."""
    when = datetime.now(UTC) + timedelta(seconds=120)
    vendors.script(PAGE1, Reply.rate_limited(format_datetime(when, usegmt=True)))
    source = apewisdom(vendors)
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "degraded" and status.next_attempt is not None
    assert 100 <= (status.next_attempt - NOW).total_seconds() <= 133


async def test_malformed_mentions_publish_nothing(vendors: FakeVendors) -> None:
    """A result without a count is refused, naming the row; nothing from the page is emitted."""
    body = b'{"pages": 1, "results": [{"ticker": "GME", "mentions": "lots"}]}'
    vendors.script(PAGE1, Reply(200, body, content_type="application/json"))
    source = apewisdom(vendors)
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert ctx.records == []
    assert "results[0]: mentions is 'lots', not a count" in (source.status().last_error or "")


async def test_every_series_refused_is_unavailable(vendors: FakeVendors) -> None:
    """When FRED refuses every series the source is unavailable, with the statuses given."""
    vendors.script(DGS10, Reply.forbidden())
    vendors.script(VIXCLS, Reply.forbidden())
    source = fred(vendors)
    ctx = RecordingContext(NOW)
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "unavailable"
    assert "every series refused" in (status.last_error or "")
    assert "HTTP 403" in (status.last_error or "")
