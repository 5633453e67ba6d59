"""VADER sentiment with the finance lexicon, user additions, and ticker extraction."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphawire.analytics import (
    CHAT_WORDS,
    FINANCE_LEXICON,
    SentimentScorer,
    extract_tickers,
    sentiment,
)
from alphawire.errors import ValidationError


def _compound(total: float) -> float:
    """VADER's normalisation of a valence sum x: x / √(x² + 15), rounded to 4 places."""
    return round(total / math.sqrt(total * total + 15), 4)


def test_finance_lexicon_is_exactly_the_documented_table() -> None:
    """The table is the issue's, word for word."""
    assert dict(FINANCE_LEXICON) == {
        "moon": 4.0,
        "mooning": 4.0,
        "calls": 4.0,
        "call": 4.0,
        "puts": -4.0,
        "put": -4.0,
        "bullish": 3.7,
        "bearish": -3.7,
        "tendies": 2.0,
        "rocket": 2.2,
        "bagholder": -1.7,
    }


@pytest.mark.parametrize(
    ("text", "valence"),
    [
        ("moon", 4.0),  # 4/√31 = 0.7184 (plain VADER: 0.0, the word is unknown to it)
        ("puts", -4.0),
        ("bullish", 3.7),  # 3.7/√28.69 = 0.6908
        ("tendies", 2.0),  # 2/√19 = 0.4588
        ("bagholder", -1.7),
        ("🚀", 2.2),  # VADER reads the emoji as "rocket": 2.2/√19.84 = 0.4939
    ],
)
def test_single_words_score_their_valence(text: str, valence: float) -> None:
    """A post of one lexicon word scores VADER's normalisation of that word's valence."""
    assert sentiment(text) == _compound(valence)


def test_negation_and_mixed_posts() -> None:
    """VADER's rules still apply: 'not bullish' flips the sign (×−0.74); a mixed post sums."""
    assert sentiment("not bullish") == _compound(3.7 * -0.74)
    # "calls" 4.0 + "puts" −4.0 = 0
    assert sentiment("calls puts") == 0.0


def test_user_additions_extend_the_lexicon() -> None:
    """extra_lexicon adds words (lower-cased): 'HODL' at 2.5 scores 2.5/√21.25 = 0.5423."""
    assert sentiment("hodl") == 0.0
    assert sentiment("hodl", extra_lexicon={"HODL": 2.5}) == _compound(2.5) == 0.5423
    assert SentimentScorer({"rocket": -1.0})("rocket") == _compound(-1.0)  # user words win


@pytest.mark.parametrize(
    "extra", [{"to the moon": 3.0}, {"pump": 5.0}, {"dump": math.nan}, {"": 1.0}]
)
def test_bad_user_words_raise(extra: dict[str, float]) -> None:
    """Multi-word keys and valences outside [−4, 4] raise ValidationError."""
    with pytest.raises(ValidationError, match="extra_lexicon"):
        SentimentScorer(extra)


@given(st.text(max_size=200))
def test_score_is_always_in_range(text: str) -> None:
    """Any text scores a number in [−1, 1]."""
    assert -1.0 <= sentiment(text) <= 1.0


UNIVERSE = frozenset({"GME", "AMC", "A", "ALL", "IT", "TSLA", "BRK.B", "DD", "AAPL", "NVDA", "SPY"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$gme and $AMC to the moon", ["GME", "AMC"]),
        ("TSLA calls, then $GME", ["GME", "TSLA"]),  # cashtags first, then bare words
        ("$A is one letter, A is not a mention", ["A"]),
        ("ALL in on IT, DD inside", []),  # bare chat words are not tickers
        ("$ALL and $IT and $DD", ["ALL", "IT", "DD"]),  # as cashtags they are
        ("made $5 and $500 today on SPY", ["SPY"]),  # amounts are not cashtags
        ("GME GME $gme GME", ["GME"]),  # once each
        ("Nvda and nvda and NVDAX", []),  # bare words must be upper case, whole words
        ("$BRK.B over $XYZ", ["BRK.B"]),  # class shares; unknown symbols dropped
        ("AAPL's earnings, TSLA.", ["AAPL", "TSLA"]),
        ("$TOOLONG", []),
    ],
)
def test_extract_tickers(text: str, expected: list[str]) -> None:
    """Cashtags in the universe always count; bare 2–5 letter upper-case words unless chat words."""
    assert extract_tickers(text, UNIVERSE) == expected


def test_universe_may_be_any_collection() -> None:
    """A list universe gives the same answer as a frozenset."""
    assert extract_tickers("$gme SPY", ["GME", "SPY"]) == ["GME", "SPY"]


def test_blacklist_holds_the_documented_words() -> None:
    """The issue's named chat words are on the blacklist."""
    assert {"I", "A", "CEO", "DD", "IT", "ALL", "YOLO"} <= CHAT_WORDS


_words = st.lists(
    st.one_of(
        st.sampled_from(sorted(UNIVERSE)),
        st.sampled_from(sorted(CHAT_WORDS)),
        st.from_regex(r"[A-Za-z]{1,7}", fullmatch=True),
    ).flatmap(lambda w: st.sampled_from([w, "$" + w, "$" + w.lower(), w + ",", "$5"])),
    max_size=20,
)


@given(_words)
def test_extracted_tickers_are_unique_universe_members_named_in_the_text(words: list[str]) -> None:
    """Whatever the post, every ticker returned is in the universe, named in the text, and listed once."""
    text = " ".join(words)
    found = extract_tickers(text, UNIVERSE)
    assert len(found) == len(set(found))
    assert set(found) <= UNIVERSE
    for ticker in found:
        assert ("$" + ticker.lower()) in text.lower() or (
            ticker in text and ticker not in CHAT_WORDS
        )
