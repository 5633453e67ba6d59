"""Channel, symbol and agent-name rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphawire import channels
from alphawire.errors import ChannelError


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("unified", "unified"),
        ("SIGNALS", "signals"),
        ("Narrative", "narrative"),
        ("market_spy", "market_SPY"),
        ("MARKET_brk.b", "market_BRK.B"),
        ("market_^vix", "market_^VIX"),
        ("market_es=f", "market_ES=F"),
        ("market_btc-usd", "market_BTC-USD"),
        ("agent_MarketAgent", "agent_marketagent"),
        ("agent__private", "agent__private"),
    ],
)
def test_channels_normalise(raw: str, canonical: str) -> None:
    """Channel names are case-insensitive and normalised to one spelling."""
    assert channels.normalize_channel(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("market_", channels.SYMBOL_RULE),
        ("market_" + "A" * 21, channels.SYMBOL_RULE),
        ("market_SP Y", channels.SYMBOL_RULE),
        ("market_SPY$", channels.SYMBOL_RULE),
        ("agent_", channels.AGENT_RULE),
        ("agent_1abc", channels.AGENT_RULE),
        ("agent_a-b", channels.AGENT_RULE),
        ("agent_" + "a" * 65, channels.AGENT_RULE),
        ("everything", channels.CHANNEL_RULE),
        ("", channels.CHANNEL_RULE),
    ],
)
def test_bad_channels_name_the_rule(raw: str, rule: str) -> None:
    """A bad channel is rejected with an error that states what is allowed."""
    with pytest.raises(ChannelError) as info:
        channels.normalize_channel(raw)
    assert info.value.rule == rule
    assert rule in str(info.value)


def test_non_string_channel_is_rejected() -> None:
    """A channel given as a number is rejected with the rule."""
    with pytest.raises(ChannelError, match="must be a string"):
        channels.normalize_channel(42)


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefxyz0123456789.-^=_", min_size=1, max_size=20)
)
def test_every_allowed_symbol_round_trips(symbol: str) -> None:
    """Any 1-20 characters of the allowed alphabet is a symbol, normalised to upper case."""
    assert channels.market_channel(symbol) == "market_" + symbol.upper()
    assert channels.normalize_channel("market_" + symbol) == "market_" + symbol.upper()


@given(st.text(min_size=0, max_size=30))
def test_symbol_rule_is_exactly_the_documented_alphabet(text: str) -> None:
    """A string is accepted as a symbol exactly when it matches the documented rule."""
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-^=_")
    expected = 1 <= len(text.upper()) <= 20 and set(text.upper()) <= allowed
    try:
        channels.normalize_symbol(text)
    except ChannelError:
        assert not expected
    else:
        assert expected


def test_channel_kind() -> None:
    """Each canonical channel maps to its kind."""
    assert [channels.channel_kind(c) for c in ("unified", "market_SPY", "agent_x", "signals")] == [
        "unified",
        "market",
        "agent",
        "signals",
    ]
