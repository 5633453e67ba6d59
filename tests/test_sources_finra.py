"""FINRA daily short volume (CNMS files) and short interest, against a local server."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pydantic
import pytest
from tests.fake_vendors import FakeVendors, RecordingContext, Reply, run_until_sleeping, stop

from alphawire.sources.finra import (
    MAX_BACKFILL_DAYS,
    ShortInterestOptions,
    ShortInterestSource,
    ShortVolumeOptions,
    ShortVolumeSource,
)
from alphawire.sources.records import ShortInterest, ShortVolume

pytestmark = pytest.mark.anyio

DAILY = "/equity/regsho/daily/"
MONDAY = "CNMSshvol20251201.txt"
FRIDAY = "CNMSshvol20251128.txt"  # the half day after Thanksgiving
SI = "/data/group/otcMarket/name/consolidatedShortInterest"
# Mon 1 Dec 2025, 18:30 New York (EST): the day's file is posted (by 18:00).
MONDAY_1830_NY = datetime(2025, 12, 1, 23, 30, tzinfo=UTC)


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors().start()
    yield fake
    fake.stop()


def short_volume(vendors: FakeVendors, **options: object) -> ShortVolumeSource:
    """The source reading the fake; without backfill unless asked (it has its own tests)."""
    options.setdefault("backfill_days", 0)
    opts = ShortVolumeOptions(enabled=True, base_url=vendors.url + DAILY, **options)  # type: ignore[arg-type]
    return ShortVolumeSource(opts, rng=random.Random(3))


async def test_reads_the_days_file_after_posting_time(vendors: FakeVendors) -> None:
    """At 18:30 New York the day's CNMS file is read: watchlist rows, fractional volumes kept."""
    source = short_volume(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME", "AAPL"))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["AAPL", "GME"]  # file order
    aapl, gme = ctx.records
    assert isinstance(gme, ShortVolume)
    assert gme.trade_date == date(2025, 12, 1)
    assert (gme.short_volume, gme.short_exempt_volume, gme.total_volume) == (
        1543210.75,
        812.0,
        2950123.25,
    )
    assert gme.market == "B,Q,N" and gme.ts == MONDAY_1830_NY and not gme.simulated
    assert aapl.short_volume == 9123456.25
    status = source.status()
    assert status.state == "ok" and status.detail["last_file"] == MONDAY
    # Read once: nothing until Tuesday's posting time (18:00 New York = 23:00 UTC).
    assert status.next_attempt == datetime(2025, 12, 2, 23, 0, tzinfo=UTC)


async def test_before_posting_time_reads_the_previous_session(vendors: FakeVendors) -> None:
    """At 17:30 New York on Monday the newest posted file is Friday's (the half day, CRLF)."""
    source = short_volume(vendors)
    ctx = RecordingContext(datetime(2025, 12, 1, 22, 30, tzinfo=UTC), watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert [r.trade_date for r in ctx.records] == [date(2025, 11, 28)]
    assert ctx.records[0].short_volume == 701234.5
    assert [r.path for r in vendors.requests] == [DAILY + FRIDAY]
    # Friday read; Monday's file is due at 18:00 New York the same day.
    assert source.status().next_attempt == datetime(2025, 12, 1, 23, 0, tzinfo=UTC)


async def test_a_read_file_is_never_fetched_again(vendors: FakeVendors) -> None:
    """Hours pass without a request; at Tuesday's posting time Tuesday's file is asked for."""
    source = short_volume(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    for _ in range(3):
        await ctx.step(3600)
    assert len(vendors.requests) == 1
    await ctx.clock.advance(datetime(2025, 12, 2, 23, 0, tzinfo=UTC))
    await ctx.wait_sleeping()
    await stop(task)
    assert [r.path for r in vendors.requests] == [DAILY + MONDAY, DAILY + "CNMSshvol20251202.txt"]
    status = source.status()  # Tuesday's file is not on the fake: a late file
    assert status.state == "unavailable"
    assert "HTTP 404" in (status.last_error or "") and "not posted yet for 2025-12-02" in (
        status.last_error or ""
    )
    assert status.next_attempt == datetime(2025, 12, 2, 23, 30, tzinfo=UTC)


async def test_truncated_file_publishes_nothing_then_recovers(vendors: FakeVendors) -> None:
    """A file cut mid-row fails the trailer check: nothing emitted, retried, then read whole."""
    vendors.script(DAILY + MONDAY, Reply.truncated("finra/CNMSshvol20251201.txt", 150))
    source = short_volume(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    status = source.status()
    assert ctx.records == [] and status.state == "degraded"
    assert "truncated" in (status.last_error or "")
    assert status.next_attempt is not None
    await ctx.step((status.next_attempt - MONDAY_1830_NY).total_seconds())
    await stop(task)
    assert [r.symbol for r in ctx.records] == ["GME"]
    assert source.status().state == "ok"


async def test_html_instead_of_csv_publishes_nothing(vendors: FakeVendors) -> None:
    """An HTML page served with status 200 is not read as a file."""
    vendors.script(DAILY + MONDAY, Reply.html_page())
    source = short_volume(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert ctx.records == []
    assert "HTML page instead of CSV" in (source.status().last_error or "")


async def test_403_makes_the_source_unavailable(vendors: FakeVendors) -> None:
    """FINRA's CDN refusing us (403) shows as unavailable with the status in the reason."""
    vendors.script(DAILY + MONDAY, Reply.forbidden())
    source = short_volume(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert source.status().state == "unavailable"
    assert "HTTP 403" in (source.status().last_error or "")


async def test_all_symbols_emits_every_row(vendors: FakeVendors) -> None:
    """all_symbols = true publishes the whole file, not only the watchlist."""
    source = short_volume(vendors, all_symbols=True)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert len(ctx.records) == 6


# The sessions before Monday 1 Dec 2025: Fri 28 Nov (half day), Wed 26 (Thursday 27 is
# Thanksgiving), Tue 25, Mon 24 (the fake has no file for it).
BACKFILL = ["CNMSshvol20251125.txt", "CNMSshvol20251126.txt", FRIDAY]


def days_of(records: list[ShortVolume]) -> list[tuple[date, str]]:
    return [(r.trade_date, r.symbol) for r in records]


async def test_first_poll_backfills_earlier_sessions_oldest_first(vendors: FakeVendors) -> None:
    """backfill_days = 3: the day's file, then the three sessions before it by the NYSE
    calendar (Thanksgiving skipped), oldest first; their rows are emitted first, oldest
    first, in one batch, the day's file last; the source is ok and reads nothing more."""
    source = short_volume(vendors, backfill_days=3)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME", "AAPL"))
    task = await run_until_sleeping(source, ctx)
    for _ in range(3):
        await ctx.step(3600)
    await stop(task)
    assert [r.path for r in vendors.requests] == [DAILY + f for f in [MONDAY, *BACKFILL]]
    assert days_of(ctx.records) == [
        (date(2025, 11, 25), "AAPL"),
        (date(2025, 11, 25), "GME"),
        (date(2025, 11, 26), "AAPL"),
        (date(2025, 11, 26), "GME"),
        (date(2025, 11, 28), "AAPL"),
        (date(2025, 11, 28), "GME"),
        (date(2025, 12, 1), "AAPL"),
        (date(2025, 12, 1), "GME"),
    ]
    assert ctx.batches == 1 and all(r.ts == MONDAY_1830_NY for r in ctx.records)
    gme = ctx.records[1]
    assert (gme.short_volume, gme.short_exempt_volume, gme.total_volume) == (
        812345.0,
        410.25,
        1598765.75,
    )
    status = source.status()
    assert status.state == "ok" and status.detail["backfill_files"] == 3
    assert "backfill_missing" not in status.detail
    assert status.next_attempt == datetime(2025, 12, 2, 23, 0, tzinfo=UTC)


async def test_a_missing_backfill_day_is_skipped_and_logged_once(
    vendors: FakeVendors, caplog: pytest.LogCaptureFixture
) -> None:
    """backfill_days = 4 reaches Mon 24 Nov, which the fake has no file for (404): it is
    skipped, logged once and listed in the status; the rest is emitted, the source is ok;
    Tuesday's poll asks for Tuesday's file alone."""
    source = short_volume(vendors, backfill_days=4)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    with caplog.at_level(logging.INFO, "alphawire.sources"):
        task = await run_until_sleeping(source, ctx)
        await ctx.clock.advance(datetime(2025, 12, 2, 23, 0, tzinfo=UTC))
        await ctx.wait_sleeping()
        await stop(task)
    paths = [DAILY + f for f in [MONDAY, "CNMSshvol20251124.txt", *BACKFILL]]
    assert [r.path for r in vendors.requests] == [*paths, DAILY + "CNMSshvol20251202.txt"]
    assert [r.trade_date for r in ctx.records] == [
        date(2025, 11, 25),
        date(2025, 11, 26),
        date(2025, 11, 28),
        date(2025, 12, 1),
    ]
    skipped = [r.getMessage() for r in caplog.records if "backfill skips" in r.getMessage()]
    assert skipped == [
        "source finra_short_volume: no file for 2025-11-24 (closed?); backfill skips it"
    ]
    detail = source.status().detail
    assert detail["backfill_missing"] == ["2025-11-24"] and detail["backfill_files"] == 3


async def test_a_truncated_backfill_file_is_refused_then_only_the_rest_is_asked(
    vendors: FakeVendors,
) -> None:
    """Friday's file cut mid-row fails the round: nothing is emitted, the source is degraded
    and retries after its backoff, asking again only for the day's file and Friday's (the
    two backfill files already read are kept); then everything comes, oldest first."""
    vendors.script(DAILY + FRIDAY, Reply.truncated("finra/CNMSshvol20251128.txt", 80))
    source = short_volume(vendors, backfill_days=3)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    status = source.status()
    assert ctx.records == [] and status.state == "degraded"
    assert "CNMSshvol20251128.txt" in (status.last_error or "")
    assert "truncated" in (status.last_error or "")
    assert status.next_attempt is not None
    await ctx.step((status.next_attempt - MONDAY_1830_NY).total_seconds())
    await stop(task)
    assert [r.path for r in vendors.requests] == [DAILY + f for f in [MONDAY, *BACKFILL]] + [
        DAILY + MONDAY,
        DAILY + FRIDAY,
    ]
    assert [r.trade_date for r in ctx.records] == [
        date(2025, 11, 25),
        date(2025, 11, 26),
        date(2025, 11, 28),
        date(2025, 12, 1),
    ]
    assert source.status().state == "ok"


async def test_a_429_during_backfill_waits_its_retry_after(vendors: FakeVendors) -> None:
    """FINRA's CDN answering 429 to a backfill file: nothing emitted, the round waits the
    Retry-After (120 s, plus up to 10 %), then resumes where it stopped."""
    vendors.script(DAILY + "CNMSshvol20251126.txt", Reply.rate_limited("120"))
    source = short_volume(vendors, backfill_days=3)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    status = source.status()
    assert ctx.records == [] and status.state == "degraded"
    assert status.next_attempt is not None
    wait = (status.next_attempt - MONDAY_1830_NY).total_seconds()
    assert 120 <= wait <= 132
    await ctx.step(wait)
    await stop(task)
    retried = [r.path for r in vendors.requests][3:]
    assert retried == [DAILY + MONDAY, DAILY + "CNMSshvol20251126.txt", DAILY + FRIDAY]
    assert len(ctx.records) == 4 and source.status().state == "ok"


def test_backfill_days_is_checked() -> None:
    """backfill_days takes 0 (off) to 250 sessions; anything else is refused, naming it."""
    assert ShortVolumeOptions().backfill_days == 20
    assert ShortVolumeOptions(backfill_days=0).backfill_days == 0
    for bad in (-1, MAX_BACKFILL_DAYS + 1, "many"):
        with pytest.raises(pydantic.ValidationError, match="backfill_days"):
            ShortVolumeOptions(backfill_days=bad)  # type: ignore[arg-type]


def short_interest(vendors: FakeVendors) -> ShortInterestSource:
    opts = ShortInterestOptions(enabled=True, base_url=vendors.url)
    return ShortInterestSource(opts, rng=random.Random(3))


async def test_short_interest_rows_oldest_first_then_only_new(vendors: FakeVendors) -> None:
    """Each symbol's settlements come oldest first; the next day's answer repeats none."""
    source = short_interest(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME", "AAPL"))
    task = await run_until_sleeping(source, ctx)
    (request,) = vendors.seen(SI)
    assert request.method == "POST"
    query = json.loads(request.body)
    assert query["domainFilters"] == [{"fieldName": "symbolCode", "values": ["GME", "AAPL"]}]
    got = [(r.symbol, r.settlement_date) for r in ctx.records]
    assert got == [
        ("GME", date(2025, 10, 31)),
        ("AAPL", date(2025, 11, 14)),
        ("GME", date(2025, 11, 14)),
    ]
    gme = ctx.records[-1]
    assert isinstance(gme, ShortInterest)
    assert (gme.short_interest, gme.avg_daily_volume, gme.days_to_cover) == (
        67123456.0,
        8912345.0,
        7.53,
    )
    assert gme.borrow_fee is None and gme.float_shares is None
    await ctx.clock.advance(datetime(2025, 12, 2, 23, 0, tzinfo=UTC))
    await ctx.wait_sleeping()
    await stop(task)
    assert len(vendors.seen(SI)) == 2 and len(ctx.records) == 3


async def test_short_interest_bad_row_names_the_field(vendors: FakeVendors) -> None:
    """A row without its short position is refused, naming the row and field; nothing emitted."""
    vendors.script(
        SI,
        Reply(
            200,
            b'[{"settlementDate": "2025-11-14", "symbolCode": "GME"}]',
            content_type="application/json",
        ),
    )
    source = short_interest(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    assert ctx.records == []
    assert "row 0: field currentShortPositionQuantity is missing" in (
        source.status().last_error or ""
    )


async def test_short_interest_401_is_unavailable(vendors: FakeVendors) -> None:
    """If FINRA starts asking for credentials (401), the source says so and waits."""
    vendors.script(SI, Reply(401, b'{"error":"unauthorized"}', content_type="application/json"))
    source = short_interest(vendors)
    ctx = RecordingContext(MONDAY_1830_NY, watchlist=("GME",))
    task = await run_until_sleeping(source, ctx)
    await stop(task)
    status = source.status()
    assert status.state == "unavailable" and "HTTP 401" in (status.last_error or "")
    assert status.next_attempt == MONDAY_1830_NY + timedelta(hours=1)
