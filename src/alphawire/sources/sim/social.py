"""Retail-forum posts: cashtags and tickers in sentiment-bearing text, and mention counts.

Posts are assembled from phrase lists so that a lexicon scorer (VADER) reads their tone:
bullish, bearish or neutral lines about one or two tickers, written as ``$TSLA`` or plain
``TSLA``. Background chatter is about one post every ten simulated seconds across
r/wallstreetbets, r/stocks, r/options and r/investing; scenarios add bursts.
"""

from __future__ import annotations

from datetime import datetime

from alphawire.sources.records import Mentions, SocialPost
from alphawire.sources.sim.draws import Draws

COMMUNITIES = ("wallstreetbets", "stocks", "options", "investing")
BULLISH = (
    "{t} is going to the moon, loading up on calls 🚀",
    "Bought more {t} today, this breakout looks amazing",
    "{t} short squeeze is ON, shorts are trapped and the borrow fee is insane",
    "Huge win on {t}, love this stock, holding strong 💎🙌",
    "{t} earnings will crush it, very bullish",
)
BEARISH = (
    "{t} is a terrible bagholder trap, puts printing",
    "Sold all my {t}, this looks awful and overvalued",
    "{t} is going to crash hard, worst chart I have seen",
    "Lost a lot on {t} today, painful, stay away",
)
NEUTRAL = (
    "What is everyone's plan for {t} this week?",
    "{t} options volume today, any thoughts?",
    "Watching {t} at these levels, no position yet",
)
TITLES = ("Daily discussion", "DD", "YOLO update", "Question", "Market thoughts")


def ticker_text(symbol: str, d: Draws) -> str:
    """``$SYM`` most of the time, plain ``SYM`` otherwise (both forms appear in the wild)."""
    return f"${symbol}" if d.uniform() < 0.7 else symbol


def post(
    source: str,
    ts: datetime,
    number: int,
    symbols: tuple[str, ...],
    tone: str,
    d: Draws,
    community: str | None = None,
) -> SocialPost:
    """One post about ``symbols`` in ``tone`` ("bullish", "bearish" or "neutral")."""
    lines = {"bullish": BULLISH, "bearish": BEARISH}.get(tone, NEUTRAL)
    text = " ".join(lines[d.index(len(lines))].format(t=ticker_text(s, d)) for s in symbols)
    score = int(5 + 40 * d.uniform() ** 2 * (20 if tone == "bullish" else 5))
    return SocialPost(
        source=source,
        symbol=None,
        ts=ts,
        id=f"sim-{number:08d}",
        community=community or COMMUNITIES[d.index(len(COMMUNITIES))],
        author=f"sim_user_{d.index(5000):04d}",
        title=f"{TITLES[d.index(len(TITLES))]}: {symbols[0]}",
        text=text,
        score=score,
        simulated=True,
    )


def background_post(
    source: str, ts: datetime, number: int, watchlist: tuple[str, ...], d: Draws
) -> SocialPost:
    """Ordinary chatter: one or two watchlist tickers, any tone."""
    first = watchlist[d.index(len(watchlist))]
    symbols = (first,) if d.uniform() < 0.75 else (first, watchlist[d.index(len(watchlist))])
    u = d.uniform()
    tone = "bullish" if u < 0.4 else ("bearish" if u < 0.7 else "neutral")
    return post(source, ts, number, symbols, tone, d)


def mentions(
    source: str, ts: datetime, symbol: str, count: int, before: int, rank: int
) -> Mentions:
    """An ApeWisdom-style mention count over the last 24 hours."""
    return Mentions(
        source=source,
        symbol=symbol,
        ts=ts,
        mentions=count,
        upvotes=count * 7,
        rank=rank,
        mentions_24h_ago=before,
        simulated=True,
    )
