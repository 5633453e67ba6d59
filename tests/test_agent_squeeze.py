"""SqueezeAgent's analysis on the scripted GME squeeze setup, with hand-checked numbers."""

from __future__ import annotations

from datetime import date

import pytest

from alphawire.agents.squeeze import SqueezeBook, SqueezeOptions
from alphawire.agents.triggers import AlertCall, Threshold
from alphawire.analytics.market import paced_relative_volume
from alphawire.sources.records import Quote, ShortInterest
from sim_fixtures import OPEN, at, first_minute


def run_minute() -> tuple[SqueezeBook, list[tuple[int, AlertCall]], dict[int, float]]:
    """Score every simulated second of the first minute, as a 1 s cadence would."""
    book = SqueezeBook(SqueezeOptions())
    records = list(first_minute())
    calls: list[tuple[int, AlertCall]] = []
    gme: dict[int, float] = {}
    i = 0
    for t in range(61):
        while i < len(records) and records[i].ts <= at(t):
            book.observe(records[i])
            i += 1
        calls += [(t, c) for c in book.score(at(t), OPEN)]
        gme[t] = dict(book.ranking())["GME"]
    return book, calls, gme


def test_scripted_setup_crosses_the_threshold_once() -> None:
    """GME scores about 66 before the borrow squeeze; at 25 s borrow 85 %, utilization 99 %
    and volume at 19× its pace lift it to 77.5: exactly one squeeze_threshold alert, then
    none while it stays above 75."""
    _, calls, gme = run_minute()
    assert [(t, c.symbol, c.alert_type) for t, c in calls] == [(25, "GME", "squeeze_threshold")]
    assert max(gme[t] for t in range(25)) < 75 <= min(gme[t] for t in range(25, 61))
    call = calls[0][1]
    assert call.title == "GME squeeze score 77.5 crossed 75"
    fields = dict(call.fields)
    assert (fields["borrow_fee_pct"], fields["utilization_pct"]) == ("85", "99")
    assert fields["float_shares"] == "380,000,000"
    assert call.dedup_key == "squeeze_threshold:GME" and call.simulated


def test_gme_insight_ranks_first_with_its_inputs() -> None:
    """GME's insight at 60 s: score 77.5 (bullish, above the threshold), rank 1 of 9, every
    input in people's units; the market-wide insight ranks GME then AMC."""
    book, _, _ = run_minute()
    insight = book.insight("GME", at(60))
    assert insight is not None
    m = insight["metrics"]
    assert (m["squeeze_score"], m["rank"], m["ranked"]) == (77.5, 1, 9)
    assert insight["stance"] == "bullish" and insight["score"] == 0.775
    assert set(m["inputs"]) == {
        "short_interest_pct",
        "days_to_cover",
        "borrow_fee_pct",
        "utilization_pct",
        "float_shares",
        "rel_volume",
        "change_pct",
    }
    assert m["inputs"]["short_interest_pct"] == 23.46 and m["inputs"]["borrow_fee_pct"] == 85.0
    market = book.market_insight(at(60))
    assert market is not None
    assert [r["symbol"] for r in market["metrics"]["ranking"][:2]] == ["GME", "AMC"]


def test_relative_volume_hand_checked() -> None:
    """150,000 shares 1,170 s (5 %) into the session of a 1,000,000-share day: rvol 3.0."""
    assert paced_relative_volume(150_000, 1_000_000, 1_170) == pytest.approx(3.0)
    # A whole session at the pace is 1.0, and time past the close does not dilute it.
    assert paced_relative_volume(1_000_000, 1_000_000, 23_400) == pytest.approx(1.0)
    assert paced_relative_volume(1_000_000, 1_000_000, 30_000) == pytest.approx(1.0)
    assert paced_relative_volume(1_000, 0, 100) is None
    assert paced_relative_volume(1_000, 1_000_000, 0) is None


def test_threshold_fires_once_per_crossing_with_hysteresis() -> None:
    """Threshold 75, hysteresis 5: 74, 76 fires; 73 and 76 do not (not below 70 yet); 69
    re-arms; 75 fires again."""
    gate = Threshold(75, 5)
    assert [gate.update(x) for x in (74, 76, 73, 76, 69, 75)] == [
        False,
        True,
        False,
        False,
        False,
        True,
    ]


def test_rvol_left_out_early_and_when_closed() -> None:
    """Before rvol_min_seconds, and with no session open, the score uses the five borrow
    inputs only (weights renormalised), so it is the same both times."""
    book = SqueezeBook(SqueezeOptions(rvol_min_seconds=60), ("X",))
    book.observe(
        ShortInterest("t", "X", OPEN, date(2026, 11, 13), 40e6, 1e6, 10.0, 100e6, 0.5, 1.0)
    )
    book.observe(Quote("t", "X", at(30), 9.9, 10.1, 1, 1, 10.0, 1, 5_000_000, prev_close=10.0))
    book.score(at(30), OPEN)
    early = dict(book.ranking())["X"]
    book.score(at(30), None)
    assert dict(book.ranking())["X"] == early
    # 40 % of float, 10 days, 50 % borrow, 100 % used: full marks (0.3 + 0.2 + 0.2 + 0.1);
    # a 100 M float scores 0 of its 0.1: 100 · 0.8 / 0.9 = 88.89
    assert early == pytest.approx(100 * 0.8 / 0.9)
    book.score(at(120), OPEN)
    insight = book.insight("X", at(120))
    assert insight is not None and insight["metrics"]["inputs"]["rel_volume"] > 1
