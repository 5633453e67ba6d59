"""An optional LLM voice: the ``LLM`` port, an OpenAI-compatible client, and the guard around it.

``OpenAICompatibleLLM`` talks to any endpoint serving ``POST {base_url}/chat/completions``
(OpenAI, Ollama, vLLM, llama.cpp's server) through the ``openai`` SDK, an optional extra
(``pip install alphawire[llm]``), imported only when one is built. The key comes from the
environment variable named by ``api_key_env`` (local servers need none).

``GuardedVoice`` is what the Narrative Brain calls. It sends only the facts (a JSON object
built by the caller, nothing else), and falls back to the deterministic text, counting why,
when: the token budget for the current clock hour is spent (``budget``), all ``concurrency``
slots stay busy or the reply takes longer than ``timeout`` seconds (``timeout``), the endpoint
fails (``error``: 5xx, refused connection, malformed reply), the reply is not the two
``HEADLINE:`` / ``SUMMARY:`` lines asked for (``format``), it states a number no fact backs
(``numbers``: the insight rule of ``alphawire.agents.insight.numbers_backed``), or it names
an upper-case ticker-like word that is not among the facts' symbols nor a common market word
(``symbols``). Tokens are counted from the reply's ``usage``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from alphawire.agents.insight import numbers_backed
from alphawire.analytics.sentiment import CHAT_WORDS

DEFAULT_PERSONA = {
    "savage": "You are a blunt, sarcastic market desk analyst. Short sentences, no hedging.",
    "plain": "You are a concise, neutral market analyst.",
}
INSTRUCTION = (
    "Write a market narrative from FACTS only. Reply with exactly two lines: "
    "'HEADLINE: <one sentence>' and 'SUMMARY: <two or three sentences>'. Use only numbers and "
    "ticker symbols that appear in FACTS; do not invent prices, levels or tickers."
)
# Upper-case words a narrative may use that are not tickers.
_MARKET_WORDS = """
VIX CPI YOY FOMC GEX DIX NYSE OPEX ETF USD FED GDP HEADLINE SUMMARY FACTS BTFD TINA OK AI LLM PP
BP SPX
"""
MARKET_WORDS = CHAT_WORDS | frozenset(_MARKET_WORDS.split())
_TICKERISH = re.compile(r"\$?\b[A-Z]{2,5}\b")


class LLMOptions(BaseModel):
    """The LLM voice's options (``[agents.narrative.llm]``): the model and its limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field("http://127.0.0.1:11434/v1", description="OpenAI-compatible /v1 URL")
    model: str = Field("llama3.1", min_length=1)
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable with the key")
    persona: str | None = Field(None, description="system prompt; default by voice")
    timeout: float = Field(8.0, gt=0, le=120, description="seconds per reply, queueing included")
    concurrency: int = Field(2, ge=1, le=32, description="requests in flight at most")
    max_tokens: int = Field(300, ge=16, le=4096, description="reply tokens per request")
    token_budget_per_hour: int = Field(60_000, ge=0, description="prompt+reply tokens per hour")
    temperature: float = Field(0.7, ge=0, le=2)


@dataclass(frozen=True, slots=True)
class Completion:
    """A reply's text and its token usage."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLM(Protocol):
    """A chat model: a system prompt and a user message in, one reply out."""

    async def complete(self, system: str, user: str, *, max_tokens: int) -> Completion:
        """The model's reply (raises on any failure; the guard decides what to do)."""

    async def close(self) -> None:
        """Release connections (a later ``complete`` may open them again)."""


class OpenAICompatibleLLM:
    """An ``LLM`` over the ``openai`` SDK's async client, no retries (the guard falls back)."""

    def __init__(self, options: LLMOptions) -> None:
        try:
            from openai import AsyncOpenAI
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the LLM voice needs the openai SDK: pip install 'alphawire[llm]'"
            ) from exc
        self.options = options
        self._factory = AsyncOpenAI
        self._client: AsyncOpenAI | None = None

    async def complete(self, system: str, user: str, *, max_tokens: int) -> Completion:
        if self._client is None:  # built in the running loop; the key read when first used
            self._client = self._factory(
                base_url=self.options.base_url,
                api_key=os.environ.get(self.options.api_key_env) or "not-needed",
                timeout=self.options.timeout,
                max_retries=0,
            )
        reply = await self._client.chat.completions.create(
            model=self.options.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=max_tokens,
            temperature=self.options.temperature,
        )
        text = reply.choices[0].message.content if reply.choices else None
        if not text:
            raise ValueError("the reply has no message content")
        usage = reply.usage
        return Completion(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def symbols_outside(text: str, allowed: Iterable[str]) -> list[str]:
    """Upper-case ticker-like words (2-5 letters, or cashtags) in ``text`` that are neither in
    ``allowed`` nor ``MARKET_WORDS``, in order of appearance."""
    permitted = {s.upper() for s in allowed} | MARKET_WORDS
    out: list[str] = []
    for match in _TICKERISH.finditer(text):
        word = match.group(0).lstrip("$")
        if word not in permitted and word not in out:
            out.append(word)
    return out


def parse_reply(text: str) -> tuple[str, str] | None:
    """``(headline, summary)`` from the two asked-for lines, or None when not so shaped."""
    headline = summary = None
    for line in text.strip().splitlines():
        key, _, value = line.partition(":")
        if key.strip().upper() == "HEADLINE" and value.strip():
            headline = value.strip()
        elif key.strip().upper() == "SUMMARY" and value.strip():
            summary = value.strip()
    if headline is None or summary is None or len(headline) > 280:
        return None
    return headline, summary


@dataclass
class GuardedVoice:
    """An ``LLM`` behind a timeout, a concurrency bound, an hourly token budget and a facts
    check; ``rewrite`` returns the model's text or the fallback, never raises."""

    llm: LLM
    options: LLMOptions
    voice: str = "savage"
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "requests": 0,
            "accepted": 0,
            "fallbacks": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
        }
    )
    fallback_reasons: dict[str, int] = field(default_factory=dict)
    _hour: datetime | None = None
    _hour_tokens: int = 0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.options.concurrency)

    def status(self) -> dict[str, Any]:
        """Counters for the agent's status: requests, accepted, fallbacks (and why), tokens."""
        return {
            **self.counts,
            "fallback_reasons": dict(self.fallback_reasons),
            "tokens_this_hour": self._hour_tokens,
            "model": self.options.model,
        }

    async def close(self) -> None:
        """Close the model's connections (counters are kept)."""
        await self.llm.close()

    def _fallback(self, reason: str, text: tuple[str, str]) -> tuple[str, str, bool]:
        self.counts["fallbacks"] += 1
        self.fallback_reasons[reason] = self.fallback_reasons.get(reason, 0) + 1
        return text[0], text[1], False

    async def rewrite(
        self,
        facts: Mapping[str, Any],
        symbols: Iterable[str],
        fallback: tuple[str, str],
        *,
        now: datetime,
    ) -> tuple[str, str, bool]:
        """``(headline, summary, from_llm)``: the model's text when it passes, else ``fallback``."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour != self._hour:
            self._hour, self._hour_tokens = hour, 0
        if self._hour_tokens >= self.options.token_budget_per_hour:
            return self._fallback("budget", fallback)
        system = self.options.persona or DEFAULT_PERSONA.get(self.voice, DEFAULT_PERSONA["plain"])
        user = f"{INSTRUCTION}\nFACTS: {json.dumps(facts, sort_keys=True, default=str)}"
        self.counts["requests"] += 1
        try:
            async with asyncio.timeout(self.options.timeout):
                async with self._slots:
                    reply = await self.llm.complete(
                        system, user, max_tokens=self.options.max_tokens
                    )
        except TimeoutError:
            return self._fallback("timeout", fallback)
        except Exception:  # any endpoint failure reads the same to the reader: fall back
            return self._fallback("error", fallback)
        used = reply.prompt_tokens + reply.completion_tokens
        self._hour_tokens += used
        self.counts["prompt_tokens"] += reply.prompt_tokens
        self.counts["completion_tokens"] += reply.completion_tokens
        parsed = parse_reply(reply.text)
        if parsed is None:
            return self._fallback("format", fallback)
        text = "\n".join(parsed)
        if numbers_backed(text, facts, [{"text": t} for t in _strings(facts)]):
            return self._fallback("numbers", fallback)
        if symbols_outside(text, symbols):
            return self._fallback("symbols", fallback)
        self.counts["accepted"] += 1
        return parsed[0], parsed[1], True


def _strings(value: Any) -> Iterable[str]:
    """Every string inside ``value`` (numbers written in the facts' texts back a reply too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
