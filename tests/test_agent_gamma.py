"""GammaAgent's analysis on the simulator's scripted gamma flip (SPY) and on hand-built chains."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from alphawire.agents.gamma import GammaBook, GammaOptions, read_chain
from alphawire.agents.triggers import AlertCall, Crossing
from alphawire.sources.records import OptionChain, OptionContract, Quote
from alphawire.sources.sim.scenarios import FLIP_FRACTION
from sim_fixtures import OPEN, at, first_minute


def run_minute(watchlist: tuple[str, ...]) -> tuple[GammaBook, list[AlertCall]]:
    book = GammaBook(GammaOptions(), watchlist)
    calls: list[AlertCall] = []
    for record in first_minute():
        calls += book.observe(record)
        for chain in book.take_chains():
            calls += book.apply(chain, read_chain(chain, book.options.rate))
    return book, calls


def run_minute_lagging(watchlist: tuple[str, ...]) -> list[AlertCall]:
    """The same minute read as a slow agent would: every chain read only at the end."""
    book = GammaBook(GammaOptions(), watchlist)
    calls: list[AlertCall] = []
    for record in first_minute():
        calls += book.observe(record)
    while chains := book.take_chains():
        for chain in chains:
            calls += book.apply(chain, read_chain(chain, book.options.rate))
    return calls


def test_scripted_flip_gives_one_flip_then_one_put_wall_break() -> None:
    """SPY falls through zero gamma (≈ 99.75 % of the open) between 25 and 45 s: exactly one
    high-severity gamma_flip (down) then one put-wall break at 595, nothing else."""
    _, calls = run_minute(("SPY",))
    assert [(c.alert_type, c.severity, c.dedup_key) for c in calls] == [
        ("gamma_flip", "high", "gamma_flip:SPY"),
        ("gamma_wall_break", "medium", "gamma_wall_break:put:SPY"),
    ]
    flip, wall = calls
    assert at(25) < flip.time < at(45) and flip.time < wall.time
    assert "below zero gamma 596.48" in flip.title
    assert dict(wall.fields)["Strike"] == "595.00"
    assert flip.simulated


def test_a_slow_chain_read_gives_the_same_alerts() -> None:
    """Quotes wait behind an unread chain, so reading every chain late (a slow worker, a
    replay as fast as possible) gives the same alerts at the same record times."""
    _, live = run_minute(("SPY",))
    late = run_minute_lagging(("SPY",))
    assert [(c.alert_type, c.time, c.title) for c in late] == [
        (c.alert_type, c.time, c.title) for c in live
    ]


def test_spy_insight_after_the_flip_matches_the_dashboard_contract() -> None:
    """At 60 s SPY's insight is bearish, negative regime, with zero gamma within 0.1 % of the
    scripted flip, the 600/595 walls, and one by_strike row per listed strike."""
    book, _ = run_minute(("SPY",))
    insight = book.insight("SPY", at(60))
    assert insight is not None
    m = insight["metrics"]
    assert m["regime"] == "negative" and m["total_gex"] < 0
    assert m["zero_gamma"] == pytest.approx(598.0 * FLIP_FRACTION, rel=1e-3)
    assert (m["call_wall"], m["put_wall"]) == (600.0, 595.0)
    assert m["spot"] < m["put_wall"]
    assert len(m["by_strike"]) == len({row["strike"] for row in m["by_strike"]}) > 10
    assert insight["stance"] == "bearish" and -1 <= insight["score"] < -0.2
    assert insight["levels"] == {
        "call_wall": 600.0,
        "put_wall": 595.0,
        "zero_gamma": m["zero_gamma"],
    }
    assert insight["simulated"] is True
    assert f"{m['zero_gamma']:.2f}" in insight["headline"]
    texts = [e["text"] for e in insight["evidence"]]
    assert any("gamma flip" in t for t in texts) and any("put wall" in t for t in texts)


def test_symbols_off_the_watchlist_are_ignored() -> None:
    """A book for SPY keeps no state for the other symbols' chains and quotes."""
    book, _ = run_minute(("SPY",))
    assert book.symbols() == ["SPY"]
    assert book.insight("QQQ", at(60)) is None


def contract(strike: float, kind: str, oi: float) -> OptionContract:
    return OptionContract(
        occ=f"X{strike}{kind[0]}",
        expiry=date(2026, 12, 18),
        strike=strike,
        option_kind=kind,  # type: ignore[arg-type]
        bid=1.0,
        ask=1.1,
        last=1.05,
        volume=0,
        open_interest=oi,
        iv=0.2,
    )


def quote(mid: float, seconds: float) -> Quote:
    return Quote("t", "X", at(seconds), mid - 0.01, mid + 0.01, 1, 1, mid, 1, 0)


def test_noise_at_the_flip_is_not_a_crossing() -> None:
    """A spot wobbling within the band around zero gamma never alerts; a move through it
    does once, and back up once (up is medium severity)."""
    chain = OptionChain(
        "t", "X", OPEN, 100.0, (contract(105, "call", 1000), contract(95, "put", 1000))
    )
    book = GammaBook(GammaOptions(wall_band=0.09), ("X",))
    book.observe(chain)
    (taken,) = book.take_chains()
    profile = read_chain(taken, 0.0)
    assert profile.zero_gamma is not None
    zg = profile.zero_gamma
    assert book.apply(taken, profile) == []
    wobble = [zg + d for d in (0.01, -0.01, 0.02, -0.02)]
    assert [book.observe(quote(x, i + 1)) for i, x in enumerate(wobble)] == [[], [], [], []]
    (down,) = book.observe(quote(zg * 0.99, 10))
    (up,) = book.observe(quote(zg * 1.01, 20))
    assert (down.severity, dict(down.fields)["Direction"]) == ("high", "down")
    assert (up.severity, dict(up.fields)["Direction"]) == ("medium", "up")


def test_crossing_needs_the_band_and_starts_without_a_side() -> None:
    """Crossing: the first update only learns the side; 100 → 99.95 is within a 0.1 % band of
    100, 99.8 is through it."""
    c = Crossing(0.001)
    assert c.update(100.5, 100) is None and c.side == "above"
    assert c.update(99.95, 100) is None
    assert c.update(99.8, 100) == "down" and c.side == "below"


def test_a_moved_wall_is_relearned_without_an_alert() -> None:
    """When a new chain moves the put wall above the spot, the spot's new side of it is
    learned, not reported as a break."""
    book = GammaBook(GammaOptions(), ("X",))
    first = OptionChain(
        "t", "X", OPEN, 100.0, (contract(110, "call", 10), contract(90, "put", 5000))
    )
    assert book.apply(first, read_chain(first, 0.0)) == []
    later = OPEN + timedelta(minutes=5)
    moved = OptionChain(
        "t", "X", later, 100.0, (contract(110, "call", 10), contract(102, "put", 5000))
    )
    calls = book.apply(moved, read_chain(moved, 0.0))
    assert [c.alert_type for c in calls if c.alert_type == "gamma_wall_break"] == []


def test_score_is_the_distance_from_zero_gamma_hand_checked() -> None:
    """Spot 0.5 % above zero gamma: distance_to_zero_gamma_pct 0.5, score 0.5 (±1 at 1 %),
    stance bullish; 2 % below: score clipped to −1, bearish."""
    chain = OptionChain(
        "t", "X", OPEN, 100.0, (contract(105, "call", 1000), contract(95, "put", 1000))
    )
    book = GammaBook(GammaOptions(), ("X",))
    profile = read_chain(chain, 0.0)
    book.apply(chain, profile)
    assert profile.zero_gamma is not None
    zg = round(profile.zero_gamma, 2)
    book.observe(quote(zg * 1.005, 1))
    insight = book.insight("X", at(1))
    assert insight is not None
    assert insight["metrics"]["distance_to_zero_gamma_pct"] == 0.5
    assert (insight["score"], insight["stance"]) == (0.5, "bullish")
    book.observe(quote(zg * 0.98, 2))
    insight = book.insight("X", at(2))
    assert insight is not None
    assert (insight["score"], insight["stance"]) == (-1.0, "bearish")
