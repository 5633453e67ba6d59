"""The embed an alert gets on Discord when its producer sent none, built from its fields.

Without it, an alert reaches Discord as bare text and loses its type, symbol, severity,
source and time. Each route has a template (``embed`` in its route table entry):

```toml
embed = "off"                     # bare content, as a producer's text alone
embed = "default"                 # the default below (what a route without `embed` gets)
embed = { title = "{alert_type} on {symbol}", description = "{content}", color = "#ff8800",
          fields = ["severity", "source"], footer = "desk feed" }
```

Placeholders are the alert's fields: ``{alert_type}``, ``{symbol}``, ``{source}``,
``{severity}``, ``{content}`` and ``{timestamp}`` (absent ones are empty). The default: title
``alert_type · SYMBOL``, colour by severity, inline fields Symbol, Severity and Source (those
the alert has), footer ``alphawire``, the alert's timestamp; the text stays in the message's
``content`` (where Discord's notifications show it), so it is not repeated in the embed. A
producer's own ``embed`` is always sent as it is.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alphawire.errors import ValidationError, refuse_unknown_keys

PLACEHOLDERS = ("alert_type", "symbol", "source", "severity", "content", "timestamp")
FIELD_KEYS = ("symbol", "severity", "source", "alert_type", "timestamp")
FIELD_LABELS = {
    "symbol": "Symbol",
    "severity": "Severity",
    "source": "Source",
    "alert_type": "Type",
    "timestamp": "Time",
}
# Colours by severity, from calm to loud (Discord renders an integer 0xRRGGBB).
SEVERITY_COLORS: Mapping[str | None, int] = {
    None: 0x5865F2,  # Discord's blurple: no severity given
    "info": 0x5865F2,
    "low": 0x57F287,
    "medium": 0xFEE75C,
    "high": 0xF0883E,
    "critical": 0xED4245,
}
_TEMPLATE_KEYS = ("title", "description", "color", "fields", "footer")


@dataclass(frozen=True)
class EmbedTemplate:
    """How a route turns an alert without an embed into one (``None`` title: the default)."""

    title: str | None = None
    description: str = ""
    color: int | None = None  # None: by severity
    fields: tuple[str, ...] = ("symbol", "severity", "source")
    footer: str = "alphawire"

    def render(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        """The embed for ``alert`` (its message body); Discord's limits are applied later."""
        values = _Values(alert)
        if self.title is None:
            symbol = alert.get("symbol")
            title = f"{alert.get('alert_type')}" + (f" · {symbol}" if symbol else "")
        else:
            title = _FORMATTER.vformat(self.title, (), values)
        embed: dict[str, Any] = {"title": title}
        description = _FORMATTER.vformat(self.description, (), values)
        if description.strip():
            embed["description"] = description
        embed["color"] = (
            self.color if self.color is not None else SEVERITY_COLORS.get(alert.get("severity"))
        )
        fields = [
            {"name": FIELD_LABELS[key], "value": str(alert[key]), "inline": True}
            for key in self.fields
            if alert.get(key) not in (None, "")
        ]
        if fields:
            embed["fields"] = fields
        footer = _FORMATTER.vformat(self.footer, (), values)
        if footer.strip():
            embed["footer"] = {"text": footer}
        if alert.get("timestamp"):
            embed["timestamp"] = alert["timestamp"]
        return embed


class _Values(dict[str, str]):
    """An alert's fields for ``str.format``: absent or null ones are empty."""

    def __init__(self, alert: Mapping[str, Any]) -> None:
        super().__init__(
            {key: "" if alert.get(key) is None else str(alert[key]) for key in PLACEHOLDERS}
        )

    def __missing__(self, key: str) -> str:
        return ""


_FORMATTER = string.Formatter()


def embed_template(value: Any, where: str) -> EmbedTemplate | None:
    """A route's ``embed`` setting: ``"default"``, ``"off"`` (None) or a template table."""
    if value is None or value == "default":
        return EmbedTemplate()
    if value == "off" or value is False:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f'{where}: embed must be "default", "off" or a table')
    refuse_unknown_keys(where, value, _TEMPLATE_KEYS, "embed key")
    texts: dict[str, Any] = {}
    for key in ("title", "description", "footer"):
        text = value.get(key)
        if text is None:
            continue
        if not isinstance(text, str):
            raise ValidationError(f"{where}: embed.{key} must be a string")
        _check_placeholders(text, f"{where}: embed.{key}")
        texts[key] = text
    fields = value.get("fields", EmbedTemplate.fields)
    if not isinstance(fields, list | tuple) or not all(f in FIELD_KEYS for f in fields):
        raise ValidationError(
            f"{where}: embed.fields must be a list of {', '.join(FIELD_KEYS)}, got {fields!r}"
        )
    return EmbedTemplate(color=_color(value.get("color"), where), fields=tuple(fields), **texts)


def _check_placeholders(text: str, where: str) -> None:
    try:
        names = [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError as exc:
        raise ValidationError(f"{where}: {exc} (write {{{{ and }}}} for braces)") from None
    bad = [n for n in names if n not in PLACEHOLDERS]
    if bad:
        raise ValidationError(
            f"{where}: unknown placeholder {{{bad[0]}}}; use "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        )


def _color(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        digits = value.strip().lower().removeprefix("#").removeprefix("0x")
        if len(digits) == 6 and all(c in string.hexdigits for c in digits):
            return int(digits, 16)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFF:
        return value
    raise ValidationError(f'{where}: embed.color must be "#RRGGBB" or 0..0xFFFFFF, got {value!r}')
