"""The ``insight`` every agent publishes, its JSON Schema, and the numbers-are-backed check.

An insight is the ``insight`` field of an ``agent_insight`` message on ``agent_{name}``; its
fields are the contract in docs/dashboard.md ("Agent insights"). Agents add fields of their
own (kept as they are). ``docs/insight.schema.json`` is ``insight_schema()`` written out
(a test keeps the file current); the web layer puts the same schema in the OpenAPI document.

Every number a headline or summary states must come from the insight's ``metrics``, ``levels``
or ``evidence``: ``numbers_backed`` lists the ones that do not (see its docstring for the
rounding rule), and ``Insight.unbacked()`` applies it to the insight's own text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Stance = Literal["bullish", "bearish", "neutral"]
STANCES: tuple[Stance, ...] = ("bullish", "bearish", "neutral")


def _utc(value: datetime) -> datetime:
    # Naive times are UTC, as everywhere else on the wire (alphawire.messages).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _upper(value: str | None) -> str | None:
    return None if value is None else value.strip().upper()


UtcTime = Annotated[datetime, AfterValidator(_utc)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Evidence(BaseModel):
    """One fact behind an insight: where it came from, its value, when it was true, in words."""

    model_config = ConfigDict(extra="allow", ser_json_inf_nan="null")

    source: Annotated[str, Field(min_length=1, max_length=128, examples=["finra"])]
    value: Finite | str | None = Field(
        default=None, description="the fact's number (or a short string)"
    )
    time: UtcTime = Field(description="ISO-8601 time the fact was true")
    text: Annotated[str, Field(max_length=1024)] = ""


class Insight(BaseModel):
    """What one agent concluded about a symbol (or the market, ``symbol: null``), with its
    numbers; extra agent-specific fields are allowed and kept."""

    model_config = ConfigDict(extra="allow", ser_json_inf_nan="null")

    symbol: Annotated[str | None, AfterValidator(_upper)] = Field(
        default=None, max_length=16, description="upper case; null = market-wide"
    )
    stance: Stance = "neutral"
    score: Annotated[Finite, Field(ge=-1, le=1, description="signed strength, -1 most bearish")]
    confidence: Annotated[Finite, Field(ge=0, le=1, description="0..1")]
    headline: Annotated[str, Field(min_length=1, max_length=280, description="one sentence")]
    summary: Annotated[str, Field(max_length=4096, description="a short paragraph")] = ""
    metrics: dict[str, Any] = Field(default_factory=dict, description="the numbers, per agent")
    levels: dict[str, Finite] = Field(default_factory=dict, description="name -> price")
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)
    as_of: UtcTime = Field(description="when the numbers were true (ISO-8601)")
    simulated: bool | None = Field(
        default=None, description="true when the inputs came from the simulated market"
    )

    def to_json(self) -> dict[str, Any]:
        """The wire form (``symbol`` kept as null; unset ``simulated`` left out)."""
        out = self.model_dump(mode="json")
        if out.get("simulated") is None:
            out.pop("simulated", None)
        return out

    def unbacked(self) -> list[str]:
        """Numbers in ``headline`` or ``summary`` that no metric, level or evidence backs."""
        text = f"{self.headline}\n{self.summary}"
        return numbers_backed(text, self.metrics, self.evidence, levels=self.levels)


def insight_schema() -> dict[str, Any]:
    """The insight's JSON Schema (draft 2020-12, as pydantic writes it)."""
    schema = Insight.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://alphawire.dev/schemas/insight.schema.json"
    return schema


def schema_text() -> str:
    """``insight_schema()`` as docs/insight.schema.json holds it."""
    return json.dumps(insight_schema(), indent=2, sort_keys=True) + "\n"


# -- the numbers check ------------------------------------------------------------------------

# A number standing alone: not glued to letters on its left (so "2s10s", "Q3", "S&P500" are
# names, not numbers), optional sign, thousands separators, decimals, then an optional unit
# suffix k/M/B (scale), x (a multiple) or % (percent). A number followed by other letters
# ("5m", "10Y") is a name too.
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])([-+−]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?([kKMB%x]?)(?![A-Za-z0-9_])"
)
_SCALES = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}


def numbers_backed(
    text: str,
    metrics: Mapping[str, Any],
    evidence: Iterable[Evidence | Mapping[str, Any]],
    *,
    levels: Mapping[str, Any] | None = None,
) -> list[str]:
    """The numbers written in ``text`` that no fact backs (empty list: all backed).

    Facts are every finite number found anywhere in ``metrics`` (nested dicts and lists
    included; booleans are not numbers), in ``levels``, and in each evidence item's ``value``
    and the numbers written in its ``text``.

    The rule: a number written with ``d`` decimals is backed when some fact ``v`` rounds to it
    at ``d`` decimals, i.e. ``|x - v| <= 0.5 * 10**-d`` (plus 1e-9 for binary floats). The sign
    is not compared ("down 2.5 %" is backed by -2.5). A ``%`` number may also be a fraction
    shown as percent (``12.5 %`` is backed by 0.125); ``1.2M`` / ``3.4k`` / ``2B`` compare
    ``v / 1e6`` / ``1e3`` / ``1e9`` (or ``v`` itself, a fact already in millions); ``3.1x``
    compares ``v``. Thousands separators are
    ignored. Numbers glued to letters (``2s10s``, ``10Y``, ``Q3``) are names, not numbers.

    Hand-checked example: text "SPY gapped up 1.3 % on 2.4M shares" with metrics
    ``{"gap_pct": 1.27, "volume": 2_412_000}`` is backed (1.27 → 1.3; 2.412 → 2.4); "1.4 %"
    would not be (|1.4 - 1.27| = 0.13 > 0.05).
    """
    facts: list[float] = list(_numbers_in(metrics))
    facts.extend(_numbers_in(levels or {}))
    for item in evidence:
        data = item.model_dump() if isinstance(item, Evidence) else dict(item)
        facts.extend(_numbers_in(data.get("value")))
        written = data.get("text")
        if isinstance(written, str):
            facts.extend(value for _, value, _, _ in _written_numbers(written))
    magnitudes = [abs(v) for v in facts]
    missing: list[str] = []
    for token, value, decimals, suffix in _written_numbers(text):
        tolerance = 0.5 * 10.0**-decimals + 1e-9
        scale = _SCALES.get(suffix, 1.0)
        written = abs(value) / scale  # the digits as written
        views = (
            [1.0, 1.0 / scale] if suffix in _SCALES else [1.0, 100.0] if suffix == "%" else [1.0]
        )
        if not any(abs(m * k - written) <= tolerance for m in magnitudes for k in views):
            missing.append(token)
    return missing


def _written_numbers(text: str) -> Iterator[tuple[str, float, int, str]]:
    """(token as written, value, decimals, suffix) for each number in ``text``."""
    for match in _NUMBER.finditer(text):
        sign, whole, fraction, suffix = match.groups()
        number = float(whole.replace(",", "") + (fraction or ""))
        if sign in ("-", "−"):
            number = -number
        decimals = len(fraction) - 1 if fraction else 0
        value = number * _SCALES[suffix] if suffix in _SCALES else number
        yield match.group(0).strip(), value, decimals, suffix


def _numbers_in(value: Any) -> Iterator[float]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _numbers_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _numbers_in(item)


__all__ = [
    "STANCES",
    "Evidence",
    "Insight",
    "Stance",
    "insight_schema",
    "numbers_backed",
    "schema_text",
]
