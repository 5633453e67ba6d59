"""DarkPoolAgent's analysis on the scripted NVDA dark-pool accumulation and hand-built files."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from alphawire.agents.darkpool import DarkPoolBook, DarkPoolOptions
from alphawire.agents.triggers import AlertCall
from alphawire.calendar import NEW_YORK, default_calendar
from alphawire.sources.records import Quote, ShortVolume, Trade
from sim_fixtures import OPEN, at, first_minute

NYSE = default_calendar()


def book_of(options: DarkPoolOptions, watchlist: tuple[str, ...] = ()) -> DarkPoolBook:
    return DarkPoolBook(options, watchlist, calendar=NYSE)


def run_minute() -> tuple[DarkPoolBook, list[AlertCall]]:
    book = book_of(DarkPoolOptions())
    calls: list[AlertCall] = []
    for record in first_minute():
        calls += book.observe(record)
    return book, calls


def test_blocks_over_5m_dollars_alert_with_one_key_per_symbol() -> None:
    """Dark blocks of $5M or more alert: TSLA's and SPY's background blocks, the nine of the
    twelve scripted NVDA blocks that are that large, then an AMD block; one key per symbol so
    the agent's cooldown lets one alert per symbol through."""
    _, calls = run_minute()
    calls = [c for c in calls if c.alert_type == "darkpool_block"]
    assert [c.symbol for c in calls] == ["TSLA", "SPY"] + ["NVDA"] * 9 + ["AMD"]
    assert {c.dedup_key for c in calls} == {
        "darkpool_block:TSLA",
        "darkpool_block:SPY",
        "darkpool_block:NVDA",
        "darkpool_block:AMD",
    }
    first_nvda = calls[2]
    assert first_nvda.time == at(10) and first_nvda.alert_type == "darkpool_block"
    assert first_nvda.title == "NVDA dark block: 55,900 shares at 142.22 ($7.95M)"
    assert dict(first_nvda.fields)["Venue"] == "FINN" and first_nvda.simulated


def test_nvda_accumulation_reads_as_bullish_blocks_above_the_mid() -> None:
    """NVDA's insight: 14 dark blocks (12 scripted, 2 background), a positive lean (prints
    above the mid), most dark volume clustered at one level, yesterday's 42.3 % short ratio
    the newest of 21 days."""
    book, _ = run_minute()
    insight = book.insight("NVDA", at(60))
    assert insight is not None
    m = insight["metrics"]
    assert m["block_count"] == len(m["blocks"]) == 14
    assert all(b["side"] in ("mid", "buy") for b in m["blocks"])
    assert 0.2 < m["block_lean"] <= 1 and insight["stance"] == "bullish"
    assert m["levels"][0]["shares"] > 0.5 * m["dark_shares"]
    assert m["short_ratio"] == 0.4233 and len(m["short_ratio_history"]) == 21
    assert m["short_ratio_history"][-1] == {"date": "2026-12-03", "ratio": 0.4233}
    assert insight["headline"].startswith("NVDA: 14 dark blocks this session, lean +0.33")


def evening(day: date) -> datetime:
    """18:30 New York on ``day``: FINRA's file for that day is posted."""
    return datetime.combine(day, time(18, 30), NEW_YORK)


def row(
    symbol: str,
    day: int | date,
    short: float,
    total: float = 100.0,
    close: float | None = None,
    read: datetime | None = None,
) -> ShortVolume:
    """A FINRA row of trade date ``day`` (days after 1 Nov 2026), read that evening unless
    ``read`` says when."""
    trade_date = day if isinstance(day, date) else date(2026, 11, 1) + timedelta(days=day)
    return ShortVolume(
        "finra",
        symbol,
        read or evening(trade_date),
        trade_date,
        short,
        0.0,
        total,
        "B,Q,N",
        close,
    )


def test_short_ratio_z_score_and_extreme_alert_hand_checked() -> None:
    """Ratios 40, 42, 44, 46, 48 % then 52 %: mean 44 %, sample stdev 3.1623 %, so z =
    0.08 / 0.031623 = 2.53 ≥ 2 alerts once; the same day read again does not alert again."""
    book = book_of(DarkPoolOptions(), ("X",))
    for i, short in enumerate((40, 42, 44, 46, 48)):
        assert book.observe(row("X", i, short)) == []
    (call,) = book.observe(row("X", 5, 52))
    assert call.alert_type == "short_ratio_extreme"
    assert call.title == "X short-volume ratio high: 52.0% (z +2.53)"
    assert call.dedup_key == "short_ratio_extreme:X:2026-11-06"
    assert book.observe(row("X", 5, 52)) == []
    insight = book.insight("X", OPEN)
    assert insight is not None and insight["metrics"]["short_ratio_z"] == 2.53


def test_the_newest_file_by_the_calendar() -> None:
    """Monday 7 Dec 2026: at 18:30 New York the day's file is the newest; at 17:30 (before
    FINRA posts, two hours after the close) and at 09:30 (the simulator's first open) it is
    Friday's. Older trade dates are backfill."""
    book = book_of(DarkPoolOptions(), ("X",))
    monday, friday = date(2026, 12, 7), date(2026, 12, 4)
    assert book.is_newest_file(row("X", monday, 50, read=evening(monday)))
    assert not book.is_newest_file(row("X", friday, 50, read=evening(monday)))
    for when in (time(17, 30), time(9, 30)):
        read = datetime.combine(monday, when, NEW_YORK)
        assert book.is_newest_file(row("X", friday, 50, read=read))
        assert not book.is_newest_file(row("X", date(2026, 12, 3), 50, read=read))


def test_the_newest_file_after_a_half_day_is_out_at_18_00_not_two_hours_after_the_close() -> None:
    """Friday 27 Nov 2026 closes at 13:00 (after Thanksgiving); FINRA still posts its file by
    18:00. At 16:00 the FINRA source reads Wednesday's file as the newest, so Wednesday's row
    is the newest file then and its extreme ratio alerts (z = (70 − 44) / 3.1623 = 8.22);
    Friday's row read at 18:30 is the newest and Wednesday's then is backfill."""
    wednesday, friday = date(2026, 11, 25), date(2026, 11, 27)
    assert NYSE.is_half_day(friday) and not NYSE.is_trading_day(date(2026, 11, 26))
    at_four = datetime.combine(friday, time(16, 0), NEW_YORK)
    book = book_of(DarkPoolOptions(), ("X",))
    assert book.is_newest_file(row("X", wednesday, 50, read=at_four))
    assert not book.is_newest_file(row("X", date(2026, 11, 24), 50, read=at_four))
    assert book.is_newest_file(row("X", friday, 50, read=evening(friday)))
    assert not book.is_newest_file(row("X", wednesday, 50, read=evening(friday)))
    for day, short in zip(range(15, 20), (40, 42, 44, 46, 48), strict=True):
        assert book.observe(row("X", date(2026, 11, day), short, read=at_four)) == []
    (call,) = book.observe(row("X", wednesday, 70, read=at_four))
    assert call.dedup_key == "short_ratio_extreme:X:2026-11-25"
    assert call.title == "X short-volume ratio high: 70.0% (z +8.22)"


def test_backfill_never_alerts_then_the_newest_day_does() -> None:
    """Twenty sessions read at start-up (Thursday evening, oldest first) with one extreme day
    (90 % among 40-48 %, z 15.7 against the days before it) raise no alert: they are older
    than the newest file. Thursday's file then gives 70 %: against the twenty earlier days
    (mean 926 / 20 = 46.3 %, sample stdev 10.687 %) z = 23.7 / 10.687 = 2.22 ≥ 2, one alert."""
    book = book_of(DarkPoolOptions(), ("X",))
    sessions = [s.day for s in NYSE.sessions(date(2026, 11, 1), date(2026, 12, 3))][-21:]
    thursday = sessions[-1]
    assert thursday == date(2026, 12, 3)
    ratios = [40, 42, 44, 46, 48] * 4
    ratios[12] = 90
    startup = evening(thursday) - timedelta(minutes=1)
    for day, short in zip(sessions[:-1], ratios, strict=True):
        assert book.observe(row("X", day, short, read=startup)) == []
    insight = book.insight("X", startup)
    assert insight is not None and len(insight["metrics"]["short_ratio_history"]) == 20
    (call,) = book.observe(row("X", thursday, 70))
    assert call.alert_type == "short_ratio_extreme"
    assert call.title == "X short-volume ratio high: 70.0% (z +2.22)"
    assert call.dedup_key == "short_ratio_extreme:X:2026-12-03"
    assert book.observe(row("X", thursday, 70)) == []  # the same file read again


def test_no_z_score_before_min_history() -> None:
    """With four earlier days (min_history 5) an outlier gets no z-score and no alert."""
    book = book_of(DarkPoolOptions(), ("X",))
    for i, short in enumerate((40, 42, 44, 46, 90)):
        assert book.observe(row("X", i, short)) == []


def test_dix_hand_checked() -> None:
    """A: 40/100 shares short at $10, B: 60/100 at $30: DIX = (40·10 + 60·30) / (100·10 +
    100·30) = 2,200 / 4,000 = 0.55; B's close comes from its quote when the row has none."""
    book = book_of(DarkPoolOptions(), ("A", "B"))
    book.observe(row("A", 0, 40, close=10.0))
    book.observe(Quote("q", "B", OPEN, 29.9, 30.1, 1, 1, 30.0, 1, 0, prev_close=30.0))
    book.observe(row("B", 0, 60))
    assert book.dix_history() == [{"date": "2026-11-01", "value": 0.55}]
    market = book.market_insight(OPEN)
    assert market is not None and market["symbol"] is None and market["metrics"]["dix"] == 0.55


def test_blocks_are_bounded_and_reset_each_session() -> None:
    """At most max_blocks blocks are kept (oldest go first); a new session starts empty."""
    book = book_of(DarkPoolOptions(max_blocks=3), ("X",))

    def dark(seconds: float, size: float) -> Trade:
        return Trade("t", "X", at(seconds), 10.0, size, "FINN", True, 9.99, 10.01)

    for n in range(5):
        book.observe(dark(n, 20_000 + n))
    insight = book.insight("X", at(5))
    assert insight is not None
    assert [b["size"] for b in insight["metrics"]["blocks"]] == [20_002, 20_003, 20_004]
    book.observe(dark(86_400, 20_000))
    insight = book.insight("X", at(86_400))
    assert insight is not None and insight["metrics"]["block_count"] == 1


def test_lit_prints_are_not_dark_blocks() -> None:
    """A 50,000-share print on a lit exchange is neither a dark block nor an alert."""
    book = book_of(DarkPoolOptions(), ("X",))
    assert book.observe(Trade("t", "X", OPEN, 200.0, 50_000, "XNAS", False, 199.9, 200.0)) == []
    insight = book.insight("X", OPEN)
    assert insight is not None and insight["metrics"]["block_count"] == 0
    assert insight["metrics"]["dark_share_pct"] == pytest.approx(0.0)


def test_block_lean_and_dark_levels_hand_checked() -> None:
    """Blocks of $1,000,000 at the ask (place +1) and $3,000,000 at the mid (place 0): lean =
    (1M·1 + 3M·0) / 4M = 0.25. With 10 bp bins set by the first print (100.00 → 0.10 wide),
    the 30,000 shares at 100.00 and 10,000 at 100.02 share the 100.00 level; 100.30 is its own."""
    book = book_of(DarkPoolOptions(), ("X",))
    book.observe(Trade("t", "X", at(1), 100.00, 30_000, "FINN", True, 99.98, 100.02))
    book.observe(Trade("t", "X", at(2), 100.02, 10_000, "FINN", True, 99.98, 100.02))
    book.observe(Trade("t", "X", at(3), 100.30, 100, "FINY", True, 100.28, 100.32))
    insight = book.insight("X", at(4))
    assert insight is not None
    m = insight["metrics"]
    assert m["block_notional"] == 3_000_000 + 1_000_200
    assert m["block_lean"] == round(1_000_200 / 4_000_200, 3) == 0.25
    assert [(lv["price"], lv["shares"], lv["prints"]) for lv in m["levels"]] == [
        (100.0, 40_000, 2),
        (100.3, 100, 1),
    ]
    assert insight["levels"] == {"dark_level_1": 100.0, "dark_level_2": 100.3}
