"""MacroTracker: the curve, the VIX regime, inflation's trend and regime changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import pytest

from alphawire.agents.macro import (
    MacroAgent,
    MacroOptions,
    MacroTracker,
    RegimeChange,
    vix_rose_into,
)
from alphawire.clock import VirtualClock
from alphawire.sources.records import MacroObservation
from sim_fixtures import OPEN, at, first_minute

if TYPE_CHECKING:
    from alphawire.agents.base import AgentContext


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
        {"tenor": "3M", "years": 0.25, "yield": 4.31},
        {"tenor": "6M", "years": 0.5, "yield": 4.34},
        {"tenor": "1Y", "years": 1.0, "yield": 4.30},
        {"tenor": "2Y", "years": 2.0, "yield": 4.30},
        {"tenor": "5Y", "years": 5.0, "yield": 4.22},
        {"tenor": "10Y", "years": 10.0, "yield": 4.21},
        {"tenor": "30Y", "years": 30.0, "yield": 4.41},
    ]
    assert (m["spread_2s10s"], m["curve_regime"]) == (-0.09, "inverted")
    assert m["spread_3m10y"] == -0.10  # 4.21 − 4.31
    assert (m["vix"], m["vix_regime"], m["fed_funds"]) == (21.4, "elevated", 4.33)
    assert len(m["vix_history"]) == 20 and m["vix_history"][-1]["value"] == 21.4
    # 36 months of CPI: the last 12 YoY rates; the sim's YoY rises (checked in the next test)
    assert len(m["inflation"]) == 12 and m["inflation_trend"] == "rising"
    insight = tracker.insight(at(30))
    assert insight is not None
    assert insight["symbol"] is None and insight["stance"] == "bearish"
    assert insight["score"] == -0.9  # inverted −0.4, elevated −0.3, inflation rising −0.2
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


def test_spread_3m10y_hand_checked_on_the_latest_common_date() -> None:
    """spread_3m10y is DGS10 − DGS3MO in pp on the latest date both have: 4.21 − 4.31 = −0.10
    on 4 December; a 3-month yield for 7 December without a 10-year leaves it there, while
    the curve shows each tenor's latest; it never sets curve_regime (2s10s does)."""
    tracker = MacroTracker(MacroOptions())
    assert tracker.metrics()["spread_3m10y"] is None
    day = date(2026, 12, 4)
    tracker.add([obs("DGS10", day, 4.21), obs("DGS3MO", day, 4.31), obs("T10Y2Y", day, 0.05)])
    m = tracker.metrics()
    assert (m["spread_3m10y"], m["curve_regime"]) == (-0.10, "normal")
    tracker.add([obs("DGS3MO", date(2026, 12, 7), 4.50)])
    m = tracker.metrics()
    assert m["spread_3m10y"] == -0.10
    assert m["curve"][0] == {"tenor": "3M", "years": 0.25, "yield": 4.50}
    tracker.add([obs("DGS10", date(2026, 12, 7), 4.60)])
    assert tracker.metrics()["spread_3m10y"] == 0.10  # 4.60 − 4.50


def test_curve_is_sorted_by_years_whatever_the_arrival_order() -> None:
    """Tenors arriving long end first still come out 3M … 30Y; unknown series are not tenors."""
    tracker = MacroTracker(MacroOptions())
    day = date(2026, 12, 4)
    for sid, value in (("DGS30", 4.4), ("DGS1", 4.3), ("T10Y2Y", 0.1), ("DGS6MO", 4.35)):
        tracker.add([obs(sid, day, value)])
    assert [p["tenor"] for p in tracker.metrics()["curve"]] == ["6M", "1Y", "30Y"]


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


@dataclass
class AlertLog:
    """The little of an AgentContext that MacroAgent.evaluate uses: a clock and alerts."""

    clock: VirtualClock
    alerts: list[dict[str, Any]] = field(default_factory=list)

    async def publish_alert(self, **alert: Any) -> None:
        self.alerts.append(alert)


def _month_shift(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@pytest.mark.anyio
async def test_first_minute_through_the_agent_carries_yoy_inflation_and_its_trend() -> None:
    """The sim's first minute through MacroAgent (no hub): from the open its insight's CPI YoY
    is the sim's latest CPI over the same month a year earlier, its trend the change from the
    YoY three months earlier read against the ±0.10 pp band, every number in its text backed;
    the inversion at 30 s then alerts once for the curve and once for the VIX."""
    records = first_minute()
    agent = MacroAgent({})
    agent.setup(cast("AgentContext", None))  # MacroAgent.setup reads only its options
    log = AlertLog(VirtualClock(OPEN))
    agent.ctx = cast("AgentContext", log)
    insights = []
    for now in (at(0), at(60)):
        for record in records:
            if (now == OPEN and record.ts <= now) or (now != OPEN and OPEN < record.ts <= now):
                agent.on_record(record)
        await log.clock.advance(now)
        insights += await agent.evaluate(now)

    cpi = {
        r.observation_date: r.value
        for r in records
        if isinstance(r, MacroObservation) and r.series == "CPIAUCSL"
    }
    latest = max(cpi)

    def yoy(month: date) -> float:
        return round((cpi[month] / cpi[_month_shift(month, -12)] - 1) * 100, 2)

    change = round(yoy(latest) - yoy(_month_shift(latest, -3)), 2)
    label = "rising" if change > 0.10 else "falling" if change < -0.10 else "flat"
    assert len(insights) == 2
    for insight in insights:
        m = insight.metrics
        assert m["inflation_yoy"] == yoy(latest)
        assert m["inflation"] == [
            {"date": month.isoformat(), "yoy": yoy(month)}
            for month in (_month_shift(latest, k) for k in range(-11, 1))
        ]
        assert (m["inflation_trend_pp"], m["inflation_trend"]) == (change, label)
        assert m["inflation_trend_basis"] == "yoy"
        assert f"CPI {yoy(latest):.2f} % YoY, {label} ({change:+.2f} pp" in insight.summary
        assert insight.unbacked() == [] and insight.simulated is True
    assert [(i.metrics["curve_regime"], i.stance) for i in insights] == [
        ("normal", "neutral" if label == "rising" else "bullish"),
        ("inverted", "bearish"),
    ]
    assert [a["alert_type"] for a in log.alerts] == ["curve_inversion", "vix_regime"]


@pytest.mark.anyio
async def test_first_minute_curve_has_every_tenor_as_the_sim_sent_it() -> None:
    """The sim's first minute through MacroAgent (no hub): at the open and after the
    inversion the curve has all seven tenors, sorted by years, each the yield of the sim's
    latest record of that series; spread_3m10y is that 10-year minus that 3-month; every
    number in the text is backed; the curve_inversion alert fires once, carrying 3m10y."""
    records = first_minute()
    agent = MacroAgent({})
    agent.setup(cast("AgentContext", None))  # MacroAgent.setup reads only its options
    log = AlertLog(VirtualClock(OPEN))
    agent.ctx = cast("AgentContext", log)
    tenors = {
        "DGS3MO": ("3M", 0.25),
        "DGS6MO": ("6M", 0.5),
        "DGS1": ("1Y", 1.0),
        "DGS2": ("2Y", 2.0),
        "DGS5": ("5Y", 5.0),
        "DGS10": ("10Y", 10.0),
        "DGS30": ("30Y", 30.0),
    }
    for now in (at(0), at(60)):
        seen = [r for r in records if isinstance(r, MacroObservation) and r.ts <= now]
        for record in records:
            if (now == OPEN and record.ts <= now) or (now != OPEN and OPEN < record.ts <= now):
                agent.on_record(record)
        await log.clock.advance(now)
        (insight,) = await agent.evaluate(now)
        latest = {
            sid: max((r for r in seen if r.series == sid), key=lambda r: r.observation_date)
            for sid in tenors
        }
        m = insight.metrics
        assert m["curve"] == [
            {"tenor": tenors[sid][0], "years": tenors[sid][1], "yield": latest[sid].value}
            for sid in tenors
        ]
        assert latest["DGS10"].observation_date == latest["DGS3MO"].observation_date
        assert m["spread_3m10y"] == round(latest["DGS10"].value - latest["DGS3MO"].value, 2)
        assert f"3m10y {m['spread_3m10y']:+.2f} pp" in insight.summary
        assert f"30Y {latest['DGS30'].value:.2f} %" in insight.summary
        assert insight.unbacked() == []
    assert m["curve_regime"] == "inverted" and m["spread_3m10y"] < 0
    (alert,) = [a for a in log.alerts if a["alert_type"] == "curve_inversion"]
    shown = {f["name"]: f["value"] for f in alert["embed"]["fields"]}
    assert shown["3m10y (pp)"] == f"{m['spread_3m10y']:+.2f}"


def test_trend_falls_back_to_annualised_rates() -> None:
    """Under 16 months of CPI the trend reads three-month annualised rates: 0.5 % a month
    after 0.25 % is rising."""
    tracker = MacroTracker(MacroOptions())
    values = [100 * 1.0025**n for n in range(9)]
    values += [values[-1] * 1.005**k for k in range(1, 4)]
    for n, value in enumerate(values):
        tracker.add([obs("CPIAUCSL", date(2025, n + 1, 1), value)])
    m = tracker.metrics()
    assert m["inflation"] == [] and m["inflation_yoy"] is None
    # Dec: (1.005³)⁴ − 1 = 6.17 %; Sep: (1.0025³)⁴ − 1 = 3.04 %
    assert m["inflation_3m_annualised"] == 6.17
    assert (m["inflation_trend"], m["inflation_trend_pp"]) == ("rising", round(6.17 - 3.04, 2))
    assert m["inflation_trend_basis"] == "3m_annualised"
