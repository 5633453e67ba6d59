"""The configuration shared by every built-in source's ``Options`` model.

A source's table in ``alphawire.toml`` (``[sources.cboe]``) is validated by its ``Options``
model (``alphawire.sources.builtin``): unknown keys are refused, durations are written
``"250ms"``, ``"60s"``, ``"5m"``, ``"1h"``, ``"1d"`` or as a number of seconds, symbols are
upper-cased and checked. Each source's model sets its own defaults and lower bounds (an
interval that would hammer a free service is refused, not silently raised).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-/]{0,11}$")


def parse_duration(value: Any) -> float:
    """Seconds from ``60``, ``"60"``, ``"250ms"``, ``"60s"``, ``"5m"``, ``"1h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(
            f"{value!r} is not a duration: write seconds (60) or a number with a unit "
            "(250ms, 60s, 5m, 1h, 1d)"
        )
    if seconds <= 0:
        raise ValueError(f"{value!r}: a duration must be positive")
    return seconds


def _symbol(value: str) -> str:
    symbol = value.strip().upper()
    if not _SYMBOL.match(symbol):
        raise ValueError(f"{value!r} is not a ticker symbol (letters, digits, '.', '-', '/')")
    return symbol


Duration = Annotated[float, BeforeValidator(parse_duration)]
Symbol = Annotated[str, AfterValidator(_symbol)]


class SourceOptions(BaseModel):
    """Keys every source accepts: ``enabled`` (a ``[sources.NAME]`` table turns its source on
    unless it says ``enabled = false``; a source without a table is off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class HttpOptions(SourceOptions):
    """Keys of the sources that poll an HTTP endpoint."""

    interval: Duration = Field(default=300.0, description="seconds between polls")
    timeout: Duration = Field(default=20.0, le=120.0, description="per-request timeout")
    base_url: str = Field(default="", description="the vendor's endpoint (tests point it here)")
    user_agent: str = Field(default="alphawire (+https://github.com/alphawire/alphawire)")


__all__ = ["Duration", "HttpOptions", "SourceOptions", "Symbol", "parse_duration"]
