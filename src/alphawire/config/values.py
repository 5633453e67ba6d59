"""Checking one value against its key, and writing values as TOML (for messages and output)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from alphawire.brokers.base import Limit
from alphawire.config.schema import Key

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class BadValue(ValueError):
    """A value that does not fit its key; ``str()`` says what was expected."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def check(key: Key, value: Any, *, text: bool, base: Path | None = None) -> Any:
    """``value`` as the setting's type, or BadValue naming what ``key`` accepts.

    ``text``: the value is a string from a variable or a flag (``"8000"``, ``"a,b"``), not a
    typed TOML value. Relative paths are taken from ``base`` (the file's folder) when given.
    """
    kind = key.kind
    out: Any
    if text and isinstance(value, str):
        out = _from_text(key, value)
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(key.expected())
        out = value
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadValue(key.expected())
        out = float(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise BadValue(key.expected())
        out = value
    elif kind == "list":
        items = list(value) if isinstance(value, list | tuple) else None
        if items is None or not all(isinstance(v, str) for v in items):
            raise BadValue(key.expected())
        out = tuple(v.strip() for v in items if v.strip())
    elif kind == "path" and isinstance(value, Path):
        out = value
    elif not isinstance(value, str):
        raise BadValue(key.expected())
    else:
        out = value
    return _bounded(key, out, base)


def _from_text(key: Key, raw: str) -> Any:
    kind = key.kind
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise BadValue(key.expected()) from None
    if kind == "float":
        try:
            return float(raw.strip())
        except ValueError:
            raise BadValue(key.expected()) from None
    if kind == "bool":
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise BadValue(key.expected())
        return word in _TRUE
    if kind == "list":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _bounded(key: Key, value: Any, base: Path | None) -> Any:
    if key.kind == "choice":
        by_lower = {c.lower(): c for c in key.choices}
        if value.lower() not in by_lower:
            raise BadValue(key.expected())
        return by_lower[value.lower()]
    if key.kind == "path":
        path = Path(value).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return path
    if key.kind == "list" and key.name == "allowed_origins":
        return tuple(origin.rstrip("/") for origin in value)
    if key.kind in ("int", "float"):
        low, high = key.minimum, key.maximum
        if value != value or (
            low is not None and (value < low or (key.exclusive and value == low))
        ):
            raise BadValue(key.expected())
        if high is not None and value > high:
            raise BadValue(key.expected())
    if key.kind == "str" and not value.strip():
        raise BadValue("a non-empty string")
    return value


def toml_value(value: Any) -> str:
    """One value in TOML syntax (strings as JSON strings, which TOML reads alike)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = (f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_key(name: str) -> str:
    """A key bare when TOML allows it, quoted otherwise."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def shown(value: Any) -> str:
    """A value as it would be written in TOML, for messages (``"lots"``, ``8000``)."""
    try:
        text = toml_value(value)
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_limit(value: Any) -> Limit | None:
    """``{messages, seconds}`` as a Limit, or None when either is missing or not positive."""
    if not isinstance(value, dict) or set(value) != {"messages", "seconds"}:
        return None
    try:
        messages, seconds = value["messages"], value["seconds"]
        if isinstance(messages, bool) or isinstance(seconds, bool):
            return None
        limit = Limit(int(messages), float(seconds))
        if isinstance(messages, float) and not messages.is_integer():
            return None
    except (TypeError, ValueError):
        return None
    return limit if limit.messages >= 1 and limit.seconds > 0 else None
