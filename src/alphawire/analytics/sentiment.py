"""Retail sentiment: VADER with a finance lexicon, and ticker extraction from posts.

``sentiment`` is VADER's compound score (``vaderSentiment``: −1 most negative, +1 most
positive, computed from word valences on a −4…+4 scale with VADER's rules for negation,
intensifiers, capitals, punctuation and emoji) with its lexicon extended by
``FINANCE_LEXICON``, which overrides VADER's own entry where both have a word:

=============  ======   =============  ======
word           valence  word           valence
=============  ======   =============  ======
moon           4.0      bullish        3.7
mooning        4.0      bearish        −3.7
calls / call   4.0      tendies        2.0
puts / put     −4.0     rocket         2.2
bagholder      −1.7
=============  ======   =============  ======

(VADER turns the 🚀 emoji into the word "rocket", so it scores too.) Users add words with
``extra_lexicon`` (from alphawire.toml: ``[agents.reddit] extra_lexicon``): single words
(``lexicon_word``: lower-cased, as VADER looks them up), valences in −4…4 (``valence``),
applied after the finance table, so a user's word wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from types import MappingProxyType

from alphawire.errors import ValidationError

FINANCE_LEXICON: Mapping[str, float] = MappingProxyType(
    {
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
)

# Upper-case words of forum chat that are (or could be) tickers: a bare word on this list is
# not a ticker mention; written as a cashtag ($ALL, $A) it is.
_CHAT_WORDS = """
A I ALL AM AN ANY ARE AT ATH ATM BE BIG BUY BY CAN CEO CFO CPI CTO DD DM DOWN EDIT EOD EPS ETF
EU EV FD FDA FED FOMO FOR FUD FYI GDP GO GOOD HODL HOLD IMO IPO IRS IT ITM IV LOL LOW MOON NEW
NFT NOW OG OMG ON ONE OP OR OTM OUT PM PT RH RIP SEC SELL SO TA TLDR TO UK UP US USA USD WSB WTF
YOLO YTD
"""
CHAT_WORDS: frozenset[str] = frozenset(_CHAT_WORDS.split())


class SentimentScorer:
    """A VADER analyzer with the finance lexicon and optional user words; call it on text."""

    def __init__(self, extra_lexicon: Mapping[str, float] | None = None) -> None:
        # Imported on first use (it brings ``requests``); the analyzer reads VADER's lexicon
        # from its package once, here: the only file an analytics function touches.
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self._analyzer.lexicon.update(FINANCE_LEXICON)
        self._analyzer.lexicon.update(_checked(extra_lexicon or {}))

    def __call__(self, text: str) -> float:
        """VADER's compound score of ``text`` in [−1, 1]."""
        return float(self._analyzer.polarity_scores(text)["compound"])


VALENCE_MIN, VALENCE_MAX = -4.0, 4.0  # VADER's scale: most negative, most positive


def lexicon_word(word: object) -> str:
    """``word`` as VADER looks it up (lower-cased); ``ValidationError`` unless it is one word."""
    if not isinstance(word, str) or not word or word.split() != [word]:
        raise ValidationError("expected a single word (VADER scores words, not phrases)")
    return word.lower()


def valence(value: object) -> float:
    """``value`` as a VADER valence; ``ValidationError`` unless a number in −4…4."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not VALENCE_MIN <= value <= VALENCE_MAX
    ):
        raise ValidationError(
            "expected a valence: a number from -4 (most negative) to 4 (most positive)"
        )
    return float(value)


def _checked(extra: Mapping[str, float]) -> dict[str, float]:
    words: dict[str, float] = {}
    for word, value in extra.items():
        try:
            words[lexicon_word(word)] = valence(value)
        except ValidationError as exc:
            raise ValidationError(
                f"extra_lexicon: {word!r} = {value!r}: {exc.message}",
                [{"field": "extra_lexicon"}],
            ) from None
    return words


@lru_cache(maxsize=8)
def _scorer(extra: tuple[tuple[str, float], ...]) -> SentimentScorer:
    return SentimentScorer(dict(extra))


def sentiment(text: str, *, extra_lexicon: Mapping[str, float] | None = None) -> float:
    """VADER compound score in [−1, 1] of ``text`` with ``FINANCE_LEXICON`` (and ``extra_lexicon``).

    The analyzer is built once per distinct ``extra_lexicon`` (a few are cached); hold a
    ``SentimentScorer`` to control that yourself.
    """
    return _scorer(tuple(sorted((extra_lexicon or {}).items())))(text)


_CASHTAG = re.compile(r"\$([A-Za-z]{1,5}(?:\.[A-Za-z])?)\b")
_BARE = re.compile(r"(?<![$\w.])([A-Z]{2,5})\b(?!\.[A-Za-z])")


def extract_tickers(text: str, universe: Collection[str]) -> list[str]:
    """Tickers mentioned in ``text`` that are in ``universe``: cashtags first, then bare words.

    A cashtag (``$gme``, ``$A``, ``$BRK.B``) counts when its upper-cased symbol is in the
    universe, even one letter long or on ``CHAT_WORDS``; ``$5``-style amounts are not
    cashtags. A bare word counts when it is 2–5 upper-case letters, in the universe and not
    in ``CHAT_WORDS`` (so "YOLO on IT" names nothing, "$IT" names Gartner). Each ticker
    appears once, cashtags in order of first appearance, then bare words likewise.
    ``universe`` holds upper-case symbols; pass a set or frozenset for speed.
    """
    found: dict[str, None] = {}
    for match in _CASHTAG.finditer(text):
        symbol = match.group(1).upper()
        if symbol in universe:
            found.setdefault(symbol)
    for match in _BARE.finditer(text):
        word = match.group(1)
        if word not in CHAT_WORDS and word in universe:
            found.setdefault(word)
    return list(found)
