"""RedditTracker: mentions, velocity, sentiment and call/put talk on the simulated market."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from alphawire.agents.reddit import RedditOptions, RedditTracker, spike_severity
from alphawire.analytics import sentiment
from alphawire.config import ConfigError, load_config, plugin_option_models, validate_plugin_options
from alphawire.node import Node
from alphawire.plugins import discover
from alphawire.sources.records import Mentions, SocialPost
from alphawire.sources.sim import DEFAULT_WATCHLIST
from sim_fixtures import OPEN, at, first_minute


def post(seconds: float, text: str, title: str = "DD", community: str = "stocks") -> SocialPost:
    return SocialPost(
        source="test",
        symbol=None,
        ts=at(seconds),
        id=f"p{seconds}",
        community=community,
        author="u",
        title=title,
        text=text,
    )


def social(upto: float) -> list[SocialPost | Mentions]:
    return [r for r in first_minute() if isinstance(r, SocialPost | Mentions) and r.ts <= at(upto)]


def test_sentiment_spike_crosses_once_at_five_seconds() -> None:
    """The scripted GME spike (2,400 vs 180 mentions) is reported once, at 5 s, and never again."""
    tracker = RedditTracker(RedditOptions(), DEFAULT_WATCHLIST)
    records = [r for r in first_minute() if isinstance(r, SocialPost | Mentions)]
    reported: list[tuple[float, str, float | None]] = []
    for step in range(0, 61):
        tracker.add(
            r for r in records if at(step - 1) < r.ts <= at(step) or (step == 0 and r.ts <= at(0))
        )
        reported += [(step, m["symbol"], m["velocity"]) for m in tracker.spikes(at(step))]
    assert reported == [(5, "GME", 13.33)]  # 2400 / 180 = 13.333...


def test_gme_metrics_after_the_spike() -> None:
    """At 20 s GME reads ApeWisdom's 3,100 mentions (velocity 3100/180), 30 scored posts."""
    tracker = RedditTracker(RedditOptions(), DEFAULT_WATCHLIST)
    tracker.add(social(20))
    m = tracker.metrics("GME", at(20))
    assert m["mentions"] == 3100
    assert m["velocity"] == round(3100 / 180, 2) == 17.22
    assert m["post_mentions"] == 30
    assert m["sentiment"] is not None and m["sentiment"] > 0.5  # 30 bullish posts
    assert m["call_put_ratio"] == (m["call_mentions"] + 1) / (m["put_mentions"] + 1)
    assert m["simulated"] is True
    insight = tracker.insight("GME", at(20))
    assert insight is not None
    assert insight["stance"] == "bullish" and insight["confidence"] == 1.0
    assert insight["simulated"] is True
    assert insight["headline"] == (
        "Retail is screaming about GME: 17.2x the usual chatter, sentiment +0.59."
    )
    assert [e["source"] for e in insight["evidence"]] == ["wallstreetbets"] * 5
    assert insight["evidence"][0]["time"] == at(19.5).isoformat()  # newest first


def test_hand_checked_post_metrics() -> None:
    """Four posts (three naming calls) give the mean VADER score and ratio (3+1)/(0+1) = 4."""
    texts = [
        "$AMD calls all day, love it",
        "AMD calls printing, great",
        "$AMD call spread, nice",
        "AMD looks awful, terrible quarter",
    ]
    tracker = RedditTracker(RedditOptions(), ("AMD",))
    tracker.add(post(n, text) for n, text in enumerate(texts))
    m = tracker.metrics("AMD", at(10))
    expected = sum(sentiment(t) for t in texts) / 4
    assert m["sentiment"] == round(expected, 3)
    assert (m["call_mentions"], m["put_mentions"], m["call_put_ratio"]) == (3, 0, 4.0)
    assert m["mentions"] == m["post_mentions"] == 4  # no ApeWisdom count: posts in the window


def test_post_velocity_is_window_rate_over_baseline_rate() -> None:
    """Posts only: velocity = (posts/h in the last hour) / (posts/h over the trailing span)."""
    options = RedditOptions(window_minutes=60, baseline_hours=24)
    tracker = RedditTracker(options, ("TSLA",))
    # One post an hour for ten hours, then five in the last hour.
    tracker.add(post(-3600 * h, "TSLA chatter") for h in range(10, 0, -1))
    tracker.add(post(-60 * k, "TSLA again") for k in range(5, 0, -1))
    m = tracker.metrics("TSLA", OPEN)
    # window: 5 posts in 1 h; baseline: 15 posts over 10 h since the first → 5 / 1.5 = 3.33
    assert m["velocity"] == 3.33
    assert m["mentions"] == 5


def test_fresh_start_is_not_a_spike_and_old_posts_expire() -> None:
    """Posts all within the first minutes read velocity 1; posts past the baseline are dropped."""
    tracker = RedditTracker(RedditOptions(baseline_hours=1), ("TSLA",))
    tracker.add(post(k, "TSLA to the moon") for k in range(30))
    assert tracker.metrics("TSLA", at(30))["velocity"] == 1.0
    assert tracker.spikes(at(30)) == []
    later = tracker.metrics("TSLA", at(30) + timedelta(hours=2))
    assert later["post_mentions"] == 0 and later["velocity"] is None


def test_spike_rearms_only_after_falling_below_the_hysteresis() -> None:
    """A spike alerts once; it re-alerts only after velocity fell below 0.8 × the threshold."""
    tracker = RedditTracker(RedditOptions(spike_velocity=3.0), ("GME",))

    def counts(now: float, value: int) -> Mentions:
        return Mentions(
            source="ape", symbol="GME", ts=at(now), mentions=value, mentions_24h_ago=100
        )

    sequence = [(0, 400), (1, 310), (2, 290), (3, 350), (4, 230), (5, 320)]
    fired = []
    for t, value in sequence:
        tracker.add([counts(t, value)])
        fired += [t for _ in tracker.spikes(at(t))]
    assert fired == [0, 5]  # 2.9 and 3.5 stay armed-off; 2.3 < 2.4 re-arms


def test_few_mentions_do_not_spike_and_off_watchlist_is_ignored() -> None:
    """A 10x velocity on 30 mentions is below spike_min_mentions; unknown symbols are dropped."""
    tracker = RedditTracker(RedditOptions(), ("GME",))
    tracker.add([Mentions(source="a", symbol="GME", ts=OPEN, mentions=30, mentions_24h_ago=3)])
    tracker.add([Mentions(source="a", symbol="XYZ", ts=OPEN, mentions=9000, mentions_24h_ago=3)])
    assert tracker.spikes(OPEN) == []
    market = tracker.market_insight(OPEN)
    assert market is not None
    assert [t["symbol"] for t in market["metrics"]["tickers"]] == ["GME"]


def test_market_insight_ranks_tickers_by_mentions() -> None:
    """The market-wide insight lists every heard ticker with the dashboard's five keys."""
    tracker = RedditTracker(RedditOptions(voice="plain"), DEFAULT_WATCHLIST)
    tracker.add(social(60))
    insight = tracker.market_insight(at(60))
    assert insight is not None and insight["symbol"] is None
    tickers = insight["metrics"]["tickers"]
    assert tickers[0]["symbol"] == "GME"
    assert [t["mentions"] for t in tickers] == sorted(
        (t["mentions"] for t in tickers), reverse=True
    )
    assert set(tickers[0]) == {"symbol", "mentions", "velocity", "sentiment", "call_put_ratio"}
    assert insight["headline"] == "GME leads retail mentions (3,100)."


def test_options_are_checked() -> None:
    """A spike velocity at or below 1 is refused with the field named."""
    with pytest.raises(PydanticValidationError, match="spike_velocity"):
        RedditOptions(spike_velocity=1)
    assert spike_severity(6.0, 3.0) == "high" and spike_severity(5.9, 3.0) == "medium"


def _compound(valence: float) -> float:
    """VADER's compound score of a post whose only scored word has ``valence``."""
    return round(valence / math.sqrt(valence**2 + 15), 4)


def test_lexicon_from_the_config_file_reaches_the_scores(tmp_path: Path) -> None:
    """``[agents.reddit] extra_lexicon = { moon = 2.5, Rug = -3.0 }`` changes what posts
    score: 'rug' −3/√24 = −0.6124 instead of 0 (VADER does not know it), 'moon'
    2.5/√21.25 = 0.5423 instead of the finance table's 4/√31 = 0.7184; words are lower-cased
    as VADER looks them up."""
    path = tmp_path / "alphawire.toml"
    path.write_text("[agents.reddit]\nextra_lexicon = { moon = 2.5, Rug = -3.0 }\n")
    config = load_config(path, environ={})
    models = plugin_option_models()
    assert models is not None
    validate_plugin_options(config, models)
    agent = discover("agents")["reddit"].build(config.agents["reddit"].options)
    assert isinstance(agent.options, RedditOptions)
    assert agent.options.extra_lexicon == {"moon": 2.5, "rug": -3.0}
    texts = ["GME rug pull incoming", "GME to the moon"]

    def scores(options: RedditOptions) -> tuple[list[float], float]:
        tracker = RedditTracker(options, ("GME",))
        tracker.add(post(n, text) for n, text in enumerate(texts))
        insight = tracker.insight("GME", at(10))
        assert insight is not None
        return [e["value"] for e in insight["evidence"]][::-1], insight["metrics"]["sentiment"]

    assert scores(RedditOptions()) == ([0.0, round(_compound(4.0), 3)], 0.359)
    assert (_compound(-3.0), _compound(2.5), _compound(4.0)) == (-0.6124, 0.5423, 0.7184)
    assert scores(agent.options) == (
        [round(_compound(-3.0), 3), round(_compound(2.5), 3)],
        round((_compound(-3.0) + _compound(2.5)) / 2, 3),  # −0.035
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "{ moon = 2.5, rug = -5.0 }",
            "[agents.reddit] extra_lexicon.rug = -5.0: expected a valence: a number from -4 "
            "(most negative) to 4 (most positive)",
        ),
        ('{ rug = "-3" }', '[agents.reddit] extra_lexicon.rug = "-3": expected a valence'),
        ("{ rug = true }", "[agents.reddit] extra_lexicon.rug = true: expected a valence"),
        ("{ rug = nan }", "[agents.reddit] extra_lexicon.rug = nan: expected a valence"),
        (
            '{ "rug pull" = -3.0 }',
            '[agents.reddit] extra_lexicon."rug pull": expected a single word',
        ),
        (
            "{ Moon = 2.5, moon = 1.0 }",
            "[agents.reddit] extra_lexicon = { Moon = 2.5, moon = 1.0 }: 'Moon' and 'moon' are "
            "the same word",
        ),
    ],
)
def test_bad_lexicon_entries_are_config_errors_naming_table_and_key(
    tmp_path: Path, entry: str, problem: str
) -> None:
    """A valence outside −4..4 (or not a number) or a key that is not one word is refused
    by ``config check`` and at start-up alike, naming the table, the key and the rule."""
    path = tmp_path / "alphawire.toml"
    path.write_text(f"[agents.reddit]\nextra_lexicon = {entry}\n")
    config = load_config(path, environ={})
    models = plugin_option_models()
    assert models is not None
    with pytest.raises(ConfigError) as checked:
        validate_plugin_options(config, models)
    with pytest.raises(ConfigError) as started:
        Node.from_config(config)
    for error in (checked, started):
        assert f"alphawire.toml: {problem}" in str(error.value)


def test_lexicon_under_another_name_is_an_unknown_key_with_a_suggestion(tmp_path: Path) -> None:
    """``lexicon = {...}`` is not the option's name: the error suggests ``extra_lexicon`` and
    lists each allowed key once (a model's own ``enabled`` field is not listed twice)."""
    path = tmp_path / "alphawire.toml"
    path.write_text("[agents.reddit]\nlexicon = { rug = -3.0 }\n")
    models = plugin_option_models()
    assert models is not None
    with pytest.raises(ConfigError) as info:
        validate_plugin_options(load_config(path, environ={}), models)
    assert (
        "[agents.reddit] lexicon: unknown key; did you mean 'extra_lexicon'? "
        "(allowed: enabled, cadence, intraday_only, alerts, alert_cooldown, window_minutes,"
    ) in str(info.value)
