"""MacroTracker: the curve, the VIX regime, inflation's trend and regime changes."""

from __future__ import annotations

from datetime import date

from alphawire.agents.macro import MacroOptions, MacroTracker, RegimeChange, vix_rose_into
from alphawire.sources.records import MacroObservation
from sim_fixtures import at, first_minute


def obs(series: str, day: date, value: float) -> MacroObservation:
    return MacroObservation(
        source="fred", symbol=None, ts=at(0), series=series, observation_date=day, value=value
    )


def macro(upto: float) -> list[MacroObservation]:
    return [r for r in first_minute() if isinstance(r, MacroObservation) and r.ts <= at(upto)]


def test_curve_inversion_is_one_change_at_thirty_seconds() -> None:
    """The scripted inversion (T10Y2Y −0.09, VIX 21.4) changes the curve and the VIX regime once."""
    tracker = MacroTracker(MacroOptions())
    records = [r for r in first_minute() if isinstance(r, MacroObservation)]
    changes: list[tuple[int, RegimeChange]] = []
    for step in range(0, 61):
        tracker.add(
            r for r in records if at(step - 1) < r.ts <= at(step) or (step == 0 and r.ts <= at(0))
        )
        changes += [(step, c) for c in tracker.changes()]
    assert changes == [
        (30, RegimeChange("curve", "normal", "inverted")),
        (30, RegimeChange("vix", "normal", "elevated")),
    ]
    assert vix_rose_into(changes[1][1], MacroOptions().vix_alert_regimes)


def test_metrics_after_the_inversion() -> None:
    """After 30 s the metrics hold the session's observations exactly as the scenario states."""
    tracker = MacroTracker(MacroOptions())
    tracker.add(macro(30))
    m = tracker.metrics()
    assert m["curve"] == [
        {"tenor": "2Y", "years": 2.0, "yield": 4.30},
        {"tenor": "10Y", "years": 10.0, "yield": 4.21},
    ]
    assert (m["spread_2s10s"], m["curve_regime"]) == (-0.09, "inverted")
    assert (m["vix"], m["vix_regime"], m["fed_funds"]) == (21.4, "elevated", 4.33)
    assert len(m["vix_history"]) == 20 and m["vix_history"][-1]["value"] == 21.4
    # 12 months of CPI rising 0.25 % a month: no YoY pair yet; annualised 3-month 1.0025^12 - 1
    assert m["inflation"] == []
    assert m["inflation_3m_annualised"] == round((1.0025**12 - 1) * 100, 2) == 3.04
    assert m["inflation_trend"] == "flat"
    insight = tracker.insight(at(30))
    assert insight is not None
    assert insight["symbol"] is None and insight["stance"] == "bearish"
    assert insight["score"] == -0.7  # inverted −0.4, elevated −0.3, flat 0
    assert insight["confidence"] == 1.0 and insight["simulated"] is True
    assert "-0.09 pp" in insight["headline"] and "21.4" in insight["headline"]


def test_inflation_yoy_and_trend_hand_checked() -> None:
    """CPI 100 → 103 → 106 a year later gives YoY 3 % then 6 % across months: rising."""
    tracker = MacroTracker(MacroOptions())
    base = [100.0] * 12
    later = [103.0, 103.0, 103.0, 106.0]
    for n, value in enumerate(base + later):
        tracker.add([obs("CPIAUCSL", date(2024 + n // 12, n % 12 + 1, 1), value)])
    m = tracker.metrics()
    assert [p["yoy"] for p in m["inflation"]] == [3.0, 3.0, 3.0, 6.0]
    assert m["inflation_trend"] == "rising"  # 6.0 − 3.0 > 0.10 pp


def test_first_state_is_a_baseline_and_spread_falls_back_to_the_difference() -> None:
    """No change on the first evaluation; without T10Y2Y the spread is DGS10 − DGS2."""
    tracker = MacroTracker(MacroOptions())
    day = date(2026, 12, 1)
    tracker.add([obs("DGS2", day, 4.5), obs("DGS10", day, 4.25)])
    assert tracker.changes() == []
    assert tracker.metrics()["spread_2s10s"] == -0.25
    tracker.add([obs("DGS2", date(2026, 12, 2), 4.0)])
    assert tracker.changes() == [RegimeChange("curve", "inverted", "normal")]


def test_vix_falling_back_never_alerts_and_history_is_bounded() -> None:
    """VIX moving down out of stress is a change, not an alert; each series keeps `history`."""
    assert not vix_rose_into(RegimeChange("vix", "stress", "elevated"), ("elevated", "stress"))
    assert vix_rose_into(RegimeChange("vix", "elevated", "stress"), ("elevated", "stress"))
    tracker = MacroTracker(MacroOptions(history=30))
    tracker.add(obs("VIXCLS", date(2026, 1, 1).fromordinal(739000 + n), 15.0) for n in range(50))
    assert len(tracker.metrics()["vix_history"]) == 20
    assert len(tracker._series["VIXCLS"]) == 30


def test_no_insight_before_any_curve_or_vix() -> None:
    """Only CPI known: nothing to say yet."""
    tracker = MacroTracker(MacroOptions())
    tracker.add([obs("CPIAUCSL", date(2026, 1, 1), 320.0)])
    assert tracker.insight(at(0)) is None
