"""The simulated market: the Source contract, determinism, and what its records look like."""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from alphawire.calendar import default_calendar
from alphawire.cli_record import record_simulation
from alphawire.clock import AcceleratedClock, VirtualClock
from alphawire.sources.context import RecordBuffer, StandaloneContext
from alphawire.sources.records import (
    RECORD_KINDS,
    OptionChain,
    OptionTrade,
    Quote,
    Record,
    ShortVolume,
    Trade,
    to_json,
)
from alphawire.sources.sim import SimulatedSource, WeekdayCalendar, simulation_start
from alphawire.sources.sim.session import session_at, usable
from alphawire.sources.sim.tape import LIT_VENUES, TRF_VENUES
from sim_fixtures import DAY_WATCHLIST, OPEN, at, first_day, first_minute, simulation
from source_contract import check_source_contract

pytestmark = pytest.mark.anyio


def of(records: Sequence[Record], cls: type) -> list:  # type: ignore[type-arg]
    return [r for r in records if isinstance(r, cls)]


async def test_simulated_source_keeps_the_source_contract() -> None:
    """The simulator runs on an accelerated clock, emits only what it declares, all simulated,
    reports ok with its item count, and stops cleanly when cancelled."""
    source = SimulatedSource(seed=3, start=OPEN)

    def ctx(sink):  # type: ignore[no-untyped-def]
        return StandaloneContext(sink, clock=AcceleratedClock(OPEN, speed=300))

    run = await check_source_contract(source, ctx, min_records=2000, simulated=True)
    assert not run.returned
    assert {r.kind for r in run.records} <= source.produces
    assert source.status().detail["simulated"] is True


async def test_source_on_a_virtual_clock_emits_what_the_engine_generates() -> None:
    """Driven by a VirtualClock in uneven jumps, the source emits exactly the engine's records
    for the span, in order (scheduling never changes the output)."""
    end = at(45)
    clock = VirtualClock(OPEN)
    buffer = RecordBuffer()
    source = SimulatedSource(seed=7, start=OPEN, end=end)
    ctx = StandaloneContext(buffer, clock=clock, calendar=default_calendar())
    task = asyncio.ensure_future(source.run(ctx))
    for jump in (0.3, 7.1, 0.2, 11.9, 3.0, 30.0):
        await clock.advance(clock.now() + timedelta(seconds=jump))
    await task
    expected = [r for r in first_minute() if r.ts <= end]
    assert list(buffer.records) == expected


def test_output_does_not_depend_on_how_time_is_sliced() -> None:
    """Advancing the engine in one call or in 97 uneven ones gives the same records."""
    whole = list(first_minute())
    sim = simulation()
    sliced: list[Record] = []
    t = 0.0
    while t < 60:
        t = min(60.0, t + 0.37 + (t % 1.3))
        sliced.extend(sim.advance_to(at(t)))
    assert [to_json(r) for r in sliced] == [to_json(r) for r in whole]


async def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    """Recording the same seed, speed and watchlist twice gives byte-identical files, paced or
    as fast as possible; another seed gives another market."""
    kw = {"speed": 30.0, "seconds": 1.0, "watchlist": ("SPY", "GME", "AMD"), "start": OPEN}
    a, b, c, d = (tmp_path / f"{n}.jsonl.gz" for n in "abcd")
    await record_simulation(a, seed=11, fast=True, **kw)  # type: ignore[arg-type]
    await record_simulation(b, seed=11, fast=True, **kw)  # type: ignore[arg-type]
    await record_simulation(c, seed=11, fast=False, **kw)  # type: ignore[arg-type]
    await record_simulation(d, seed=12, fast=True, **kw)  # type: ignore[arg-type]
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert a.read_bytes() != d.read_bytes()


def test_every_kind_in_the_first_minute_all_simulated_in_time_order() -> None:
    """The first minute holds every record kind, each marked simulated, timestamps in order
    and inside the session."""
    records = first_minute()
    assert {r.kind for r in records} == RECORD_KINDS
    assert all(r.simulated is True for r in records)
    times = [r.ts for r in records]
    assert times == sorted(times)
    assert times[0] == OPEN and times[-1] <= at(60)


def test_quotes_are_nbbo_with_round_lot_sizes() -> None:
    """Quotes have bid < ask in cents, integer round-lot sizes and running session totals."""
    quotes = of(first_minute(), Quote)
    assert len(quotes) > 500
    for q in quotes:
        assert 0 < q.bid < q.ask
        assert round(q.bid, 2) == q.bid and round(q.ask, 2) == q.ask
        assert isinstance(q.bid_size, int) and q.bid_size % 100 == 0 and q.bid_size > 0
        assert q.low is not None and q.high is not None and q.low <= q.last <= q.high
    spy = [q for q in quotes if q.symbol == "SPY"]
    assert [q.volume for q in spy] == sorted(q.volume for q in spy)


def test_tape_has_trf_prints_and_blocks() -> None:
    """Prints come from lit MICs and FINRA TRFs (about 45 % of them off-exchange, priced at or
    inside the NBBO) and include blocks of 10,000 shares or more."""
    day, _ = first_day()
    trades = of(day, Trade)
    off = [t for t in trades if t.off_exchange]
    assert 0.40 < len(off) / len(trades) < 0.50
    assert {t.venue for t in off} == set(TRF_VENUES)
    assert {t.venue for t in trades if not t.off_exchange} == set(LIT_VENUES)
    for t in off[:2000]:
        assert t.bid is not None and t.ask is not None
        assert t.bid <= t.price <= t.ask
    blocks = [t for t in trades if t.size >= 10_000]
    assert len(blocks) > 100


def test_intraday_volume_is_u_shaped() -> None:
    """More prints in the first and last half hour than in the half hour around midday."""
    day, _ = first_day()
    trades = of(day, Trade)

    def count(start: datetime) -> int:
        return sum(1 for t in trades if start <= t.ts < start + timedelta(minutes=30))

    opening, midday, closing = count(OPEN), count(at(3 * 3600)), count(at(6 * 3600))
    assert opening > 2.5 * midday and closing > 2.5 * midday


def test_option_chains_have_0dte_strikes_around_spot_skew_and_greeks() -> None:
    """SPY's chain lists a 0DTE expiry and several more, strikes on both sides of spot, OCC
    symbols, put skew (lower strikes richer) and deltas of the right sign."""
    chain = next(r for r in first_minute() if isinstance(r, OptionChain) and r.symbol == "SPY")
    expiries = sorted({c.expiry for c in chain.contracts})
    assert expiries[0] == date(2026, 12, 4) and len(expiries) >= 5
    strikes = sorted({c.strike for c in chain.contracts})
    assert strikes[0] < chain.spot < strikes[-1]
    for c in chain.contracts:
        assert re.fullmatch(r"SPY   \d{6}[CP]\d{8}", c.occ)
        assert c.occ[12] == ("C" if c.option_kind == "call" else "P")
        assert int(c.occ[13:]) == round(c.strike * 1000)
        assert c.delta is not None
        assert c.delta >= 0 if c.option_kind == "call" else c.delta <= 0
        assert c.bid <= c.ask
    monthly = [
        c for c in chain.contracts if c.expiry == date(2026, 12, 18) and c.option_kind == "put"
    ]
    low = min(monthly, key=lambda c: c.strike)
    atm = min(monthly, key=lambda c: abs(c.strike - chain.spot))
    assert low.iv is not None and atm.iv is not None and low.iv > atm.iv


def test_open_interest_grows_with_the_days_volume() -> None:
    """A contract that traded during the session lists more open interest the next session."""
    day, nxt = first_day()
    traded = Counter()  # type: ignore[var-annotated]
    for t in of(day, OptionTrade):
        traded[t.occ] += t.size
    occ, volume = next((o, v) for o, v in traded.most_common() if "261211" in o)
    first = next(r for r in day if isinstance(r, OptionChain) and r.symbol == occ.split()[0])
    second = next(r for r in nxt if isinstance(r, OptionChain) and r.symbol == occ.split()[0])
    before = next(c.open_interest for c in first.contracts if c.occ == occ)
    after = next(c.open_interest for c in second.contracts if c.occ == occ)
    assert before + 0.1 * volume - 1 <= after <= before + 0.5 * volume + 1


def test_sweeps_span_exchanges_within_50_ms() -> None:
    """ISO prints come in sweeps: one contract on several exchanges within 50 ms, at the ask."""
    day, _ = first_day()
    iso = [t for t in of(day, OptionTrade) if t.condition == "ISO"]
    groups: dict[tuple[str, int], list[OptionTrade]] = {}
    for t in iso:
        key = next(
            (
                k
                for k in groups
                if k[0] == t.occ and abs((t.ts - groups[k][0].ts).total_seconds()) < 0.05
            ),
            (t.occ, len(groups)),
        )
        groups.setdefault(key, []).append(t)
    assert len(groups) > 50
    for legs in groups.values():
        assert 3 <= len(legs) <= 5
        assert len({t.exchange for t in legs}) == len(legs)
        assert all(t.price == t.ask for t in legs)


def test_end_of_day_short_volume_posted_after_the_close() -> None:
    """Each symbol's short volume for the session posts two hours after the close, with
    fractional volumes and short volume below total volume."""
    day, _ = first_day()
    rows = [r for r in of(day, ShortVolume) if r.trade_date == date(2026, 12, 4)]
    assert len(rows) == len(DAY_WATCHLIST)
    for r in rows:
        assert r.ts == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
        assert 0 < r.short_exempt_volume < r.short_volume < r.total_volume
        assert r.total_volume != int(r.total_volume)


def test_first_open_sends_21_sessions_of_short_volume_oldest_first() -> None:
    """At the first open each symbol gets the previous session's short volume and the 20
    sessions before it: the NYSE calendar's sessions (Thanksgiving skipped), one file's rows
    after another, oldest first, each near the symbol's usual short ratio (± 3 points)."""
    rows = [r for r in first_minute() if isinstance(r, ShortVolume)]
    nyse = default_calendar()
    sessions = [s.day for s in nyse.sessions(date(2026, 11, 1), date(2026, 12, 3))][-21:]
    assert sessions[0] == date(2026, 11, 4) and date(2026, 11, 26) not in sessions
    watchlist = list(simulation().books)
    assert [(r.trade_date, r.symbol) for r in rows] == [
        (day, symbol) for day in sessions for symbol in watchlist
    ]
    assert all(r.ts == OPEN and r.simulated for r in rows)
    for symbol, book in simulation().books.items():
        ratios = [r.short_volume / r.total_volume for r in rows if r.symbol == symbol]
        if symbol != "GME":  # GME's newest day is the squeeze scenario's 62 %
            assert statistics.fmean(ratios) == pytest.approx(book.profile.short_ratio, abs=0.02)
        assert 0.01 < statistics.stdev(ratios) < 0.06, symbol


def test_next_session_skips_the_weekend_and_keeps_the_close() -> None:
    """After Friday's close the simulation resumes at Monday's open from Friday's last price."""
    day, nxt = first_day()
    friday_close = [q for q in of(day, Quote) if q.symbol == "GME"][-1]
    monday = [q for q in of(nxt, Quote) if q.symbol == "GME"]
    assert monday and monday[0].ts == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    assert monday[0].prev_close == friday_close.last


def test_sessions_follow_the_exchange_calendar_or_the_weekday_fallback() -> None:
    """Christmas is skipped by the NYSE calendar; a calendar that raises falls back to
    09:30-16:00 New York weekdays."""
    nyse = default_calendar()
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    assert session_at(nyse, christmas).open == datetime(2026, 12, 28, 14, 30, tzinfo=UTC)

    class Broken:
        def is_open(self, ts: datetime) -> bool:
            raise RuntimeError("no data")

        next_open = previous_close = is_open

    fallback = usable(Broken(), christmas)  # type: ignore[arg-type]
    assert isinstance(fallback, WeekdayCalendar)
    s = session_at(fallback, christmas)
    assert (s.open, s.close) == (
        datetime(2026, 12, 25, 14, 30, tzinfo=UTC),
        datetime(2026, 12, 25, 21, 0, tzinfo=UTC),
    )
    saturday_night = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert simulation_start(nyse, saturday_night) == OPEN


def test_unknown_symbols_get_a_seeded_profile() -> None:
    """A watchlist symbol with no built-in profile is simulated too, the same for one seed."""
    a = simulation(watchlist=("ZZZZ",)).advance_to(at(10))
    b = simulation(watchlist=("ZZZZ",)).advance_to(at(10))
    assert a == b and any(isinstance(r, Quote) and r.symbol == "ZZZZ" for r in a)


def test_bad_input_is_named() -> None:
    """An empty watchlist, a naive start and a non-record emit are refused with the reason."""
    with pytest.raises(ValueError, match="watchlist is empty"):
        simulation(watchlist=())
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedSource(start=datetime(2026, 12, 4, 14, 30))
    with pytest.raises(ValueError, match="watchlist"):
        StandaloneContext(watchlist=["SPY", "no way"])
    ctx = StandaloneContext(RecordBuffer(), produces=frozenset({"quote"}))
    with pytest.raises(TypeError, match="item 0 is a dict"):
        asyncio.run(ctx.emit([{"kind": "quote"}]))  # type: ignore[list-item]
    trade = of(first_minute(), Trade)[0]
    with pytest.raises(ValueError, match="'trade' record, not one of"):
        asyncio.run(ctx.emit([trade]))


def test_black_scholes_hand_example() -> None:
    """S=K=100, one year, 20 % vol, 4.3 % rate: call 10.08, put 5.87, delta 0.624, gamma 0.0190."""
    from alphawire.sources.sim.options import black_scholes

    call, delta, gamma = black_scholes(100.0, 100.0, 1.0, 0.20, "call")
    put, put_delta, _ = black_scholes(100.0, 100.0, 1.0, 0.20, "put")
    assert call == pytest.approx(10.08, abs=0.01)
    assert put == pytest.approx(5.87, abs=0.01)
    assert call - put == pytest.approx(100 - 100 * math.exp(-0.043), abs=1e-9)
    assert delta == pytest.approx(0.6236, abs=1e-4) and put_delta == pytest.approx(delta - 1)
    assert gamma == pytest.approx(0.01898, abs=1e-5)


def test_recorded_json_is_plain_and_sorted() -> None:
    """Records serialise to sorted-key JSON with the simulated flag set."""
    q = of(first_minute(), Quote)[0]
    line = orjson.dumps(to_json(q), option=orjson.OPT_SORT_KEYS)
    assert line.startswith(b'{"ask":') and b'"simulated":true' in line


def test_hand_checkable_conventions() -> None:
    """The U-shape is 2 at the open and close, ½ at midday, mean 1; FINRA's settlement date
    published by 4 Dec 2026 is Fri 13 Nov (the 15th was a Sunday, 30 Nov not yet out);
    days to cover is short interest over average daily volume."""
    from alphawire.sources.sim.eod import settlement_date, short_interest
    from alphawire.sources.sim.market import intraday_u
    from alphawire.sources.sim.profiles import profile_for

    assert (intraday_u(0.0), intraday_u(0.5), intraday_u(1.0)) == (2.0, 0.5, 2.0)
    assert sum(intraday_u((i + 0.5) / 1000) for i in range(1000)) / 1000 == pytest.approx(
        1.0, abs=1e-5
    )
    assert settlement_date(date(2026, 12, 4)) == date(2026, 11, 13)
    assert settlement_date(date(2026, 12, 11)) == date(2026, 11, 30)
    gme = profile_for("GME", 7)
    si = short_interest("GME", "sim", OPEN, date(2026, 12, 4), gme, 0.42, 0.96, 7)
    assert si.avg_daily_volume is not None
    assert si.days_to_cover == round(si.short_interest / si.avg_daily_volume, 2)
    # One settlement period, one figure, whatever the borrow market does meanwhile.
    later = short_interest("GME", "sim", OPEN, date(2026, 12, 10), gme, 0.85, 0.99, 7)
    assert later.short_interest == si.short_interest


def test_borrow_moves_on_from_where_it_was_at_the_close() -> None:
    """At the close GME's borrow fee steps from the squeeze's 85 %, not back to its usual 42 %."""
    from alphawire.sources.records import ShortInterest

    day, _ = first_day()
    close = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    (gme,) = [r for r in of(day, ShortInterest) if r.symbol == "GME" and r.ts == close]
    assert gme.borrow_fee is not None and 0.85 * 0.8 < gme.borrow_fee < 0.85 * 1.25
