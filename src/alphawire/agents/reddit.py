"""Retail chatter per ticker: mentions, their velocity, sentiment and call/put talk (``reddit``).

``RedditTracker`` is the agent's pure state (no I/O, no clock of its own: every method takes
``now``). It reads two kinds of records:

* ``post`` (``SocialPost``): tickers found with ``analytics.extract_tickers`` over the title
  and text (watchlist symbols only), scored once with VADER plus the finance lexicon and the
  ``extra_lexicon`` option's words (``analytics.SentimentScorer``); a post naming calls
  (``call``/``calls``) or puts (``put``/``puts``) counts as a call or put mention of each
  ticker it names;
* ``mentions`` (ApeWisdom-style 24-hour counts): the latest per watchlist symbol.

Per symbol, over the last ``window_minutes`` (default 60):

* ``mentions``: ApeWisdom's 24-hour count when one was seen, else posts naming the ticker in
  the window (``post_mentions`` always holds the post count);
* ``velocity`` (mentions per hour now ÷ the trailing average; 1 = normal): ApeWisdom's
  ``mentions / mentions_24h_ago`` when known, else posts per hour in the window ÷ posts per
  hour over the trailing ``baseline_hours`` (both spans capped at the time since the first
  post seen, so a fresh start reads 1, not a spike); null when there is no baseline;
* ``sentiment``: the mean VADER compound score (−1..1) of the window's posts, null without
  posts;
* ``call_put_ratio = (call mentions + 1) ÷ (put mentions + 1)``: add-one smoothing keeps it
  finite (JSON has no infinity); 1 = balanced, 3 = three times the call talk.

Example: ApeWisdom says 2,400 mentions against 180 a day earlier → velocity 13.33; four posts
scoring 0.8, 0.6, 0.4 and −0.2 → sentiment 0.4; three name calls, none puts → ratio 4.0.
State is bounded: symbols are the watchlist's; each keeps at most ``max_posts_per_symbol``
scored posts (oldest dropped) and none older than the baseline.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from alphawire.agents.framework import AgentOptions, BaseAgent
from alphawire.agents.insight import Insight
from alphawire.agents.voice import VOICES, Voice, clamp, pick, signed, stance_of
from alphawire.analytics import SentimentScorer, extract_tickers
from alphawire.analytics.sentiment import lexicon_word, valence
from alphawire.sources.options import Duration
from alphawire.sources.records import Mentions, Record, SocialPost

if TYPE_CHECKING:
    from alphawire.agents.base import AgentContext

_CALLS = re.compile(r"\bcalls?\b", re.IGNORECASE)
_PUTS = re.compile(r"\bputs?\b", re.IGNORECASE)
FULL_CONFIDENCE_POSTS = 20  # posts in the window at which the sentiment read is fully trusted
# Checked when the options are (config check, start-up), by the rules the scorer applies,
# so a bad entry is reported against its table and key, not when the agent first scores.
LexiconWord = Annotated[str, AfterValidator(lexicon_word)]
Valence = Annotated[float, BeforeValidator(valence)]


class RedditOptions(AgentOptions):
    """The reddit agent's options: windows, the spike rule, cadence, voice, extra words."""

    cadence: Duration = Field(30.0, description="seconds between insights (or 30s, 1m)")
    alert_cooldown: Duration = Field(3600.0, description="seconds between spike alerts per symbol")
    window_minutes: float = Field(60.0, gt=0, description="posts counted over this window")
    baseline_hours: float = Field(24.0, gt=0, description="trailing span for post velocity")
    spike_velocity: float = Field(3.0, gt=1, description="velocity at which a spike alerts")
    spike_min_mentions: int = Field(50, ge=1, description="mentions needed for a spike alert")
    rearm_fraction: float = Field(0.8, gt=0, le=1, description="re-arm below this share")
    stance_threshold: float = Field(0.15, gt=0, lt=1, description="|sentiment| for a stance")
    max_posts_per_symbol: int = Field(2000, ge=10, le=100_000)
    evidence_posts: int = Field(5, ge=0, le=20, description="posts quoted as evidence")
    extra_lexicon: dict[LexiconWord, Valence] = Field(
        default_factory=dict,
        description="words to score: word = valence from -4 to 4, e.g. { rug = -3.0 }",
    )
    voice: Voice = "savage"

    @field_validator("extra_lexicon", mode="before")
    @classmethod
    def _one_spelling_per_word(cls, value: Any) -> Any:
        # Words are lower-cased as VADER looks them up: "Moon" and "moon" would otherwise
        # merge silently, the file's later one winning.
        if isinstance(value, dict):
            seen: dict[str, str] = {}
            for key in value:
                if isinstance(key, str):
                    if key.lower() in seen:
                        raise ValueError(
                            f"{seen[key.lower()]!r} and {key!r} are the same word "
                            "(words are compared lower-cased): keep one"
                        )
                    seen[key.lower()] = key
        return value


@dataclass(frozen=True, slots=True)
class ScoredPost:
    """A post as the tracker keeps it: when, where, its title, tone and option talk."""

    ts: datetime
    community: str
    title: str
    sentiment: float
    calls: bool
    puts: bool
    simulated: bool


@dataclass
class _Ticker:
    posts: deque[ScoredPost]
    counts: Mentions | None = None
    first_seen: datetime | None = None


@dataclass
class RedditTracker:
    """Per-ticker chatter state for the watchlist; feed records, read metrics and insights."""

    options: RedditOptions
    watchlist: tuple[str, ...]
    scorer: SentimentScorer | None = None
    _tickers: dict[str, _Ticker] = field(default_factory=dict)
    _spiking: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._universe = frozenset(self.watchlist)
        if self.scorer is None:
            self.scorer = SentimentScorer(self.options.extra_lexicon)
        for symbol in self.watchlist:
            self._tickers[symbol] = _Ticker(deque(maxlen=self.options.max_posts_per_symbol))

    def add(self, records: Iterable[SocialPost | Mentions]) -> None:
        """Take posts and mention counts (others, and symbols off the watchlist, are ignored)."""
        for record in records:
            if isinstance(record, SocialPost):
                self._add_post(record)
            elif isinstance(record, Mentions) and record.symbol in self._tickers:
                self._tickers[record.symbol].counts = record

    def _add_post(self, post: SocialPost) -> None:
        text = f"{post.title}\n{post.text}"
        symbols = extract_tickers(text, self._universe)
        if not symbols:
            return
        assert self.scorer is not None
        scored = ScoredPost(
            ts=post.ts,
            community=post.community,
            title=post.title,
            sentiment=self.scorer(post.text or post.title),
            calls=bool(_CALLS.search(text)),
            puts=bool(_PUTS.search(text)),
            simulated=post.simulated,
        )
        for symbol in symbols:
            ticker = self._tickers[symbol]
            ticker.posts.append(scored)
            if ticker.first_seen is None:
                ticker.first_seen = post.ts

    def _window(self, symbol: str, now: datetime) -> tuple[list[ScoredPost], int, float, float]:
        """The window's posts, the baseline's count, and both spans in hours."""
        ticker = self._tickers[symbol]
        baseline = timedelta(hours=self.options.baseline_hours)
        while ticker.posts and ticker.posts[0].ts < now - baseline:
            ticker.posts.popleft()
        window = timedelta(minutes=self.options.window_minutes)
        recent = [p for p in ticker.posts if p.ts > now - window]
        seen = (now - ticker.first_seen) if ticker.first_seen else timedelta(0)
        window_h = min(window, seen).total_seconds() / 3600
        baseline_h = min(baseline, seen).total_seconds() / 3600
        return recent, len(ticker.posts), window_h, baseline_h

    def metrics(self, symbol: str, now: datetime) -> dict[str, Any]:
        """The symbol's metrics (see the module docstring); ``simulated`` when inputs were."""
        ticker = self._tickers[symbol]
        recent, baseline_n, window_h, baseline_h = self._window(symbol, now)
        counts = ticker.counts
        velocity: float | None = None
        if counts is not None:
            mentions = counts.mentions
            if counts.mentions_24h_ago:
                velocity = counts.mentions / counts.mentions_24h_ago
        else:
            mentions = len(recent)
            if baseline_n and window_h > 0 and baseline_h > 0:
                velocity = (len(recent) / window_h) / (baseline_n / baseline_h)
        calls = sum(p.calls for p in recent)
        puts = sum(p.puts for p in recent)
        sentiment = sum(p.sentiment for p in recent) / len(recent) if recent else None
        return {
            "symbol": symbol,
            "mentions": mentions,
            "velocity": None if velocity is None else round(velocity, 2),
            "sentiment": None if sentiment is None else round(sentiment, 3),
            "call_put_ratio": round((calls + 1) / (puts + 1), 2),
            "post_mentions": len(recent),
            "call_mentions": calls,
            "put_mentions": puts,
            "mentions_24h_ago": counts.mentions_24h_ago if counts else None,
            "rank": counts.rank if counts else None,
            "simulated": any(p.simulated for p in recent) or bool(counts and counts.simulated),
        }

    def insight(
        self, symbol: str, now: datetime, extra_evidence: Iterable[Mapping[str, Any]] = ()
    ) -> dict[str, Any] | None:
        """The symbol's insight, or None when nothing was heard about it."""
        m = self.metrics(symbol, now)
        if not m["mentions"] and not m["post_mentions"]:
            return None
        recent, *_ = self._window(symbol, now)
        sentiment = m["sentiment"] or 0.0
        confidence = min(1.0, m["post_mentions"] / FULL_CONFIDENCE_POSTS)
        evidence = [
            {
                "source": p.community,
                "value": round(p.sentiment, 3),
                "time": p.ts.isoformat(),
                "text": p.title,
            }
            for p in list(recent)[-self.options.evidence_posts :][::-1]
        ]
        evidence.extend(dict(e) for e in extra_evidence)
        simulated = m.pop("simulated")
        return {
            "symbol": symbol,
            "stance": stance_of(sentiment, self.options.stance_threshold),
            "score": round(clamp(sentiment), 3),
            "confidence": round(confidence, 2),
            "headline": headline(
                m, self.options.voice, now, spike_velocity=self.options.spike_velocity
            ),
            "summary": summary(m, self.options.voice),
            "metrics": m,
            "levels": {},
            "evidence": evidence,
            "as_of": now.isoformat(),
            "simulated": simulated,
        }

    def market_insight(self, now: datetime) -> dict[str, Any] | None:
        """The market-wide insight: ``metrics.tickers`` ranked by mentions; None when quiet."""
        rows = [self.metrics(s, now) for s in self.watchlist]
        rows = [r for r in rows if r["mentions"] or r["post_mentions"]]
        if not rows:
            return None
        rows.sort(key=lambda r: (-r["mentions"], r["symbol"]))
        simulated = any(r.pop("simulated") for r in rows)
        scored = [r for r in rows if r["sentiment"] is not None]
        weight = sum(r["post_mentions"] for r in scored)
        mood = sum(r["sentiment"] * r["post_mentions"] for r in scored) / weight if weight else 0.0
        top = rows[0]
        tickers = [
            {k: r[k] for k in ("symbol", "mentions", "velocity", "sentiment", "call_put_ratio")}
            for r in rows
        ]
        return {
            "symbol": None,
            "stance": stance_of(mood, self.options.stance_threshold),
            "score": round(clamp(mood), 3),
            "confidence": round(min(1.0, weight / FULL_CONFIDENCE_POSTS), 2),
            "headline": headline(top, self.options.voice, now, market=True),
            "summary": f"Most talked about: {', '.join(r['symbol'] for r in rows[:5])}.",
            "metrics": {"tickers": tickers, "mood": round(mood, 3), "posts": weight},
            "levels": {},
            "evidence": [],
            "as_of": now.isoformat(),
            "simulated": simulated,
        }

    def spikes(self, now: datetime) -> list[dict[str, Any]]:
        """Symbols whose velocity has just crossed ``spike_velocity`` (with at least
        ``spike_min_mentions`` mentions): their metrics, in watchlist order.

        Edge-triggered: a symbol is reported when it crosses, then not again until its
        velocity has fallen below ``spike_velocity × rearm_fraction`` (hysteresis, so a
        velocity hovering at the threshold does not alert on every evaluation).
        """
        out: list[dict[str, Any]] = []
        rearm = self.options.spike_velocity * self.options.rearm_fraction
        for symbol in self.watchlist:
            m = self.metrics(symbol, now)
            velocity = m["velocity"]
            if velocity is None or velocity < rearm:
                self._spiking.discard(symbol)
                continue
            if symbol in self._spiking or velocity < self.options.spike_velocity:
                continue
            if m["mentions"] < self.options.spike_min_mentions:
                continue
            self._spiking.add(symbol)
            out.append(m)
        return out


_HEADLINES: dict[tuple[str, bool], tuple[str, ...]] = {  # (voice, spiking) -> templates
    ("savage", True): (
        "{symbol}: {mentions} mentions at {velocity}x normal, {mood}. "
        "The crowd has found a new toy.",
        "Retail is screaming about {symbol}: {velocity}x the usual chatter, {mood}.",
        "{symbol} chatter at {velocity}x normal ({mentions} mentions), {mood}; "
        "for whatever forum feelings are worth.",
    ),
    ("savage", False): (
        "{symbol}: {mentions} mentions, {velocity}x the usual rate, {mood}. Nobody cares yet.",
        "{symbol} chatter is business as usual ({velocity}x normal), {mood}.",
    ),
    ("plain", True): (
        "{symbol}: {mentions} mentions, {velocity}x the usual rate, {mood}.",
        "{symbol} is discussed at {velocity}x its normal rate ({mentions} mentions), {mood}.",
    ),
    ("plain", False): ("{symbol}: {mentions} mentions, {velocity}x the usual rate, {mood}.",),
}
_MARKET: dict[str, tuple[str, ...]] = {
    "savage": ("The forums can't shut up about {symbol} ({mentions} mentions).",),
    "plain": ("{symbol} leads retail mentions ({mentions}).",),
}


def _facts(m: Mapping[str, Any]) -> dict[str, str]:
    return {
        "symbol": str(m["symbol"]),
        "mentions": f"{m['mentions']:,}",
        "velocity": "n/a" if m["velocity"] is None else f"{m['velocity']:.1f}",
        "mood": "no posts to read"
        if m["sentiment"] is None
        else f"sentiment {signed(m['sentiment'])}",
        "ratio": f"{m['call_put_ratio']:.2f}",
    }


def headline(
    m: Mapping[str, Any],
    voice: Voice,
    now: datetime,
    *,
    market: bool = False,
    spike_velocity: float = 3.0,
) -> str:
    """One sentence from a symbol's metrics in ``voice`` (numbers only from ``m``); the
    spiking templates when ``velocity ≥ spike_velocity``."""
    if market:
        templates = _MARKET[voice]
    else:
        spiking = m["velocity"] is not None and m["velocity"] >= spike_velocity
        templates = _HEADLINES[(voice, spiking)]
    return pick(templates, m["symbol"], now.isoformat()).format(**_facts(m))


def summary(m: Mapping[str, Any], voice: Voice) -> str:
    """A short paragraph: the counts behind the headline and the option talk."""
    f = _facts(m)
    text = (
        f"{f['mentions']} mentions ({m['post_mentions']} in posts of the window), call/put "
        f"mention ratio {f['ratio']} ({m['call_mentions']} call, {m['put_mentions']} put)."
    )
    if voice == "savage" and m["call_put_ratio"] >= 2:
        text += " Everyone is buying calls; nobody ever learns."
    return text


SpikeSeverity = Literal["medium", "high"]


def spike_severity(velocity: float, threshold: float) -> SpikeSeverity:
    """``high`` at twice the spike threshold or more, else ``medium``."""
    return "high" if velocity >= 2 * threshold else "medium"


assert {v for v, _ in _HEADLINES} == set(VOICES) == set(_MARKET)


class RedditAgent(BaseAgent):
    """Reads posts and mention counts; publishes one insight per talked-about symbol and a
    market-wide one (monitors' social alerts join their evidence through the base); alerts
    ``reddit_spike``."""

    name = "reddit"
    Options = RedditOptions
    records = ("post", "mentions")

    def setup(self, ctx: AgentContext) -> None:
        assert isinstance(self.options, RedditOptions)
        self.tracker = RedditTracker(self.options, self.watchlist)

    def on_record(self, record: Record) -> None:
        if isinstance(record, SocialPost | Mentions):
            self.tracker.add([record])
            if isinstance(record, Mentions):
                self.trigger("mentions")  # a new count may be a spike: say so now

    async def evaluate(self, now: datetime) -> list[Insight]:
        options = self.tracker.options
        for m in self.tracker.spikes(now):
            await self.alert(
                "reddit_spike",
                title=f"{m['symbol']} mention spike: {m['velocity']:.1f}x normal",
                description=headline(m, options.voice, now, spike_velocity=options.spike_velocity),
                symbol=m["symbol"],
                severity=spike_severity(m["velocity"], options.spike_velocity),
                fields=[
                    ("Mentions", f"{m['mentions']:,}"),
                    ("Velocity", f"{m['velocity']:.2f}x"),
                    ("Sentiment", "n/a" if m["sentiment"] is None else signed(m["sentiment"])),
                    ("Call/put ratio", f"{m['call_put_ratio']:.2f}"),
                    ("Posts in window", m["post_mentions"]),
                ],
                dedup_key=f"reddit_spike:{m['symbol']}",
            )
        out: list[Insight] = []
        for symbol in self.watchlist:
            body = self.tracker.insight(symbol, now)  # monitors' alerts: added by the base
            if body is not None:
                out.append(Insight.model_validate(body))
        market = self.tracker.market_insight(now)
        if market is not None:
            out.append(Insight.model_validate(market))
        return out
