"""The Narrative Brain's synthesis: the agents' latest insights, signals and monitors' alerts
turned into one ``narrative`` (docs/dashboard.md, "Narratives"), market-wide or per symbol.

``compose`` is pure and deterministic. For the insights it uses (each with ``score`` −1..1
and ``confidence`` 0..1):

* lean ``s = Σ scoreᵢ·confᵢ / Σ confᵢ`` (0 when no confidence); ``stance`` is bullish when
  ``s ≥ 0.15``, bearish when ``s ≤ −0.15``, else neutral;
* agreement ``a = |Σ scoreᵢ·confᵢ| / Σ |scoreᵢ|·confᵢ`` (1 = all lean the same way, 0 =
  they cancel out; 1 when every score is 0); ``confidence = mean(confᵢ) × a``;
* ``drivers``: the three strongest insights by ``|score| × confidence`` (the agent's own
  headline), then context insights (the market story's strongest per-symbol views), the
  subject's latest signal, then monitors' alerts; the ``lead`` named in the headline is the
  strongest insight agreeing with the stance;
* ``conflicts``: when some agents are bullish and others bearish on the same subject, one
  entry naming both camps;
* ``watch``: the signal's entry/stop/target, the used insights' key levels, the conflict
  (which side wins), then external alerts (at most five);
* ``insights_used``: ``{agent, symbol, id}`` of every insight used.

Example: gamma +0.6 (conf 0.8) and macro −0.4 (conf 0.5) → s = (0.48 − 0.2) / 1.3 = 0.215
(bullish), a = 0.28 / 0.68 = 0.412, confidence = 0.65 × 0.412 = 0.27, one conflict.
The text is templated in the configured voice, the template picked by a seeded hash of the
subject and time (``voice.pick``), so a replay reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alphawire.agents.voice import Voice, pick, stance_of

STANCE_THRESHOLD = 0.15
MAX_DRIVERS = 3
MAX_WATCH = 5


@dataclass(frozen=True, slots=True)
class UsedInsight:
    """One agent's latest insight as the brain holds it (the message id kept for citing)."""

    agent: str
    symbol: str | None
    id: str | None
    stance: str
    score: float
    confidence: float
    headline: str
    levels: Mapping[str, float] = field(default_factory=dict)
    simulated: bool = False
    as_of: datetime | None = None

    @classmethod
    def of(cls, message: Mapping[str, Any]) -> UsedInsight:
        """From an ``agent_insight`` message dict (as a subscription yields it)."""
        body = message.get("insight") or {}
        return cls(
            agent=str(message.get("agent", "?")),
            symbol=body.get("symbol"),
            id=message.get("id"),
            stance=str(body.get("stance", "neutral")),
            score=float(body.get("score", 0.0)),
            confidence=float(body.get("confidence", 0.0)),
            headline=str(body.get("headline", "")),
            levels=dict(body.get("levels") or {}),
            simulated=bool(body.get("simulated")),
            as_of=_time(body.get("as_of") or message.get("timestamp")),
        )

    @property
    def strength(self) -> float:
        """``|score| × confidence``: how hard this insight pushes."""
        return abs(self.score) * self.confidence


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def signal_text(signal: Mapping[str, Any]) -> str:
    """A signal in words: ``buy GME: entry 25.1, stop 23, target 30 (1d)``."""
    prices = ", ".join(
        f"{key} {signal[key]:g}"
        for key in ("entry", "stop", "target")
        if isinstance(signal.get(key), int | float)
    )
    text = f"{signal.get('action') or 'signal'} {signal.get('symbol') or ''}".strip()
    if prices:
        text += f": {prices}"
    if signal.get("timeframe"):
        text += f" ({signal['timeframe']})"
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _rank(i: UsedInsight) -> tuple[float, str, str]:
    return (-i.strength, i.agent, i.symbol or "")


def lean(insights: Sequence[UsedInsight]) -> tuple[float, float, float]:
    """``(s, agreement, confidence)`` as the module docstring defines them."""
    total_conf = sum(i.confidence for i in insights)
    if not insights or total_conf <= 0:
        return 0.0, 1.0, 0.0
    weighted = sum(i.score * i.confidence for i in insights)
    magnitude = sum(abs(i.score) * i.confidence for i in insights)
    s = weighted / total_conf
    agreement = abs(weighted) / magnitude if magnitude > 0 else 1.0
    return s, agreement, (total_conf / len(insights)) * agreement


_HEADLINES: dict[str, dict[str, tuple[str, ...]]] = {
    "savage": {
        "bullish": (
            "{subject} is bid: {share} bullish, {lead} loudest. Try not to get cocky.",
            "{subject}: {share} bullish, led by {lead}. Hope is not a strategy, but fine.",
            "Bulls own {subject} for now ({share} bullish, {lead} in front).",
        ),
        "bearish": (
            "{subject} smells bad: {share} bearish, {lead} loudest. Hope you like pain.",
            "{subject}: {share} bearish, led by {lead}. Cope accordingly.",
            "Bears have {subject} ({share} bearish, {lead} in front).",
        ),
        "neutral": (
            "{subject}: {agents}, no edge. The market is shrugging and so should you.",
            "{subject} is a coin flip dressed up as analysis ({agents}, no consensus).",
        ),
    },
    "plain": {
        "bullish": (
            "{subject} leans bullish: {share}, strongest input {lead}.",
            "{subject}: {share} bullish, led by {lead}.",
        ),
        "bearish": (
            "{subject} leans bearish: {share}, strongest input {lead}.",
            "{subject}: {share} bearish, led by {lead}.",
        ),
        "neutral": (
            "{subject}: no clear direction across {agents}.",
            "{subject} is balanced across {agents}.",
        ),
    },
}
_CONFLICT_QUIP = {
    "savage": " The agents are fighting; trust neither until price picks a side.",
    "plain": " The agents disagree; wait for confirmation.",
}


def compose(
    symbol: str | None,
    insights: Sequence[UsedInsight],
    *,
    external: Sequence[Mapping[str, Any]] = (),
    signal: Mapping[str, Any] | None = None,
    context: Sequence[UsedInsight] = (),
    voice: Voice = "savage",
    now: datetime,
) -> dict[str, Any] | None:
    """The narrative for ``symbol`` (None: the market) from ``insights`` and external
    evidence (``bridge.evidence_of`` items: monitors' alerts and signals); None when there
    is nothing to say. ``signal`` is the subject's latest ``signal`` body, if any;
    ``context`` insights (per-symbol ones in the market story) are drivers and cited but do
    not move the stance. Insights with confidence 0 carry nothing and are left out."""
    insights = [i for i in insights if i.confidence > 0]  # no confidence, no information
    context = [i for i in context if i.confidence > 0]
    if not insights and not context and not external and signal is None:
        return None
    s, _agreement, confidence = lean(insights)
    stance = stance_of(s, STANCE_THRESHOLD)
    ranked = sorted(insights, key=_rank)
    bulls = sorted({i.agent for i in insights if i.stance == "bullish"})
    bears = sorted({i.agent for i in insights if i.stance == "bearish"})
    subject = symbol or "The market"
    agreeing = [i for i in ranked if i.stance == stance] or ranked
    n = len(insights)
    k = len(bulls) if stance == "bullish" else len(bears)
    facts = {
        "subject": subject,
        "agents": f"{n} agent{'' if n == 1 else 's'}",
        "share": f"{k} of {n} agent{'' if n == 1 else 's'}",
        "lead": agreeing[0].agent if agreeing else "monitors",
    }
    headline = pick(_HEADLINES[voice][stance], subject, now.isoformat()).format(**facts)
    drivers: list[dict[str, Any]] = [
        {"agent": i.agent, "text": i.headline} for i in ranked[:MAX_DRIVERS] if i.headline
    ]
    drivers.extend(
        {"agent": i.agent, "text": i.headline}
        for i in sorted(context, key=_rank)[:MAX_DRIVERS]
        if i.headline
    )
    if signal is not None:
        drivers.append({"agent": "signal", "text": signal_text(signal)})
    drivers.extend(
        {"agent": f"monitor:{e.get('source', '?')}", "text": str(e.get("text", ""))}
        for e in external[:MAX_DRIVERS]
    )
    conflicts: list[dict[str, Any]] = []
    if bulls and bears:
        conflicts.append(
            {
                "agents": bulls + bears,
                "text": f"{', '.join(bulls)} bullish vs {', '.join(bears)} bearish",
            }
        )
    watch = [] if signal is None else [f"signal {signal_text(signal)}"]
    watch += [
        f"{i.symbol or 'market'} {name.replace('_', ' ')} {price:g} ({i.agent})"
        for i in ranked
        for name, price in i.levels.items()
    ]
    if bulls and bears:
        watch.append(f"which side wins: {', '.join(bulls)} or {', '.join(bears)}")
    watch = watch[:MAX_WATCH]
    watch.extend(f"monitor alert: {e.get('text', '')}" for e in external)
    summary = " ".join(_sentence(f"{d['agent']}: {d['text']}") for d in drivers)
    if conflicts:
        summary += _CONFLICT_QUIP[voice]
    return {
        "symbol": symbol,
        "headline": headline,
        "stance": stance,
        "confidence": round(min(1.0, max(0.0, confidence)), 2),
        "score": round(max(-1.0, min(1.0, s)), 3),
        "summary": summary,
        "drivers": drivers,
        "conflicts": conflicts,
        "watch": watch[:MAX_WATCH],
        "insights_used": [
            {"agent": i.agent, "symbol": i.symbol, "id": i.id} for i in [*ranked, *context]
        ],
        "alerts_cited": [
            {"id": e.get("alert_id"), "source": e.get("source"), "text": e.get("text")}
            for e in external
        ],
        "voice": voice,
        "written_by": "template",
        "as_of": now.isoformat(),
        "simulated": any(i.simulated for i in [*insights, *context]),
    }
