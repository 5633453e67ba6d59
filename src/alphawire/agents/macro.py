"""The macro backdrop (``macro``): the yield curve, the VIX regime, inflation's trend, rates.

``MacroTracker`` is the agent's pure state, fed FRED-style ``macro`` records (series ids as
FRED names them, values in FRED's units: yields and rates in percent, T10Y2Y in percentage
points, VIXCLS in index points, CPIAUCSL an index). Its metrics, as docs/dashboard.md reads:

* ``curve``: ``{tenor, years, yield}`` for each tenor seen (DGS3MO, DGS2, DGS5, DGS10, DGS30),
  latest observation, sorted by maturity; ``spread_2s10s``: the latest T10Y2Y (else
  ``DGS10 − DGS2``), percentage points; ``curve_regime``: ``analytics.curve_regime``;
* ``vix``, ``vix_regime`` (``analytics.vix_regime``), ``vix_history`` (last 20 ``{date, value}``);
* ``inflation``: CPI year-over-year, percent (``analytics.year_over_year`` × 100, last 12
  months); ``inflation_trend``: the latest YoY minus the YoY three months earlier, > +0.10 pp
  ``"rising"``, < −0.10 pp ``"falling"``, else ``"flat"``. With fewer than 16 months of CPI
  (no four YoY points) the trend compares annualised three-month rates instead,
  ``((CPI_t / CPI_t−3)^4 − 1) × 100`` now vs three months earlier (``inflation_3m_annualised``
  holds the latest); ``fed_funds``: the latest FEDFUNDS.

Example: DGS10 4.21, DGS2 4.30, T10Y2Y −0.09 → curve inverted; VIXCLS 21.4 → elevated; CPI
rising 0.25 % a month → annualised 3-month rate 3.04 % both times → trend flat.

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
from alphawire.analytics import curve_regime, vix_regime, year_over_year
from alphawire.analytics.macro import VixRegime
from alphawire.sources.options import Duration
from alphawire.sources.records import MacroObservation, Record

if TYPE_CHECKING:
    from alphawire.agents.base import AgentContext

TENORS: Mapping[str, tuple[str, float]] = {
    "DGS3MO": ("3M", 0.25),
    "DGS2": ("2Y", 2.0),
    "DGS5": ("5Y", 5.0),
    "DGS10": ("10Y", 10.0),
    "DGS30": ("30Y", 30.0),
}
_CURVE_SCORE = {"inverted": -0.4, "normal": 0.1}
_VIX_SCORE = {"calm": 0.3, "normal": 0.1, "elevated": -0.3, "stress": -0.6}
_INFLATION_SCORE = {"rising": -0.2, "falling": 0.2, "flat": 0.0}
TREND_BAND_PP = 0.10
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
            for sid, (tenor, years) in TENORS.items()
            if (value := self._latest(sid)) is not None
        ]
        spread = self._latest("T10Y2Y")
        dgs2, dgs10 = self._latest("DGS2"), self._latest("DGS10")
        if spread is None and dgs2 is not None and dgs10 is not None:
            spread = round(dgs10 - dgs2, 2)
        vix = self._latest("VIXCLS")
        cpi = self._points("CPIAUCSL")
        yoy = [(d, round(v * 100, 2)) for d, v in year_over_year(cpi)]
        annualised = [
            (cpi[i][0], round(((cpi[i][1] / cpi[i - 3][1]) ** 4 - 1) * 100, 2))
            for i in range(3, len(cpi))
            if cpi[i - 3][1] > 0
        ]
        return {
            "curve": curve,
            "spread_2s10s": spread,
            "curve_regime": None if spread is None else curve_regime(spread),
            "dgs2": dgs2,
            "dgs10": dgs10,
            "vix": vix,
            "vix_regime": None if vix is None else vix_regime(vix),
            "vix_history": [
                {"date": d.isoformat(), "value": v} for d, v in self._points("VIXCLS")[-20:]
            ],
            "inflation": [{"date": d.isoformat(), "yoy": v} for d, v in yoy[-12:]],
            "inflation_3m_annualised": annualised[-1][1] if annualised else None,
            "inflation_trend": _trend(yoy if len(yoy) >= 4 else annualised),
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
            for sid in ("T10Y2Y", "DGS2", "DGS10", "VIXCLS", "FEDFUNDS")
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


def _trend(points: list[tuple[date, float]]) -> str | None:
    if len(points) < 4:
        return None
    change = points[-1][1] - points[-4][1]
    if change > TREND_BAND_PP:
        return "rising"
    if change < -TREND_BAND_PP:
        return "falling"
    return "flat"


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
    """The rates and inflation behind the headline."""
    latest = m["inflation"][-1]["yoy"] if m["inflation"] else None
    inflation = (
        f"CPI {_fmt(latest)} % YoY"
        if latest is not None
        else f"CPI {_fmt(m['inflation_3m_annualised'])} % annualised over three months"
    )
    return (
        f"2Y {_fmt(m['dgs2'])} %, 10Y {_fmt(m['dgs10'])} %, fed funds {_fmt(m['fed_funds'])} %; "
        f"{inflation}, trend {m['inflation_trend'] or 'unknown'}."
    )


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
                    ("2Y %", _fmt(m["dgs2"])),
                    ("10Y %", _fmt(m["dgs10"])),
                    ("VIX", f"{facts['vix']} ({m['vix_regime'] or 'n/a'})"),
                    ("Was", change.before),
                ],
                dedup_key=f"macro:{alert_type}:{change.after}",
            )
        body = self.tracker.insight(now)  # monitors' alerts: added by the base
        return [] if body is None else [Insight.model_validate(body)]
