"""Channel names and the rules for the symbols and agent names inside them.

Channels: ``unified``, ``signals``, ``narrative``, ``market_{SYMBOL}`` and ``agent_{name}``.
Symbols are normalised to upper case and agent names to lower case, so ``market_spy`` and
``market_SPY`` are one channel, as are ``agent_MarketAgent`` and ``agent_marketagent``.
"""

from __future__ import annotations

import re
from typing import Final

from alphawire.errors import ChannelError

UNIFIED: Final = "unified"
SIGNALS: Final = "signals"
NARRATIVE: Final = "narrative"
MARKET_PREFIX: Final = "market_"
AGENT_PREFIX: Final = "agent_"
FIXED_CHANNELS: Final = frozenset({UNIFIED, SIGNALS, NARRATIVE})

SYMBOL_RULE: Final = "a symbol is 1-20 characters of A-Z, 0-9 and . - ^ = _ (case-insensitive)"
AGENT_RULE: Final = (
    "an agent name is 1-64 characters of letters, digits and _, not starting with a digit "
    "(case-insensitive)"
)
CHANNEL_RULE: Final = (
    "a channel is unified, signals, narrative, market_{SYMBOL} or agent_{name}; "
    f"{SYMBOL_RULE}; {AGENT_RULE}"
)

_SYMBOL_RE: Final = re.compile(r"[A-Z0-9.\-^=_]{1,20}")
_AGENT_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,63}")


def normalize_symbol(value: str) -> str:
    """Return the canonical (upper-case) symbol, or raise ChannelError naming the rule."""
    if not isinstance(value, str):
        raise ChannelError(f"symbol must be a string; {SYMBOL_RULE}", SYMBOL_RULE)
    symbol = value.upper()
    if _SYMBOL_RE.fullmatch(symbol) is None:
        raise ChannelError(f"invalid symbol {value[:40]!r}: {SYMBOL_RULE}", SYMBOL_RULE)
    return symbol


def normalize_agent(value: str) -> str:
    """Return the canonical (lower-case) agent name, or raise ChannelError naming the rule."""
    if not isinstance(value, str):
        raise ChannelError(f"agent name must be a string; {AGENT_RULE}", AGENT_RULE)
    name = value.lower()
    if _AGENT_RE.fullmatch(name) is None:
        raise ChannelError(f"invalid agent name {value[:80]!r}: {AGENT_RULE}", AGENT_RULE)
    return name


def market_channel(symbol: str) -> str:
    """The channel that carries ``market_data`` for ``symbol``."""
    return MARKET_PREFIX + normalize_symbol(symbol)


def agent_channel(agent: str) -> str:
    """The channel that carries ``agent_insight`` messages of ``agent``."""
    return AGENT_PREFIX + normalize_agent(agent)


def normalize_channel(value: object) -> str:
    """Return the canonical name of a channel, or raise ChannelError saying what is allowed."""
    if not isinstance(value, str):
        raise ChannelError(f"channel must be a string; {CHANNEL_RULE}", CHANNEL_RULE)
    lowered = value.lower()
    if lowered in FIXED_CHANNELS:
        return lowered
    if lowered.startswith(MARKET_PREFIX):
        return market_channel(value[len(MARKET_PREFIX) :])
    if lowered.startswith(AGENT_PREFIX):
        return agent_channel(value[len(AGENT_PREFIX) :])
    raise ChannelError(f"unknown channel {value[:80]!r}: {CHANNEL_RULE}", CHANNEL_RULE)


def channel_kind(channel: str) -> str:
    """The kind of a canonical channel: unified, signals, narrative, market or agent."""
    if channel.startswith(MARKET_PREFIX):
        return "market"
    if channel.startswith(AGENT_PREFIX):
        return "agent"
    return channel
