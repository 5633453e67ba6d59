"""The Narrative Brain (``narrative``): every agent's latest view, signals and monitors' alerts,
told as one story market-wide and one per symbol, on ``narrative``.

It reads ``agent_*`` (each agent's latest insight per symbol) and ``unified`` (alerts and
signals). It composes (``narrative.compose``) every ``cadence`` seconds and at once on an
important event: an alert whose severity is in ``event_severities`` or a signal. A subject's
narrative is published only when its inputs changed since the last one (the insight ids and
the cited alerts), so a quiet market does not repeat itself. The market-wide narrative uses the
market-wide insights for its stance, and cites the ``market_drivers`` strongest per-symbol
ones as drivers (context: they do not move the market's stance).

With ``[agents.narrative.llm]`` set, headline and summary are rewritten by the model through
``llm.GuardedVoice`` (facts only, checked, falling back to the templated text); the counters
are in ``status()["llm"]``. State is bounded: insights for at most ``max_subjects`` symbols
(the least recently updated dropped), external evidence as ``bridge.ExternalEvidence`` keeps it.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from alphawire.agents.base import AgentContext
from alphawire.agents.bridge import ExternalEvidence, is_external
from alphawire.agents.framework import AgentOptions, BaseAgent
from alphawire.agents.insight import Insight
from alphawire.agents.llm import GuardedVoice, LLMOptions, OpenAICompatibleLLM
from alphawire.agents.narrative import UsedInsight, compose
from alphawire.agents.voice import Voice
from alphawire.sources.options import Duration

_TICKER = re.compile(r"\b[A-Z]{1,5}\b")


class NarrativeOptions(AgentOptions):
    """The Narrative Brain's options: cadence, voice, what counts as an event, the optional LLM."""

    voice: Voice = "savage"
    event_severities: tuple[Literal["info", "low", "medium", "high", "critical"], ...] = Field(
        ("high", "critical"), description="alert severities that make it speak at once"
    )
    market_drivers: int = Field(
        5, ge=0, le=20, description="per-symbol insights in the market story"
    )
    max_subjects: int = Field(200, ge=1, le=5000, description="symbols whose insights are kept")
    max_insight_age: Duration = Field(
        3600.0, gt=0, description="insights older than this (by as_of) are left out"
    )
    llm: LLMOptions | None = Field(None, description="an OpenAI-compatible model (optional)")


class NarrativeBrain(BaseAgent):
    """Synthesises the agents' insights, signals and external alerts into ``narrative``s."""

    name = "narrative"
    Options = NarrativeOptions
    channels = ("agent_*", "unified")
    monitor_evidence = False  # it keeps every monitor's alert itself, for every subject

    def __init__(self, options: Mapping[str, Any] | AgentOptions | None = None) -> None:
        super().__init__(options)
        assert isinstance(self.options, NarrativeOptions)
        self.settings: NarrativeOptions = self.options
        self.insights: OrderedDict[str | None, dict[str, UsedInsight]] = OrderedDict()
        self.external = ExternalEvidence("*", per_symbol=5, max_symbols=self.settings.max_subjects)
        self.signals: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.narratives: OrderedDict[str | None, dict[str, Any]] = OrderedDict()
        self._inputs: dict[str | None, tuple[Any, ...]] = {}
        self.voice: GuardedVoice | None = None
        if self.settings.llm is not None:
            self.voice = GuardedVoice(
                OpenAICompatibleLLM(self.settings.llm), self.settings.llm, self.settings.voice
            )

    async def run(self, ctx: AgentContext) -> None:
        """The base's loop; the model's connections are closed when it stops."""
        try:
            await super().run(ctx)
        finally:
            if self.voice is not None:
                await self.voice.close()

    def on_message(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if kind == "agent_insight":
            used = UsedInsight.of(message)
            if used.agent == self.name:
                return
            per_agent = self.insights.pop(used.symbol, None) or {}
            per_agent[used.agent] = used
            self.insights[used.symbol] = per_agent  # re-inserted: order is recency
            while len(self.insights) > self.settings.max_subjects + 1:
                # the least recently updated symbol goes; the market-wide entry never does
                del self.insights[next(k for k in self.insights if k is not None)]
            return
        if kind not in ("alert", "signal"):
            return
        body = message.get("signal")
        if kind == "signal" and isinstance(body, Mapping) and body.get("symbol"):
            symbol = str(body["symbol"]).upper()
            self.signals.pop(symbol, None)
            self.signals[symbol] = {**body, "_id": message.get("id")}
            while len(self.signals) > self.settings.max_subjects:
                del self.signals[next(iter(self.signals))]
        if kind == "alert" and is_external(message):  # signals are kept apart, above
            self.external.offer(message, self.now().isoformat())
        severity = str(message.get("severity") or "info")
        if kind == "signal" or severity in self.settings.event_severities:
            self.trigger(f"{kind} {message.get('alert_type') or ''}".strip())

    def _subject_inputs(
        self, symbol: str | None, now: datetime
    ) -> tuple[list[UsedInsight], list[UsedInsight]]:
        """The subject's own fresh insights, and (market story only) the strongest per-symbol
        ones as context."""
        oldest = now - timedelta(seconds=self.settings.max_insight_age)

        def fresh(i: UsedInsight) -> bool:  # and informative: confidence 0 says nothing
            return (i.as_of is None or i.as_of >= oldest) and i.confidence > 0

        own = [i for i in self.insights.get(symbol, {}).values() if fresh(i)]
        if symbol is not None or not self.settings.market_drivers:
            return own, []
        others = [
            i for s, per in self.insights.items() if s is not None for i in per.values() if fresh(i)
        ]
        others.sort(key=lambda i: (-i.strength, i.agent, i.symbol or ""))
        return own, others[: self.settings.market_drivers]

    async def evaluate(self, now: datetime) -> list[Insight]:
        assert self.ctx is not None
        subjects: list[str | None] = [None]
        known = {*self.insights, *self.external.symbols(), *self.signals}
        subjects += sorted(s for s in known if s is not None)
        # forget what was said about subjects no longer held (bounded like the stores)
        self._inputs = {k: v for k, v in self._inputs.items() if k in known or k is None}
        stories = []
        for symbol in subjects:
            used, context = self._subject_inputs(symbol, now)
            cited = self.external.for_symbol(symbol)
            signal = self.signals.get(symbol) if symbol is not None else None
            key = (
                tuple(i.id for i in [*used, *context]),
                tuple(e.get("alert_id") for e in cited),
                signal and signal.get("_id"),
            )
            if key == self._inputs.get(symbol):
                continue
            story = compose(
                symbol,
                used,
                external=cited,
                signal=signal,
                context=context,
                voice=self.settings.voice,
                now=now,
            )
            if story is not None:
                self._inputs[symbol] = key
                stories.append(story)
        if self.voice is not None and stories:
            await asyncio.gather(*(self._rewrite(story, now) for story in stories))
        if stories:
            await self.ctx.publish_many(
                [{"type": "narrative", "narrative": s, "timestamp": now} for s in stories]
            )
        for story in stories:
            self.narratives.pop(story["symbol"], None)
            self.narratives[story["symbol"]] = story
            while len(self.narratives) > self.settings.max_subjects + 1:
                del self.narratives[next(iter(self.narratives))]
        self.counts["narratives"] = self.counts.get("narratives", 0) + len(stories)
        return []

    async def _rewrite(self, story: dict[str, Any], now: datetime) -> None:
        assert self.voice is not None
        facts = {
            key: story[key]
            for key in ("symbol", "stance", "confidence", "drivers", "conflicts", "watch")
        }
        facts["agents"] = len(story["insights_used"])
        symbols = {s for i in story["insights_used"] if (s := i.get("symbol"))}
        symbols |= set(_TICKER.findall(str(facts)))
        headline, summary, from_llm = await self.voice.rewrite(
            facts, symbols, (story["headline"], story["summary"]), now=now
        )
        story.update(
            headline=headline, summary=summary, written_by="llm" if from_llm else "template"
        )

    def status(self) -> dict[str, Any]:
        """The base status plus narratives published and the LLM's counters (or null)."""
        return {
            **super().status(),
            "voice": self.settings.voice,
            "llm": self.voice.status() if self.voice is not None else None,
        }


__all__ = ["NarrativeBrain", "NarrativeOptions"]
