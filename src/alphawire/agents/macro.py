"""The macro backdrop (``macro``): the yield curve, the VIX regime, inflation's trend, rates.

``MacroTracker`` is the agent's pure state, fed FRED-style ``macro`` records (series ids as
FRED names them, values in FRED's units: yields and rates in percent, T10Y2Y in percentage
points, VIXCLS in index points, CPIAUCSL an index). Its metrics, as docs/dashboard.md reads:

* ``curve``: ``{tenor, years, yield}`` for each tenor seen (``TENORS``: DGS3MO, DGS6MO,
  DGS1, DGS2, DGS5, DGS10, DGS30 as 3M, 6M, 1Y, 2Y, 5Y, 10Y, 30Y), its latest observation in
  percent, sorted by ``years``; ``spread_2s10s``: the latest T10Y2Y (else ``DGS10 − DGS2``),
  percentage points; ``curve_regime``: ``analytics.curve_regime`` of it;
* ``spread_3m10y``: ``DGS10 − DGS3MO`` in percentage points, rounded to 0.01, on the latest
  date both have (``analytics.curve_spread``): the spread the New York Fed's recession
  probability model reads; null without both; it does not set ``curve_regime``;
* ``vix``, ``vix_regime`` (``analytics.vix_regime``), ``vix_history`` (last 20 ``{date, value}``);
* ``inflation``: CPI year-over-year (``analytics.year_over_year``), percent rounded to 0.01,
  as ``{date, yoy}`` for the last 12 months with a year-earlier CPI: ``yoy = (CPI_m /
  CPI_m−12 − 1) × 100``, ``date`` the CPI observation month (FRED dates a month by its first
  day; the year-earlier month is matched by calendar month); ``inflation_yoy``: the latest
  of them (the headline rate), null without one;
* ``inflation_3m_annualised``: the latest ``((CPI_m / CPI_m−3)^4 − 1) × 100``, percent
  (``analytics.annualised_change``);
* ``inflation_trend`` (``analytics.inflation_trend``): ``inflation_trend_pp``, the latest
  rate minus the rate three calendar months earlier in percentage points (computed from the
  published 0.01-rounded rates, so it can be checked from them), > +0.10 pp ``"rising"``,
  < −0.10 pp ``"falling"``, else ``"flat"``; ``inflation_trend_basis`` says which rates:
  ``"yoy"``, or ``"3m_annualised"`` when the latest month has no YoY rate three months
  before it (under 16 months of CPI); all three null when neither can be read;
* ``fed_funds``: the latest FEDFUNDS, percent.

Example: DGS10 4.21, DGS2 4.30, T10Y2Y −0.09 → curve inverted; DGS3MO 4.31 →
``spread_3m10y`` 4.21 − 4.31 = −0.10; VIXCLS 21.4 → elevated; CPI
YoY 3.07 % in August and 3.35 % in November → ``inflation_trend_pp`` +0.28 → rising (the
simulated market's first minute, seed 7).

Stance (a heuristic, documented so it can be argued with): an inverted curve −0.4 (normal
+0.1); VIX calm +0.3, normal +0.1, elevated −0.3, stress −0.6; inflation rising −0.2, falling
+0.2; the score is their sum clipped to −1..1, confidence the share of the three known.
Regime changes (``changes``) compare each evaluation with the previous one; the first known
state is a baseline, never an alert. State is bounded: ``history`` observations per series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from alphawire.agents.framework import AgentOptions, BaseAgent
from alphawire.agents.insight import Insight
from alphawire.agents.voice import Voice, clamp, pick, stance_of
from alphawire.analytics import (
    annualised_change,
    curve_regime,
    curve_spread,
    inflation_trend,
    vix_regime,
    year_over_year,
)
from alphawire.analytics.macro import TREND_BAND_PP, VixRegime
from alphawire.sources.options import Duration
from alphawire.sources.records import MacroObservation, Record

if TYPE_CHECKING:
    from alphawire.agents.base import AgentContext

TENORS: Mapping[str, tuple[str, float]] = {  # FRED id -> (tenor, years to maturity)
    "DGS3MO": ("3M", 0.25),
    "DGS6MO": ("6M", 0.5),
    "DGS1": ("1Y", 1.0),
    "DGS2": ("2Y", 2.0),
    "DGS5": ("5Y", 5.0),
    "DGS10": ("10Y", 10.0),
    "DGS30": ("30Y", 30.0),
}
_CURVE_SCORE = {"inverted": -0.4, "normal": 0.1}
_VIX_SCORE = {"calm": 0.3, "normal": 0.1, "elevated": -0.3, "stress": -0.6}
_INFLATION_SCORE = {"rising": -0.2, "falling": 0.2, "flat": 0.0}
TREND_MONTHS = 3
_VIX_ORDER = ("calm", "normal", "elevated", "stress")


class MacroOptions(AgentOptions):
    """The macro agent's options: cadence, which VIX regimes alert, history kept, voice."""

    alert_cooldown: Duration = Field(3600.0, description="seconds between alerts of one kind")
    vix_alert_regimes: tuple[VixRegime, ...] = Field(
        ("elevated", "stress"), description="VIX rising into one of these alerts"
    )
    history: int = Field(400, ge=30, le=5000, description="observations kept per series")
    stance_threshold: float = Field(0.15, gt=0, lt=1)
    voice: Voice = "savage"


@dataclass(frozen=True, slots=True)
class RegimeChange:
    """One regime change: ``kind`` is ``"curve"`` or ``"vix"``."""

    kind: str
    before: str
    after: str


@dataclass
class MacroTracker:
    """The latest macro series and the regimes they imply."""

    options: MacroOptions
    _series: dict[str, dict[date, float]] = field(default_factory=dict)
    _regimes: dict[str, str] = field(default_factory=dict)
    simulated: bool = False

    def add(self, records: Iterable[MacroObservation]) -> None:
        """Take observations (a later value for the same date replaces the earlier one)."""
        for obs in records:
            points = self._series.setdefault(obs.series, {})
            points[obs.observation_date] = obs.value
            self.simulated = self.simulated or obs.simulated
            if len(points) > self.options.history:
                del points[min(points)]

    def _points(self, series: str) -> list[tuple[date, float]]:
        return sorted(self._series.get(series, {}).items())

    def _latest(self, series: str) -> float | None:
        points = self._series.get(series)
        return points[max(points)] if points else None

    def metrics(self) -> dict[str, Any]:
        """The dashboard's macro metrics (absent inputs leave their keys null or empty)."""
        curve = [
            {"tenor": tenor, "years": years, "yield": value}
            for sid, (tenor, years) in sorted(TENORS.items(), key=lambda item: item[1][1])
            if (value := self._latest(sid)) is not None
        ]
        three_ten = curve_spread(self._points("DGS10"), self._points("DGS3MO"))
        spread = self._latest("T10Y2Y")
        dgs2, dgs10 = self._latest("DGS2"), self._latest("DGS10")
        if spread is None and dgs2 is not None and dgs10 is not None:
            spread = round(dgs10 - dgs2, 2)
        vix = self._latest("VIXCLS")
        cpi = self._points("CPIAUCSL")
        yoy = [(d, round(v * 100, 2)) for d, v in year_over_year(cpi)]
        annualised = [(d, round(v * 100, 2)) for d, v in annualised_change(cpi, TREND_MONTHS)]
        basis, trend = "yoy", inflation_trend(yoy, TREND_MONTHS, TREND_BAND_PP)
        if trend is None:
            basis, trend = "3m_annualised", inflation_trend(annualised, TREND_MONTHS, TREND_BAND_PP)
        return {
            "curve": curve,
            "spread_2s10s": spread,
            "curve_regime": None if spread is None else curve_regime(spread),
            "spread_3m10y": None if three_ten is None else three_ten[1],
            "dgs2": dgs2,
            "dgs10": dgs10,
            "vix": vix,
            "vix_regime": None if vix is None else vix_regime(vix),
            "vix_history": [
                {"date": d.isoformat(), "value": v} for d, v in self._points("VIXCLS")[-20:]
            ],
            "inflation": [{"date": d.isoformat(), "yoy": v} for d, v in yoy[-12:]],
            "inflation_yoy": yoy[-1][1] if yoy else None,
            "inflation_3m_annualised": annualised[-1][1] if annualised else None,
            "inflation_trend": None if trend is None else trend[0],
            "inflation_trend_pp": None if trend is None else trend[1],
            "inflation_trend_basis": None if trend is None else basis,
            "fed_funds": self._latest("FEDFUNDS"),
        }

    def changes(self) -> list[RegimeChange]:
        """Regime changes since the previous call (curve first, then VIX); updates the state."""
        m = self.metrics()
        out: list[RegimeChange] = []
        for kind, now in (("curve", m["curve_regime"]), ("vix", m["vix_regime"])):
            if now is None:
                continue
            before = self._regimes.get(kind)
            self._regimes[kind] = now
            if before is not None and before != now:
                out.append(RegimeChange(kind, before, now))
        return out

    def insight(
        self, now: datetime, extra_evidence: Iterable[Mapping[str, Any]] = ()
    ) -> dict[str, Any] | None:
        """The market-wide macro insight, or None before any curve or VIX observation."""
        m = self.metrics()
        if m["curve_regime"] is None and m["vix_regime"] is None:
            return None
        parts = [
            _CURVE_SCORE.get(m["curve_regime"] or ""),
            _VIX_SCORE.get(m["vix_regime"] or ""),
            _INFLATION_SCORE.get(m["inflation_trend"] or ""),
        ]
        known = [p for p in parts if p is not None]
        score = clamp(sum(known))
        evidence = [
            {"source": "FRED", "value": v, "time": f"{d.isoformat()}T00:00:00+00:00", "text": sid}
            for sid in ("T10Y2Y", "DGS3MO", "DGS2", "DGS10", "DGS30", "VIXCLS", "FEDFUNDS")
            for d, v in self._points(sid)[-1:]
        ]
        evidence.extend(dict(e) for e in extra_evidence)
        return {
            "symbol": None,
            "stance": stance_of(score, self.options.stance_threshold),
            "score": round(score, 3),
            "confidence": round(len(known) / 3, 2),
            "headline": headline(m, self.options.voice, now),
            "summary": summary(m),
            "metrics": m,
            "levels": {},
            "evidence": evidence,
            "as_of": now.isoformat(),
            "simulated": self.simulated,
        }


def vix_rose_into(change: RegimeChange, regimes: Iterable[str]) -> bool:
    """True when a VIX change moved up into one of ``regimes`` (falling back never alerts)."""
    return (
        change.kind == "vix"
        and change.after in regimes
        and _VIX_ORDER.index(change.after) > _VIX_ORDER.index(change.before)
    )


_HEADLINES: dict[str, dict[str, tuple[str, ...]]] = {
    "savage": {
        "inverted": (
            "The curve is inverted ({spread} pp 2s10s) and the VIX is {vix} ({vix_regime}). "
            "Bond traders are pricing a recession; equity bulls are pricing vibes.",
            "2s10s at {spread} pp: inverted. VIX {vix}, {vix_regime}. Enjoy the party.",
        ),
        "normal": (
            "Curve upright at {spread} pp, VIX {vix} ({vix_regime}). Nothing to panic about, "
            "which never stopped anyone.",
            "2s10s {spread} pp and VIX {vix}: a {vix_regime} tape. Boring is bullish.",
        ),
    },
    "plain": {
        "inverted": ("The 2s10s spread is {spread} pp (inverted); VIX {vix}, {vix_regime}.",),
        "normal": ("The 2s10s spread is {spread} pp (normal); VIX {vix}, {vix_regime}.",),
    },
}


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def headline(m: Mapping[str, Any], voice: Voice, now: datetime) -> str:
    """One sentence on the curve and the VIX from ``m`` (numbers only from ``m``)."""
    templates = _HEADLINES[voice][m["curve_regime"] or "normal"]
    return pick(templates, m["curve_regime"], m["vix_regime"], now.date().isoformat()).format(
        spread=_fmt(m["spread_2s10s"], "+.2f"),
        vix=_fmt(m["vix"], ".1f"),
        vix_regime=m["vix_regime"] or "unknown",
    )


def summary(m: Mapping[str, Any]) -> str:
    """The rates and inflation behind the headline (the 30-year and 3m10y when known).

    Tenors are written ``2Y``, ``30Y`` and the spread ``3m10y``: digits glued to letters are
    names to ``numbers_backed``; "3M" would read as three million."""
    if m["inflation_yoy"] is not None:
        inflation = f"CPI {_fmt(m['inflation_yoy'])} % YoY"
    else:
        inflation = f"CPI {_fmt(m['inflation_3m_annualised'])} % annualised over three months"
    if m["inflation_trend"] is None:
        trend = "trend unknown"
    else:
        trend = (
            f"{m['inflation_trend']} ({_fmt(m['inflation_trend_pp'], '+.2f')} pp in three months)"
        )
    rates = [f"2Y {_fmt(m['dgs2'])} %", f"10Y {_fmt(m['dgs10'])} %"]
    rates += [f"30Y {_fmt(p['yield'])} %" for p in m["curve"] if p["tenor"] == "30Y"]
    if m["spread_3m10y"] is not None:
        rates.append(f"3m10y {_fmt(m['spread_3m10y'], '+.2f')} pp")
    rates.append(f"fed funds {_fmt(m['fed_funds'])} %")
    return f"{', '.join(rates)}; {inflation}, {trend}."


_ALERTS = {  # (kind, after) -> (alert_type, severity, title)
    ("curve", "inverted"): ("curve_inversion", "high", "Yield curve inverted: 2s10s {spread} pp"),
    ("curve", "normal"): (
        "curve_normal",
        "medium",
        "Yield curve back to normal: 2s10s {spread} pp",
    ),
    ("vix", "elevated"): ("vix_regime", "medium", "VIX {vix}: volatility elevated"),
    ("vix", "stress"): ("vix_regime", "high", "VIX {vix}: volatility in stress"),
}


class MacroAgent(BaseAgent):
    """Reads ``macro`` records; publishes the market-wide macro insight (monitors' macro
    alerts join its evidence through the base); alerts on curve regime changes and the VIX
    rising into ``vix_alert_regimes``."""

    name = "macro"
    Options = MacroOptions
    records = ("macro",)

    def setup(self, ctx: AgentContext) -> None:
        assert isinstance(self.options, MacroOptions)
        self.tracker = MacroTracker(self.options)

    def on_record(self, record: Record) -> None:
        if isinstance(record, MacroObservation):
            self.tracker.add([record])
            self.trigger("macro")  # observations are rare; a regime change should not wait

    async def evaluate(self, now: datetime) -> list[Insight]:
        m = self.tracker.metrics()
        for change in self.tracker.changes():
            if change.kind == "vix" and not vix_rose_into(
                change, self.tracker.options.vix_alert_regimes
            ):
                continue
            alert_type, severity, title = _ALERTS[(change.kind, change.after)]
            facts = {"spread": _fmt(m["spread_2s10s"], "+.2f"), "vix": _fmt(m["vix"], ".1f")}
            await self.alert(
                alert_type,
                title=title.format(**facts),
                description=headline(m, self.tracker.options.voice, now),
                severity=severity,
                fields=[
                    ("2s10s (pp)", facts["spread"]),
                    ("3m10y (pp)", _fmt(m["spread_3m10y"], "+.2f")),
                    ("2Y %", _fmt(m["dgs2"])),
                    ("10Y %", _fmt(m["dgs10"])),
                    ("VIX", f"{facts['vix']} ({m['vix_regime'] or 'n/a'})"),
                    ("Was", change.before),
                ],
                dedup_key=f"macro:{alert_type}:{change.after}",
            )
        body = self.tracker.insight(now)  # monitors' alerts: added by the base
        return [] if body is None else [Insight.model_validate(body)]
