"""MonitorBridge: alerts and signals from users' own monitors, as agents' evidence.

A monitor that already posts alerts (``AlertManager.send_discord``, ``POST /api/v1/publish``
or the producer socket) puts them on ``unified``; each agent that reads ``unified`` asks
``agent_for(alert_type)`` whether an alert is its business, and ``evidence_of(message)``
turns it into an evidence item ``{source, value, time, text, alert_id, external: true}``.
The Narrative Brain cites them too (``ExternalFeed``).

The mapping, ``alert_type`` → agent (matched lower-cased; the exact names first, then
the prefixes):

=================================================================  ==========
alert_type                                                         agent
=================================================================  ==========
``dark_pool``, ``darkpool``, ``block_trade``, ``short_volume``     darkpool
``gamma``, ``gamma_flip``, ``gex``, ``gamma_wall``                 gamma
``squeeze``, ``short_squeeze``, ``borrow``                         squeeze
``options_flow``, ``unusual_options``, ``sweep``, ``flow``         options
``reddit``, ``wsb``, ``sentiment``, ``social``, ``mentions``       reddit
``macro``, ``yield_curve``, ``curve``, ``vix``, ``cpi``, ``fed``   macro
``price``, ``volume``, ``breakout``, ``gap``, ``market``           market
``signal`` (and ``signal`` messages)                               signal
=================================================================  ==========

Any other type prefixed by one of these names plus ``_`` (``dark_pool_print``,
``gamma_wall_break``) maps the same way. Alerts raised by alphawire's own agents (``source``
ending in ``_agent``) are not external and are left out, so an agent never cites itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

AGENT_BY_ALERT_TYPE: Mapping[str, str] = {
    **dict.fromkeys(("dark_pool", "darkpool", "block_trade", "short_volume"), "darkpool"),
    **dict.fromkeys(("gamma", "gamma_flip", "gex", "gamma_wall"), "gamma"),
    **dict.fromkeys(("squeeze", "short_squeeze", "borrow"), "squeeze"),
    **dict.fromkeys(("options_flow", "unusual_options", "sweep", "flow"), "options"),
    **dict.fromkeys(("reddit", "wsb", "sentiment", "social", "mentions"), "reddit"),
    **dict.fromkeys(("macro", "yield_curve", "curve", "vix", "cpi", "fed"), "macro"),
    **dict.fromkeys(("price", "volume", "breakout", "gap", "market"), "market"),
    "signal": "signal",
}
_BY_LENGTH = sorted(AGENT_BY_ALERT_TYPE, key=len, reverse=True)
AGENT_SOURCE_SUFFIX = "_agent"  # BaseAgent.alert's ``source``: "{name}_agent"
MAX_TEXT = 300


def agent_for(alert_type: str) -> str | None:
    """The agent an external alert of ``alert_type`` is evidence for (see the table), or None."""
    kind = alert_type.strip().lower()
    if kind in AGENT_BY_ALERT_TYPE:
        return AGENT_BY_ALERT_TYPE[kind]
    for name in _BY_LENGTH:
        if kind.startswith(name + "_"):
            return AGENT_BY_ALERT_TYPE[name]
    return None


def is_external(message: Mapping[str, Any]) -> bool:
    """An alert or signal that did not come from one of alphawire's agents."""
    kind = message.get("type")
    if kind == "signal":
        return not str((message.get("signal") or {}).get("source", "")).endswith(
            AGENT_SOURCE_SUFFIX
        ) and not (message.get("signal") or {}).get("agents")
    return kind == "alert" and not str(message.get("source", "")).endswith(AGENT_SOURCE_SUFFIX)


def evidence_of(message: Mapping[str, Any], now: str | None = None) -> dict[str, Any]:
    """An external alert or signal as an evidence item (``external: true``, its id kept);
    ``now`` stands in for a message without a ``timestamp``."""
    if message.get("type") == "signal":
        body = message.get("signal") or {}
        text = f"signal {body.get('action') or ''} {body.get('symbol') or ''}".strip()
        if body.get("rationale"):
            text += f": {body['rationale']}"
        value: Any = body.get("confidence")
        source = "signal"
    else:
        embed = message.get("embed") or {}
        text = str(message.get("content") or embed.get("title") or embed.get("description") or "")
        value = str(message.get("alert_type") or "alert")
        source = str(message.get("source") or "monitor")
    return {
        "source": source,
        "value": value,
        "time": message.get("timestamp") or now,
        "text": text[:MAX_TEXT],
        "alert_id": message.get("id"),
        "external": True,
    }


def symbol_of(message: Mapping[str, Any]) -> str | None:
    """The message's symbol, upper case, or None (market-wide)."""
    raw = message.get("symbol") or (message.get("signal") or {}).get("symbol")
    return str(raw).upper() if raw else None


class ExternalEvidence:
    """An agent's bounded store of external evidence: the newest ``per_symbol`` items per
    symbol (market-wide under None) for at most ``max_symbols`` symbols (the oldest symbol
    dropped first). ``agent="*"`` keeps every external alert and signal (the Narrative Brain)."""

    def __init__(self, agent: str, *, per_symbol: int = 5, max_symbols: int = 256) -> None:
        self.agent = agent
        self.per_symbol = per_symbol
        self.max_symbols = max_symbols
        self._items: dict[str | None, deque[dict[str, Any]]] = {}
        self.taken = 0

    def offer(self, message: Mapping[str, Any], now: str | None = None) -> bool:
        """Keep ``message`` when it is an external alert or signal for this agent; True if kept."""
        if not is_external(message):
            return False
        kind = "signal" if message.get("type") == "signal" else str(message.get("alert_type", ""))
        if self.agent != "*" and agent_for(kind) != self.agent:
            return False
        symbol = symbol_of(message)
        if message.get("id") is not None and any(
            e["alert_id"] == message["id"] for e in self._items.get(symbol, ())
        ):
            return False  # the same alert again (a resumed subscription, a second channel)
        items = self._items.pop(symbol, None) or deque(maxlen=self.per_symbol)
        items.append(evidence_of(message, now))
        self._items[symbol] = items  # re-inserted: the dict's order is recency
        while len(self._items) > self.max_symbols:
            del self._items[next(iter(self._items))]
        self.taken += 1
        return True

    def symbols(self) -> list[str | None]:
        """Symbols with kept evidence (None: market-wide), least recently updated first."""
        return list(self._items)

    def for_symbol(self, symbol: str | None) -> list[dict[str, Any]]:
        """The kept evidence for ``symbol`` (None: market-wide), newest first."""
        return list(self._items.get(symbol, ()))[::-1]
