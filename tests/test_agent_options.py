"""OptionsAgent's analysis on the scripted AMD unusual-options burst, with hand-built prints."""

from __future__ import annotations

import functools
from datetime import date, timedelta

from alphawire.agents.options import OptionsBook, OptionsOptions, read_flow
from alphawire.agents.triggers import AlertCall
from alphawire.sources.records import OptionChain, OptionContract, OptionTrade
from sim_fixtures import OPEN, at, first_minute

TARGET = "AMD   261211C00160000"  # the call the scripted burst trades


@functools.cache
def run_minute(alert_premium: float = 250_000) -> tuple[OptionsBook, list[tuple[int, AlertCall]]]:
    """Evaluate every simulated second of the first minute, as a 1 s cadence would."""
    book = OptionsBook(OptionsOptions(alert_premium=alert_premium))
    records = list(first_minute())
    calls: list[tuple[int, AlertCall]] = []
    i = 0
    for t in range(61):
        while i < len(records) and records[i].ts <= at(t):
            book.observe(records[i])
            i += 1
        for symbol, trades, chain in book.work(at(t)):
            calls += [
                (t, c) for c in book.apply(symbol, read_flow(trades, chain, book.options, at(t)))
            ]
    return book, calls


def test_large_unusual_flow_alerts_once_per_contract() -> None:
    """$250K or more in one contract alerts once: a background NVDA call block sold at the bid
    ($531.2K, bearish) at 1 s, and the AMD burst when its sixth ask-side hit (the 2,000-lot at
    26 s) takes the run to $440.4K; the AMD chain at 32 s, flagging the same call, adds none."""
    _, calls = run_minute()
    assert [(t, c.symbol, c.severity) for t, c in calls] == [
        (1, "NVDA", "medium"),
        (26, "AMD", "medium"),
    ]
    amd = calls[1][1]
    assert amd.title == "AMD unusual options: $440.4K bullish 6 repeated hits in 261211C00160000"
    assert amd.dedup_key == f"unusual_options:{TARGET}" and amd.simulated
    assert dict(amd.fields)["Sentiment"] == "bullish"


def test_amd_insight_lists_sweeps_the_unusual_line_and_premium() -> None:
    """AMD at 60 s: the six 4-exchange sweeps and the unusual chain line (6,943 contracts on
    1,200 open interest) are in metrics.unusual; one run of 7 ask hits ($502,803); call
    premium dominates and the stance is bullish."""
    book, _ = run_minute()
    insight = book.insight("AMD", at(60))
    assert insight is not None
    m = insight["metrics"]
    target_sweeps = [r for r in m["unusual"] if r["contract"] == TARGET and r["sweep"]]
    assert len(target_sweeps) == 6 and all(r["side"] == "ask" for r in target_sweeps)
    (line,) = [r for r in m["unusual"] if r["contract"] == TARGET and r["volume"] == r["size"]]
    assert (line["volume"], line["open_interest"]) == (6943.0, 1200.0)
    (run,) = m["repeated_hits"]
    assert (run["contract"], run["hits"], run["premium"]) == (TARGET, 7, 502803.0)
    assert m["premium"]["calls"] > 5 * m["premium"]["puts"]
    assert insight["stance"] == "bullish" and insight["simulated"] is True
    assert set(m["premium"]) == {"calls", "puts", "bullish", "bearish", "neutral"}


def test_a_higher_threshold_keeps_amd_quiet_until_the_chain() -> None:
    """At $600K no trade-level read qualifies; the AMD chain at 32 s ($784,559 of day volume on
    the call) is the one alert."""
    _, calls = run_minute(600_000)
    assert [(t, c.symbol, c.title.split(": ")[1]) for t, c in calls] == [
        (32, "AMD", "$784.6K neutral unusual volume in 261211C00160000")
    ]


def put(
    seconds: float, size: float, price: float, exchange: str, bid: float, ask: float
) -> OptionTrade:
    return OptionTrade(
        "t",
        "X",
        at(seconds),
        "X 261218P00090000",
        date(2026, 12, 18),
        90.0,
        "put",
        price,
        size,
        bid,
        ask,
        exchange,
    )


def test_premium_by_side_and_sentiment_hand_checked() -> None:
    """Puts: 10 at the ask at 2.00 ($2,000, bearish), 5 at the bid at 1.90 ($950, bullish),
    4 at the mid 1.95 ($780, neutral): puts $3,730 in all, score (950 − 2,000) / 3,730."""
    book = OptionsBook(OptionsOptions(), ("X",))
    for n, (size, price) in enumerate(((10, 2.0), (5, 1.9), (4, 1.95))):
        book.observe(put(n, size, price, "XCBO", 1.9, 2.0))
    insight = book.insight("X", at(3))
    assert insight is not None
    assert insight["metrics"]["premium"] == {
        "calls": 0.0,
        "puts": 3730.0,
        "bullish": 950.0,
        "bearish": 2000.0,
        "neutral": 780.0,
    }
    assert insight["score"] == round((950 - 2000) / 3730, 3) and insight["stance"] == "bearish"


def test_prints_leave_the_window_and_sessions_reset() -> None:
    """Prints older than hit_window_seconds are not read again; a new session's premium
    starts at zero."""
    book = OptionsBook(OptionsOptions(hit_window_seconds=60), ("X",))
    book.observe(put(0, 10, 2.0, "XCBO", 1.9, 2.0))
    ((_, kept, _),) = book.work(at(30))
    assert len(kept) == 1
    ((_, kept, _),) = book.work(at(61)) or [("X", [], None)]
    assert kept == []
    book.observe(put(86_400, 1, 2.0, "XCBO", 1.9, 2.0))
    insight = book.insight("X", at(86_400))
    assert insight is not None and insight["metrics"]["premium"]["puts"] == 200.0


def test_chain_lines_flagged_unusual() -> None:
    """A line with 900 contracts on 200 open interest at 1.50 is unusual (vol/OI 4.5); one with
    400 contracts is not (volume must exceed 500)."""

    def line(occ: str, volume: float) -> OptionContract:
        return OptionContract(occ, date(2026, 12, 18), 110.0, "call", 1.4, 1.5, 1.5, volume, 200.0)

    chain = OptionChain(
        "t", "X", OPEN + timedelta(hours=1), 100.0, (line("A", 900), line("B", 400))
    )
    read = read_flow([], chain, OptionsOptions(), chain.ts)
    assert [c.occ for c, _ in read.lines] == ["A"]
    assert read.lines[0][1].premium == 900 * 1.5 * 100


def test_a_chain_is_read_once_and_found_orders_stay_for_the_session() -> None:
    """After a read, the same chain is not handed out again; sweeps found earlier stay in
    metrics.unusual after their prints leave the hit window."""
    book, _ = run_minute.__wrapped__()  # a fresh run: this test moves time on
    assert all(chain is None for _, _, chain in book.work(at(60)))
    later = at(60 + 400)  # every first-minute print is out of the 300 s hit window
    for _symbol, trades, chain in book.work(later):
        assert trades == [] and chain is None
    insight = book.insight("AMD", later)
    assert insight is not None
    assert sum(r["sweep"] and r["contract"] == TARGET for r in insight["metrics"]["unusual"]) == 6
