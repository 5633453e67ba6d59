"""The scripted scenarios emit exactly what ``alphawire.sources.sim.scenarios`` documents,
within the first simulated minute."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from alphawire.analytics import year_over_year
from alphawire.calendar import default_calendar
from alphawire.sources.records import (
    MacroObservation,
    Mentions,
    OptionChain,
    OptionTrade,
    Quote,
    Record,
    ShortInterest,
    ShortVolume,
    SocialPost,
    Trade,
    to_json,
)
from alphawire.sources.sim.draws import Draws
from alphawire.sources.sim.macro import CPI_MONTHS, CURVE, CURVE_NOISE, cpi_path, curve_shape
from alphawire.sources.sim.scenarios import FLIP_FRACTION
from sim_fixtures import OPEN, at, first_minute, simulation


def of(records: Sequence[Record], cls: type, symbol: str | None = None) -> list:  # type: ignore[type-arg]
    return [r for r in records if isinstance(r, cls) and (symbol is None or r.symbol == symbol)]


def dealer_gamma(chain: OptionChain) -> float:
    """GEX from a chain's own fields: Σ ±gamma·OI·100·spot²·0.01, calls +, puts −."""
    total = sum(
        (1 if c.option_kind == "call" else -1) * (c.gamma or 0.0) * c.open_interest
        for c in chain.contracts
    )
    return total * 100 * chain.spot**2 * 0.01


def test_sentiment_spike_on_gme() -> None:
    """GME mentions jump to 2,400 (from 180) at 5 s and 3,100 at 20 s; 30 bullish
    r/wallstreetbets posts naming GME arrive every half second from 5 s."""
    records = first_minute()
    mentions = [m for m in of(records, Mentions, "GME") if m.ts > OPEN]
    assert [(m.ts, m.mentions, m.mentions_24h_ago, m.rank) for m in mentions] == [
        (at(5), 2400, 180, 1),
        (at(20), 3100, 180, 1),
    ]
    times = {at(5 + 0.5 * n) for n in range(30)}
    spike = [
        p
        for p in of(records, SocialPost)
        if p.ts in times and p.community == "wallstreetbets" and "GME" in p.text
    ]
    assert {p.ts for p in spike} == times
    assert all(
        any(w in p.text for w in ("moon", "Bought", "squeeze", "win", "bullish")) for p in spike
    )


def test_darkpool_accumulation_on_nvda() -> None:
    """Twelve off-exchange NVDA blocks of 25,000-60,000 shares on FINN/FINY every 2.5 s from
    10 s, each at or above the mid, and NVDA ends the window higher."""
    blocks = [t for t in of(first_minute(), Trade, "NVDA") if t.size >= 25_000]
    assert [t.ts for t in blocks] == [at(10 + 2.5 * n) for n in range(12)]
    for n, t in enumerate(blocks):
        assert t.off_exchange and t.venue == ("FINN" if n % 2 == 0 else "FINY")
        assert t.size <= 60_000
        assert t.bid is not None and t.ask is not None
        assert t.price >= (t.bid + t.ask) / 2
    quotes = of(first_minute(), Quote, "NVDA")
    assert (
        next(q for q in quotes if q.ts >= at(40)).bid
        > [q for q in quotes if q.ts <= at(10)][-1].bid
    )


def test_unusual_options_burst_on_amd() -> None:
    """Six 4-exchange ISO sweeps of one AMD call at the ask, blocks of 1,500 (mid) and 2,000
    (ask), and a chain at 32 s where that call's volume is over five times its OI of 1,200."""
    records = first_minute()
    trades = [t for t in of(records, OptionTrade, "AMD") if t.ts <= at(32)]
    target = next(t.occ for t in trades if t.condition == "ISO" and t.ts >= at(14.9))
    burst = [t for t in trades if t.occ == target]
    sweeps = [t for t in burst if t.condition == "ISO"]
    assert len(sweeps) == 24
    for n in range(6):
        legs = [
            t
            for t in sweeps
            if at(15 + 2.5 * n) - timedelta(milliseconds=50) < t.ts <= at(15 + 2.5 * n)
        ]
        assert len(legs) == 4 and len({t.exchange for t in legs}) == 4
        assert all(t.price == t.ask for t in legs)
        assert 400 <= sum(t.size for t in legs) <= 800
    blocks = [(t.ts, t.size, t.price == t.ask) for t in burst if t.size >= 1500]
    assert blocks == [(at(21), 1500.0, False), (at(26), 2000.0, True)]
    chain = next(c for c in of(records, OptionChain, "AMD") if c.ts == at(32))
    contract = next(c for c in chain.contracts if c.occ == target)
    assert contract.option_kind == "call" and contract.open_interest == 1200
    assert contract.strike >= 1.05 * 151.0 and (contract.expiry - OPEN.date()).days >= 2
    assert contract.volume > 5 * contract.open_interest


def test_squeeze_setup_on_gme() -> None:
    """GME opens crowded (24 % of float short, ~16 days to cover, borrow 42 %, utilization
    96 %, yesterday 62 % short volume, the newest of 21 days), borrow jumps to 85 % / 99 % at 25 s, and the price
    rises about 9 % from 20 to 50 s on heavier prints."""
    records = first_minute()
    first, second = of(records, ShortInterest, "GME")
    assert first.ts == OPEN and first.float_shares == 380e6
    assert first.short_interest / first.float_shares == pytest.approx(0.24, abs=0.01)
    assert first.days_to_cover == pytest.approx(16, abs=1.5)
    assert (first.borrow_fee, first.utilization) == (0.42, 0.96)
    assert (second.ts, second.borrow_fee, second.utilization) == (at(25), 0.85, 0.99)
    assert second.short_interest == first.short_interest  # same settlement, same figure
    rows = of(records, ShortVolume, "GME")
    assert len(rows) == 21  # the previous session's file and the 20 before it
    newest = max(rows, key=lambda r: r.trade_date)
    assert newest is rows[-1] and newest.trade_date == date(2026, 12, 3)
    assert newest.short_volume / newest.total_volume == pytest.approx(0.62, abs=1e-6)
    quotes = of(records, Quote, "GME")
    before = [q for q in quotes if q.ts <= at(20)][-1].last
    after = next(q for q in quotes if q.ts >= at(50)).last
    assert after / before == pytest.approx(1.09, abs=0.03)
    prints = of(records, Trade, "GME")
    during = sum(1 for t in prints if at(20) < t.ts <= at(50))
    assert during > 2 * sum(1 for t in prints if t.ts <= at(20))


def test_gamma_flip_crossing_on_spy() -> None:
    """SPY's dealer gamma from its chain is positive at 20 s (spot above the flip at 99.75 %
    of the open) and negative at 50 s after SPY fell through the flip between 25 and 45 s."""
    records = first_minute()
    chains = {c.ts: c for c in of(records, OptionChain, "SPY")}
    flip = 598.0 * FLIP_FRACTION
    assert chains[at(20)].spot > flip and dealer_gamma(chains[at(20)]) > 0
    assert chains[at(50)].spot < flip and dealer_gamma(chains[at(50)]) < 0
    mids = [((q.bid + q.ask) / 2, q.ts) for q in of(records, Quote, "SPY")]
    crossing = next(ts for mid, ts in mids if mid < flip)
    assert at(25) < crossing < at(45)


def test_gamma_flip_is_where_dealer_gamma_changes_sign() -> None:
    """Re-priced at spots around it, the SPY book's dealer gamma is negative just below the
    flip and positive just above it."""
    sim = simulation()
    sim.advance_to(OPEN)
    book = sim.options["SPY"]
    flip = 598.0 * FLIP_FRACTION
    assert book.gamma_exposure(OPEN, flip) == pytest.approx(0.0, abs=1e6)
    assert book.gamma_exposure(OPEN, flip - 1.0) < 0 < book.gamma_exposure(OPEN, flip + 1.0)


def test_curve_inversion_at_30_seconds() -> None:
    """T10Y2Y history is positive; at 30 s the session's observations put DGS2 (4.30) above
    DGS10 (4.21): T10Y2Y -0.09, VIX 21.4; the rest of the curve as documented, humped at 6
    months and with the 30-year above the 10-year."""
    macro = of(first_minute(), MacroObservation)
    history = [m for m in macro if m.ts == OPEN]
    assert {m.series for m in history} == {
        *("DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30"),
        "T10Y2Y",
        "VIXCLS",
        "FEDFUNDS",
        "CPIAUCSL",
        "UNRATE",
    }
    spreads = [m.value for m in history if m.series == "T10Y2Y"]
    assert len(spreads) == 20 and all(v > 0 for v in spreads)
    by_date: dict[tuple[str, object], float] = {
        (m.series, m.observation_date): m.value for m in history
    }
    for m in history:
        if m.series == "T10Y2Y":
            assert m.value == pytest.approx(
                by_date[("DGS10", m.observation_date)] - by_date[("DGS2", m.observation_date)],
                abs=0.0051,
            )
    today = {m.series: m.value for m in macro if m.ts == at(30)}
    assert today == {
        **{"DGS10": 4.21, "DGS2": 4.30, "T10Y2Y": -0.09, "VIXCLS": 21.4, "FEDFUNDS": 4.33},
        **{"DGS3MO": 4.31, "DGS6MO": 4.34, "DGS1": 4.30, "DGS5": 4.22, "DGS30": 4.41},
    }
    assert all(m.simulated and m.observation_date == OPEN.date() for m in macro if m.ts == at(30))


def test_daily_macro_history_is_on_market_sessions_only() -> None:
    """The 20 days of daily macro history are the 20 NYSE sessions before the open, oldest
    first: Thanksgiving (26 Nov 2026) has no Treasury or VIX value, as on FRED."""
    daily = {
        m.observation_date
        for m in of(first_minute(), MacroObservation)
        if m.ts == OPEN and m.series == "VIXCLS"
    }
    calendar = default_calendar()
    expected = [s.day for s in calendar.sessions(OPEN.date() - timedelta(days=40), OPEN.date())]
    expected = [d for d in expected if d < OPEN.date()][-20:]
    assert sorted(daily) == expected
    assert date(2026, 11, 26) not in daily and date(2026, 11, 25) in daily


def test_curve_history_has_every_tenor_near_its_documented_shape() -> None:
    """Each of the 20 history sessions has all seven tenors; each tenor beyond the 2- and
    10-year is within 5 σ of ``curve_shape`` of that day's published 2Y, 10Y and fed funds
    (3M near fed funds and above the 2-year, 30Y above the 10-year); seed 7's first and last
    days are the numbers the sim's macro docstring gives."""
    history = [m for m in of(first_minute(), MacroObservation) if m.ts == OPEN]
    by_day: dict[date, dict[str, float]] = {}
    for m in history:
        by_day.setdefault(m.observation_date, {})[m.series] = m.value
    curve = ("DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30")
    days = [d for d, v in by_day.items() if "DGS10" in v]
    assert len(days) == 20 and all(set(curve) <= by_day[d].keys() for d in days)
    for day in days:
        v = by_day[day]
        shape = curve_shape(v["DGS2"], v["DGS10"], v["FEDFUNDS"])
        assert shape.keys() == set(CURVE)
        for series in CURVE:
            assert abs(v[series] - shape[series]) <= 5 * CURVE_NOISE, (day, series)
            assert v[series] == round(v[series], 2)
        assert abs(v["DGS3MO"] - 4.33) <= 0.1 and v["DGS3MO"] > v["DGS2"]
        assert v["DGS30"] > v["DGS10"]
    # seed 7, as the sim's macro module docstring states
    assert [by_day[days[0]][s] for s in curve] == [4.31, 4.23, 4.07, 3.97, 4.08, 4.22, 4.41]
    assert [by_day[days[-1]][s] for s in curve] == [4.30, 4.31, 4.25, 4.18, 4.18, 4.24, 4.44]


def test_curve_tenors_change_no_other_record() -> None:
    """The curve tenors draw from their own stream: another stream in its place changes
    those tenors and leaves every other record of the first 10 minutes identical, in order."""
    plain, other = simulation(), simulation()
    other.macro.curve = Draws(8, "macro", "curve")
    until = at(600)
    a, b = plain.advance_to(until), other.advance_to(until)

    def tenor(r: Record) -> bool:
        return isinstance(r, MacroObservation) and r.series in CURVE

    assert [to_json(r) for r in a if not tenor(r)] == [to_json(r) for r in b if not tenor(r)]
    assert len([r for r in a if tenor(r)]) == len([r for r in b if tenor(r)]) == 5 * 21
    history = [(r.series, r.value) for r in a if tenor(r) and r.ts == OPEN]
    assert history != [(r.series, r.value) for r in b if tenor(r) and r.ts == OPEN]


def test_cpi_history_is_36_months_and_yoy_inflation_rises() -> None:
    """At the open: 36 monthly CPIAUCSL observations up to the month before the session (12 of
    UNRATE), from 308.0; seed 7 gives the module docstring's numbers: CPI 335.808, YoY 3.35 %
    against 3.07 % three months earlier."""
    history = [m for m in of(first_minute(), MacroObservation) if m.ts == OPEN]
    cpi = [(m.observation_date, m.value) for m in history if m.series == "CPIAUCSL"]
    unrate = [m.observation_date for m in history if m.series == "UNRATE"]
    assert len(cpi) == CPI_MONTHS == 36 and len(unrate) == 12
    assert cpi[0] == (date(2023, 12, 1), 308.0) and cpi[-1] == (date(2026, 11, 1), 335.808)
    assert unrate[-1] == cpi[-1][0]
    assert all(m.simulated for m in history)
    yoy = [round(v * 100, 2) for _, v in year_over_year(cpi)]
    assert len(yoy) == 24 and (yoy[-4], yoy[-1]) == (3.07, 3.35)


def test_cpi_trend_rises_whatever_the_seed() -> None:
    """The CPI path's YoY rate rises by more than the macro agent's 0.10 pp band over its last
    three months for every one of 500 seeds (the noise never hides the story)."""
    changes = []
    for seed in range(500):
        path = cpi_path(Draws(seed, "macro", "CPIAUCSL"))
        changes.append((path[-1] / path[-13] - path[-4] / path[-16]) * 100)
    assert min(changes) > 0.10


def test_scenarios_skip_symbols_not_watched_and_can_be_off() -> None:
    """Without GME, NVDA, AMD and SPY only the curve inversion plays; with scenarios off,
    nothing scripted happens."""
    sim = simulation(watchlist=("AAPL", "TSLA"))
    records = sim.advance_to(at(60))
    assert {r.symbol for r in records if r.symbol} == {"AAPL", "TSLA"}
    assert any(isinstance(r, MacroObservation) and r.ts == at(30) for r in records)
    from alphawire.calendar import default_calendar
    from alphawire.sources.sim import MarketSimulation

    quiet = MarketSimulation(
        ("NVDA",), seed=7, start=OPEN, calendar=default_calendar(), scenarios_on=False
    )
    assert not any(
        isinstance(r, Trade) and r.size >= 25_000 and r.ts in {at(10 + 2.5 * n) for n in range(12)}
        for r in quiet.advance_to(at(60))
    )


def test_analytics_find_the_same_flip_and_regime_change() -> None:
    """``alphawire.analytics.gamma`` on the emitted SPY chains puts zero-gamma within 0.1 % of
    the scripted flip and reads the regime as positive at 20 s, negative at 50 s."""
    from alphawire.analytics.gamma import chain_lines, gamma_exposure

    chains = {c.ts: c for c in of(first_minute(), OptionChain, "SPY")}
    flip = 598.0 * FLIP_FRACTION
    regimes = []
    for ts in (at(20), at(50)):
        chain = chains[ts]
        profile = gamma_exposure(chain_lines(chain.contracts, ts), chain.spot, rate=0.043)
        assert profile.zero_gamma == pytest.approx(flip, rel=1e-3)
        regimes.append(profile.regime)
    assert regimes == ["positive", "negative"]


def test_the_analytics_see_each_scenario() -> None:
    """The project's analytics read the scenarios as intended: AMD sweeps and an unusual call,
    NVDA dark blocks, bullish GME posts, a crowded GME short, an inverted curve."""
    from alphawire.analytics.darkpool import classify_print
    from alphawire.analytics.flow import detect_sweeps, unusual_option
    from alphawire.analytics.macro import curve_regime
    from alphawire.analytics.sentiment import extract_tickers, sentiment
    from alphawire.analytics.squeeze import squeeze_score

    records = first_minute()
    amd = [t for t in of(records, OptionTrade, "AMD") if t.ts <= at(30)]
    sweeps = [
        s for s in detect_sweeps(amd, window_ms=50) if len(s.exchanges) == 4 and s.side == "ask"
    ]
    assert len(sweeps) >= 6 and len({s.occ for s in sweeps}) == 1
    chain = next(c for c in of(records, OptionChain, "AMD") if c.ts == at(32))
    line = next(c for c in chain.contracts if c.occ == sweeps[0].occ)
    read = unusual_option(
        "call",
        line.strike,
        chain.spot,
        7.0,
        line.volume,
        line.open_interest,
        line.last,
        line.bid,
        line.ask,
    )
    assert read.unusual and read.opening

    blocks = [t for t in of(records, Trade, "NVDA") if t.size >= 25_000]
    for t in blocks:
        cls = classify_print(t.size, t.price, t.bid, t.ask)
        assert cls.is_block and cls.side in ("mid", "buy")

    posts = [
        p
        for p in of(records, SocialPost)
        if p.community == "wallstreetbets" and at(5) <= p.ts <= at(19.5)
    ]
    spike = [p for p in posts if "GME" in extract_tickers(p.text, {"GME", "AMC", "SPY"})]
    assert len(spike) >= 30 and sum(sentiment(p.text) for p in spike) / len(spike) > 0.3

    def score(si: ShortInterest) -> float | None:
        assert si.float_shares is not None
        return squeeze_score(
            si_pct_float=si.short_interest / si.float_shares,
            days_to_cover=si.days_to_cover,
            borrow_fee=si.borrow_fee,
            utilization=si.utilization,
            float_shares=si.float_shares,
        )

    gme, aapl = of(records, ShortInterest, "GME")[0], of(records, ShortInterest, "AAPL")[0]
    assert (score(gme) or 0) > 70 > 30 > (score(aapl) or 100)
    t10y2y = next(
        m for m in of(records, MacroObservation) if m.series == "T10Y2Y" and m.ts == at(30)
    )
    assert curve_regime(t10y2y.value) == "inverted"
