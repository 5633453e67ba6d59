"""Voices for agents' and the Narrative Brain's templated text: "savage" or "plain", varied by seed.

A template is picked with ``pick(templates, *key)``: a stable hash (CRC-32, not Python's
salted ``hash``) of the key chooses one, so the same facts read the same on every run and in
replay, while different symbols and moments read differently. Templates are ``str.format``
strings over named facts; numbers are formatted by the caller from metrics, never invented.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Literal

from alphawire.errors import ValidationError

Voice = Literal["savage", "plain"]
VOICES: tuple[Voice, ...] = ("savage", "plain")
Stance = Literal["bullish", "bearish", "neutral"]
SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")


def pick(templates: Sequence[str], *key: object) -> str:
    """One of ``templates``, chosen by a stable hash of ``key`` (same key, same choice)."""
    if not templates:
        raise ValidationError("pick: no templates to choose from")
    digest = zlib.crc32("\x1f".join(str(part) for part in key).encode())
    return templates[digest % len(templates)]


def stance_of(score: float, threshold: float) -> Stance:
    """``"bullish"`` when ``score ≥ threshold``, ``"bearish"`` at ``≤ −threshold``, else neutral."""
    if score >= threshold:
        return "bullish"
    if score <= -threshold:
        return "bearish"
    return "neutral"


def clamp(value: float, low: float = -1.0, high: float = 1.0) -> float:
    """``value`` limited to ``[low, high]``."""
    return max(low, min(high, value))


def signed(value: float, digits: int = 2) -> str:
    """``value`` with an explicit sign (``+0.85``, ``-0.30``): sentiment and scores read better."""
    return f"{value:+.{digits}f}"
