"""The Discord embed an agent's alert carries (``BaseAgent.alert`` builds it with this)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alphawire.alerting.embeds import SEVERITY_COLORS

Severity = str  # "info", "low", "medium", "high", "critical"


def alert_embed(
    title: str,
    description: str = "",
    *,
    fields: Mapping[str, Any] | Sequence[tuple[str, Any]] = (),
    severity: Severity = "medium",
    timestamp: datetime | None = None,
    footer: str = "alphawire",
) -> dict[str, Any]:
    """A Discord embed: title, description, inline fields, colour by severity, footer, time.

    Cut to Discord's limits (title 256, description 4096, 25 fields of name 256 / value 1024
    characters) with an ellipsis rather than refused.
    """
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    embed: dict[str, Any] = {
        "title": _cut(title, 256),
        "color": SEVERITY_COLORS.get(severity, SEVERITY_COLORS[None]),
        "fields": [
            {"name": _cut(str(k), 256), "value": _cut(_show(v), 1024), "inline": True}
            for k, v in pairs[:25]
        ],
        "footer": {"text": _cut(footer, 2048)},
    }
    if description:
        embed["description"] = _cut(description, 4096)
    if timestamp is not None:
        embed["timestamp"] = timestamp.isoformat()
    return embed


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    text = str(value)
    return text or "—"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["Severity", "alert_embed"]
