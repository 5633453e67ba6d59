"""Unusual options volume, and sweeps and repeated hits found in option prints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alphawire.analytics import detect_sweeps, group_orders, repeated_hits, unusual_option
from alphawire.errors import ValidationError
from alphawire.sources.records import OptionTrade

T0 = datetime(2024, 6, 3, 14, 30, tzinfo=UTC)
EXPIRY = date(2024, 6, 21)


def test_unusual_call_by_hand() -> None:
    """2,000 calls vs 800 OI at $1.50 on the ask: vol/OI 2.5, $300,000 premium, 5 % OTM, bullish, opening, unusual."""
    u = unusual_option("call", 105, 100, 18, 2_000, 800, 1.50, 1.40, 1.50)
    assert u.vol_oi == 2.5  # 2,000 / 800
    assert u.premium == pytest.approx(300_000.0)  # 2,000 × 1.50 × 100
    assert u.otm_pct == pytest.approx(0.05)  # (105 − 100) / 100
    assert (u.side, u.sentiment, u.opening, u.unusual) == ("ask", "bullish", True, True)
    assert u.dte == 18


def test_put_side_sentiment_and_moneyness() -> None:
    """Puts: OTM is (S − K)/S; ask-side puts are bearish, bid-side puts bullish, mid neutral."""
    ask = unusual_option("put", 95, 100, 5, 600, 400, 0.80, 0.70, 0.80)
    assert ask.otm_pct == pytest.approx(0.05) and ask.sentiment == "bearish"
    assert unusual_option("put", 95, 100, 5, 600, 400, 0.70, 0.70, 0.80).sentiment == "bullish"
    assert unusual_option("put", 95, 100, 5, 600, 400, 0.75, 0.70, 0.80).sentiment == "neutral"
    assert unusual_option("call", 95, 100, 5, 600, 400, 0.70, 0.70, 0.80).sentiment == "bearish"
    # in the money: negative OTM
    assert unusual_option("put", 110, 100, 5, 1, 1, 10.0, 9.9, 10.1).otm_pct == pytest.approx(-0.10)


@pytest.mark.parametrize(
    ("volume", "oi", "last", "unusual"),
    [
        (
            501,
            101,
            0.11,
            True,
        ),  # just past every bound: 501 > 500, 101 > 100, 0.11 > 0.10, vol/OI 4.96
        (500, 200, 1.0, False),  # volume must be > 500
        (1_000, 100, 1.0, False),  # OI must be > 100
        (1_000, 200, 0.10, False),  # last must be > 0.10
        (1_000, 801, 1.0, False),  # vol/OI 1.248 < 1.25
        (1_000, 800, 1.0, True),  # vol/OI exactly 1.25
    ],
)
def test_unusual_thresholds(volume: float, oi: float, last: float, unusual: bool) -> None:
    """unusual needs volume > 500, OI > 100, last > 0.10 and vol/OI ≥ 1.25, each bound tested."""
    assert (
        unusual_option("call", 100, 100, 10, volume, oi, last, last - 0.01, last + 0.01).unusual
        is unusual
    )


def test_zero_open_interest() -> None:
    """With no open interest vol/OI is None (not infinity), the line is opening but not 'unusual'."""
    u = unusual_option("call", 100, 100, 3, 5_000, 0, 2.0, 1.9, 2.1)
    assert u.vol_oi is None and u.opening and not u.unusual


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("straddle", 100, 100, 1, 1, 1, 1, 1, 1), "kind"),
        (("call", 0, 100, 1, 1, 1, 1, 1, 1), "strike must be a finite number > 0"),
        (("call", 100, 100, 1, -5, 1, 1, 1, 1), "volume must be"),
    ],
)
def test_unusual_bad_input(args: tuple[Any, ...], message: str) -> None:
    """Bad kinds and numbers raise ValidationError naming the field."""
    with pytest.raises(ValidationError, match=message):
        unusual_option(*args)


def _trade(
    ms: float,
    exchange: str,
    size: float,
    price: float = 2.00,
    occ: str = "SPY240621C00530000",
    **kw: Any,
) -> OptionTrade:
    fields: dict[str, Any] = {
        "source": "sim",
        "symbol": "SPY",
        "ts": T0 + timedelta(milliseconds=ms),
        "occ": occ,
        "expiry": EXPIRY,
        "strike": 530.0,
        "option_kind": "call",
        "price": price,
        "size": size,
        "bid": 1.95,
        "ask": 2.00,
        "exchange": exchange,
        "simulated": True,
    }
    fields.update(kw)
    return OptionTrade(**fields)


def test_sweep_across_exchanges() -> None:
    """Three ask-side prints on three venues within 40 ms are one bullish sweep: 300 contracts, $60,000."""
    prints = [
        _trade(0, "CBOE", 100),
        _trade(15, "ISE", 120),
        _trade(40, "PHLX", 80),
        _trade(5_000, "CBOE", 10),
    ]
    (sweep,) = detect_sweeps(prints)
    assert sweep.exchanges == ("CBOE", "ISE", "PHLX")
    assert sweep.prints == 3 and sweep.contracts == 300
    assert sweep.premium == pytest.approx(300 * 2.00 * 100)  # Σ price × size × 100
    assert (sweep.side, sweep.sentiment) == ("ask", "bullish")
    assert sweep.start == T0 and sweep.end == T0 + timedelta(milliseconds=40)


def test_one_exchange_or_slow_prints_are_not_sweeps() -> None:
    """Prints on one venue, or further apart than the window, are no sweep; min_premium filters small ones."""
    assert detect_sweeps([_trade(0, "CBOE", 100), _trade(10, "CBOE", 100)]) == []
    assert detect_sweeps([_trade(0, "CBOE", 100), _trade(600, "ISE", 100)]) == []
    assert (
        len(detect_sweeps([_trade(0, "CBOE", 100), _trade(600, "ISE", 100)], window_ms=1_000)) == 1
    )
    assert detect_sweeps([_trade(0, "CBOE", 1), _trade(1, "ISE", 1)], min_premium=1_000) == []


def test_contracts_are_kept_apart_and_mappings_work() -> None:
    """Prints of different contracts never merge; plain mappings with the record's fields are accepted."""
    a = _trade(0, "CBOE", 10)
    b = {
        **{f: getattr(a, f) for f in a.__slots__},
        "occ": "SPY240621P00520000",
        "option_kind": "put",
        "exchange": "ISE",
    }  # type: ignore[attr-defined]
    orders = group_orders([a, b])
    assert [o.occ for o in orders] == ["SPY240621C00530000", "SPY240621P00520000"]


def test_order_side_is_the_majority_of_contracts() -> None:
    """An order's side is the side with most contracts; a tie is mid (neutral)."""
    bid_heavy = [_trade(0, "CBOE", 10, price=2.00), _trade(1, "ISE", 30, price=1.95)]
    assert detect_sweeps(bid_heavy)[0].side == "bid"
    assert detect_sweeps(bid_heavy)[0].sentiment == "bearish"  # selling calls
    tie = [_trade(0, "CBOE", 20, price=2.00), _trade(1, "ISE", 20, price=1.95)]
    assert detect_sweeps(tie)[0].side == "mid"


def test_repeated_hits_count_orders_within_the_window() -> None:
    """Four ask-side orders in 3 minutes are one repeated hit of 4; a sweep counts once; mid orders are ignored."""
    prints = [
        _trade(0, "CBOE", 50),
        _trade(10, "ISE", 50),  # same sweep as the first: one hit
        _trade(60_000, "CBOE", 20),
        _trade(120_000, "ISE", 20),
        _trade(150_000, "CBOE", 20, price=1.97),  # mid: not a hit
        _trade(180_000, "PHLX", 20),
        _trade(900_000, "CBOE", 20),  # 15 min later: outside the 5-minute window
    ]
    (hit,) = repeated_hits(prints)
    assert (hit.hits, hit.side, hit.sentiment) == (4, "ask", "bullish")
    assert hit.contracts == 160  # 100 + 20 + 20 + 20
    assert hit.premium == pytest.approx(160 * 2.00 * 100)
    assert hit.first == T0 and hit.last == T0 + timedelta(minutes=3)
    assert repeated_hits(prints, min_hits=5) == []
    assert repeated_hits(prints, window_seconds=60) == []  # at most 2 orders fall in any minute


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ts": datetime(2024, 6, 3, 14, 30)}, "timezone-aware"),
        ({"option_kind": "C"}, "option_kind must be"),
        ({"expiry": "2024-06-21"}, "expiry must be a date"),
        ({"occ": ""}, "occ must be a non-empty string"),
        ({"size": -1.0}, "print 0: size must be"),
        ({"strike": 0.0}, "print 0: strike must be"),
    ],
)
def test_bad_prints_raise(change: dict[str, Any], message: str) -> None:
    """A bad print raises ValidationError naming its index and field."""
    with pytest.raises(ValidationError, match=message):
        group_orders([dataclasses.replace(_trade(0, "CBOE", 1), **change)])


def test_missing_field_raises() -> None:
    """A mapping without a required field is refused with the field's name."""
    with pytest.raises(ValidationError, match="print 0: missing 'exchange'"):
        group_orders([{"occ": "X", "ts": T0, "price": 1.0, "size": 1.0, "bid": 1.0, "ask": 1.0}])
