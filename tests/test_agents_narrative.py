"""Narrative synthesis and the monitor bridge: pure, deterministic, hand-checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alphawire.agents.bridge import ExternalEvidence, agent_for, evidence_of, is_external
from alphawire.agents.narrative import UsedInsight, compose, lean
from alphawire.agents.voice import pick

NOW = datetime(2026, 12, 4, 14, 31, tzinfo=UTC)


def used(
    agent: str, score: float, conf: float, stance: str, symbol: str | None = "SPY", **kw: object
) -> UsedInsight:
    return UsedInsight(
        agent=agent,
        symbol=symbol,
        id=f"id-{agent}",
        stance=stance,
        score=score,
        confidence=conf,
        headline=f"{agent} says {score}",
        **kw,  # type: ignore[arg-type]
    )


def alert(
    alert_type: str, symbol: str | None = "SPY", source: str = "dp_checker"
) -> dict[str, object]:
    return {
        "type": "alert",
        "id": "a1",
        "alert_type": alert_type,
        "source": source,
        "symbol": symbol,
        "content": "1.2M SPY block at 512.40",
        "timestamp": "2026-12-04T14:30:10+00:00",
    }


def test_lean_hand_checked_example() -> None:
    """gamma +0.6 (0.8) and macro −0.4 (0.5): s 0.215, agreement 0.412, confidence 0.268."""
    s, agreement, confidence = lean(
        [used("gamma", 0.6, 0.8, "bullish"), used("macro", -0.4, 0.5, "bearish")]
    )
    assert s == pytest.approx(0.28 / 1.3)
    assert agreement == pytest.approx(0.28 / 0.68)
    assert confidence == pytest.approx(0.65 * 0.28 / 0.68)


def test_compose_names_drivers_conflicts_levels_and_sources() -> None:
    """A bullish-vs-bearish pair yields a conflict, ranked drivers, levels to watch, ids used."""
    insights = [
        used("macro", -0.4, 0.5, "bearish"),
        used("gamma", 0.6, 0.8, "bullish", levels={"call_wall": 520.0, "put_wall": 500.0}),
        used("market", 0.0, 0.9, "neutral"),
    ]
    n = compose("SPY", insights, voice="plain", now=NOW)
    assert n is not None
    # s = (0.48 − 0.2 + 0) / 2.2 = 0.127: the neutral market agent dilutes the lean
    assert n["stance"] == "neutral" and n["confidence"] == round((2.2 / 3) * (0.28 / 0.68), 2)
    assert [d["agent"] for d in n["drivers"]] == ["gamma", "macro", "market"]
    assert n["conflicts"] == [
        {"agents": ["gamma", "macro"], "text": "gamma bullish vs macro bearish"}
    ]
    assert n["watch"] == [
        "SPY call wall 520 (gamma)",
        "SPY put wall 500 (gamma)",
        "which side wins: gamma or macro",
    ]
    assert n["insights_used"] == [
        {"agent": a, "symbol": "SPY", "id": f"id-{a}"} for a in ("gamma", "macro", "market")
    ]
    assert n["headline"] in {
        "SPY: no clear direction across 3 agents.",
        "SPY is balanced across 3 agents.",
    }
    assert n["voice"] == "plain" and "disagree" in n["summary"]
    assert n["written_by"] == "template"


def test_compose_is_deterministic_and_varies_by_subject() -> None:
    """The same facts read the same twice; the savage voice picks among several templates."""
    insights = [used("reddit", 0.7, 1.0, "bullish", symbol=s) for s in ("GME",)]
    first = compose("GME", insights, voice="savage", now=NOW)
    assert first == compose("GME", insights, voice="savage", now=NOW)
    headlines = {
        compose(s, [used("reddit", 0.7, 1.0, "bullish", symbol=s)], now=NOW)["headline"].split(":")[  # type: ignore[index]
            -1
        ]
        for s in ("GME", "AMC", "SPY", "QQQ", "AMD", "NVDA", "TSLA", "IWM")
    }
    assert len(headlines) > 1
    assert pick(["a", "b", "c"], "x", 1) == pick(["a", "b", "c"], "x", 1)


def test_compose_cites_external_alerts_and_says_nothing_when_empty() -> None:
    """A monitor's alert becomes a driver, a thing to watch and a cited alert; no inputs → None."""
    evidence = evidence_of(alert("dark_pool"))
    n = compose("SPY", [], external=[evidence], now=NOW)
    assert n is not None
    assert n["drivers"] == [{"agent": "monitor:dp_checker", "text": "1.2M SPY block at 512.40"}]
    assert n["alerts_cited"] == [
        {"id": "a1", "source": "dp_checker", "text": "1.2M SPY block at 512.40"}
    ]
    assert n["watch"] == ["monitor alert: 1.2M SPY block at 512.40"]
    assert compose("SPY", [], now=NOW) is None


@pytest.mark.parametrize(
    ("alert_type", "agent"),
    [
        ("dark_pool", "darkpool"),
        ("DARK_POOL_PRINT", "darkpool"),
        ("gamma_wall_break", "gamma"),
        ("unusual_options", "options"),
        ("wsb", "reddit"),
        ("yield_curve", "macro"),
        ("squeeze", "squeeze"),
        ("breakout", "market"),
        ("signal", "signal"),
        ("earnings", None),
        ("darkpoolish", None),
    ],
)
def test_bridge_maps_alert_types_to_agents(alert_type: str, agent: str | None) -> None:
    """Each alert_type maps to the agent in the table (exact names, then `name_` prefixes)."""
    assert agent_for(alert_type) == agent


def test_bridge_keeps_external_evidence_per_symbol_and_skips_agents_own() -> None:
    """A dark_pool alert for SPY is darkpool's evidence for SPY; agent-raised alerts are not."""
    store = ExternalEvidence("darkpool", per_symbol=2)
    assert store.offer(alert("dark_pool"))
    assert not store.offer(alert("dark_pool", source="darkpool_agent"))  # our own agent
    assert not store.offer(alert("gamma_flip"))  # someone else's business
    assert not is_external({"type": "agent_insight"})
    for n in range(3):
        store.offer({**alert("block_trade"), "id": f"b{n}"})
    assert [e["alert_id"] for e in store.for_symbol("SPY")] == ["b2", "b1"]  # newest 2
    assert store.for_symbol("QQQ") == []
    item = store.for_symbol("SPY")[0]
    assert item == {
        "source": "dp_checker",
        "value": "block_trade",
        "time": "2026-12-04T14:30:10+00:00",
        "text": "1.2M SPY block at 512.40",
        "alert_id": "b2",
        "external": True,
    }


def test_bridge_store_is_bounded_in_symbols() -> None:
    """Past max_symbols the least recently updated symbol is forgotten."""
    store = ExternalEvidence("darkpool", max_symbols=2)
    for symbol in ("AAA", "BBB", "CCC"):
        store.offer(alert("dark_pool", symbol=symbol))
    assert store.for_symbol("AAA") == [] and len(store.for_symbol("CCC")) == 1


def test_compose_puts_the_signal_in_drivers_and_watch() -> None:
    """A signal for the subject is a driver and its entry/stop/target lead the watch list."""
    signal = {
        "symbol": "GME",
        "action": "buy",
        "entry": 25.1,
        "stop": 23,
        "target": 30,
        "timeframe": "1d",
    }
    n = compose("GME", [used("reddit", 0.7, 1.0, "bullish", symbol="GME")], signal=signal, now=NOW)
    assert n is not None
    assert n["drivers"][-1] == {
        "agent": "signal",
        "text": "buy GME: entry 25.1, stop 23, target 30 (1d)",
    }
    assert n["watch"][0] == "signal buy GME: entry 25.1, stop 23, target 30 (1d)"
    assert compose("GME", [], signal=signal, now=NOW) is not None


def test_context_is_cited_without_moving_the_stance_and_the_lead_agrees() -> None:
    """In the market story per-symbol context is a driver, not a vote; the headline's lead is
    the strongest insight on the stance's side, not the strongest overall."""
    market = [
        used("macro", -0.7, 1.0, "bearish", symbol=None),
        used("market", -0.3, 0.5, "bearish", symbol=None),
        used("reddit", 0.2, 0.2, "bullish", symbol=None),
    ]
    context = [used("reddit", 0.9, 1.0, "bullish", symbol="GME")]
    n = compose(None, market, context=context, voice="plain", now=NOW)
    assert n is not None
    assert n["stance"] == "bearish"  # (−0.7 − 0.15 + 0.04) / 1.7 = −0.476; GME not counted
    assert n["score"] == round((-0.7 - 0.15 + 0.04) / 1.7, 3)
    assert {"agent": "reddit", "text": "reddit says 0.9"} in n["drivers"]
    assert {"agent": "reddit", "symbol": "GME", "id": "id-reddit"} in n["insights_used"]
    assert "macro" in n["headline"] and "2 of 3 agents" in n["headline"]
    bull_led = compose(
        None,
        [
            used("macro", 0.6, 1.0, "bullish", symbol=None),
            used("gamma", -0.9, 0.3, "bearish", symbol=None),
        ],
        now=NOW,
    )
    assert bull_led is not None and bull_led["stance"] == "bullish"
    assert "macro" in bull_led["headline"] and "gamma" not in bull_led["headline"]


def test_zero_confidence_insights_are_left_out() -> None:
    """An insight with confidence 0 is neither used nor cited; alone it makes no story."""
    assert compose("SPY", [used("reddit", 0.0, 0.0, "neutral")], now=NOW) is None


def test_the_brains_stores_are_bounded_and_keep_the_market() -> None:
    """With max_subjects 2, a third symbol's insight evicts the oldest symbol, never the
    market-wide entry."""
    from alphawire.agents.brain import NarrativeBrain

    brain = NarrativeBrain({"max_subjects": 2})

    def insight(symbol: str | None, n: int) -> dict[str, object]:
        return {
            "type": "agent_insight",
            "agent": "gamma",
            "id": f"i{n}",
            "insight": {"symbol": symbol, "score": 0.5, "confidence": 0.5, "headline": "h"},
        }

    for n, symbol in enumerate([None, "AAA", "BBB", "CCC"]):
        brain.on_message(insight(symbol, n))
    assert list(brain.insights) == [None, "BBB", "CCC"]
