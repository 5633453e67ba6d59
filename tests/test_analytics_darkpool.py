"""FINRA Reg SHO daily files, the dollar-weighted DIX and stock-print classification."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from alphawire.analytics import classify_print, dix, parse_finra_short_volume
from alphawire.errors import ValidationError

# A file in today's layout: fractional volumes, comma-joined markets, a zero-volume row,
# CRLF line ends and the record-count trailer.
CURRENT = (
    "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n"
    "20240102|AAPL|4000.5|100.25|10001.25|B,Q,N\r\n"
    "20240102|ZZZ|0|0|0|Q\r\n"
    "2\r\n"
)
PRE_2011 = "Date|Symbol|ShortVolume|TotalVolume|Market\n20100104|SPY|300|1200|N\n1\n"


def test_current_layout_rows_are_floats_with_ratio() -> None:
    """Fractional volumes parse as floats; short_ratio = 4000.5 / 10001.25 and is None at zero total."""
    aapl, zzz = parse_finra_short_volume(CURRENT)
    assert aapl.date == date(2024, 1, 2) and aapl.symbol == "AAPL"
    assert (aapl.short_volume, aapl.short_exempt_volume, aapl.total_volume) == (
        4000.5,
        100.25,
        10001.25,
    )
    assert aapl.market == "B,Q,N"
    # by hand: 4000.5 / 10001.25 = 0.4 exactly? 10001.25 * 0.4 = 4000.5 — yes.
    assert aapl.short_ratio == pytest.approx(0.4, abs=1e-15)
    assert zzz.total_volume == 0.0 and zzz.short_ratio is None


def test_pre_2011_layout_has_no_exempt_volume() -> None:
    """The layout without ShortExemptVolume parses, with short_exempt_volume None; 300/1200 = 0.25."""
    (row,) = parse_finra_short_volume(PRE_2011)
    assert row.short_exempt_volume is None
    assert row.short_ratio == 0.25


def test_empty_day_file_is_an_empty_list() -> None:
    """A header and a 0 trailer (no short data that day) is a valid, empty file."""
    assert (
        parse_finra_short_volume(
            "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\n0\n"
        )
        == []
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("<html><body>Not Found</body></html>", "not a known header"),
        (CURRENT.replace("2\r\n", ""), "not a record-count trailer"),
        (CURRENT.replace("2\r\n", "3\r\n"), "trailer says 3 records but 2"),
        (CURRENT.replace("|Q\r\n", "\r\n"), "5 fields, expected 6"),
        (CURRENT.replace("20240102|AAPL", "2024-01-02|AAPL"), "is not YYYYMMDD"),
        (CURRENT.replace("4000.5", "4,000"), "ShortVolume '4,000' is not a number"),
        (CURRENT.replace("4000.5", "nan"), "ShortVolume 'nan'"),
        (CURRENT.replace("4000.5", "20000"), "exceeds TotalVolume"),
        ("Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\n", "no trailer"),
    ],
)
def test_bad_files_raise_a_clear_error(text: str, message: str) -> None:
    """Missing or wrong trailers, bad headers, fields and numbers raise ValidationError naming the problem."""
    with pytest.raises(ValidationError, match=message):
        parse_finra_short_volume(text)


_rows = st.lists(
    st.tuples(
        st.from_regex(r"[A-Z]{1,5}", fullmatch=True),
        st.floats(0, 1e9, allow_nan=False),
        st.floats(0, 1e9, allow_nan=False),
    ),
    max_size=8,
)


def _file(rows: list[tuple[str, float, float]]) -> str:
    lines = ["Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"]
    for symbol, a, b in rows:
        short, total = min(a, b), max(a, b)
        lines.append(f"20240102|{symbol}|{short!r}|0|{total!r}|B,Q")
    lines.append(str(len(rows)))
    return "\n".join(lines) + "\n"


@given(_rows)
def test_round_trip_keeps_every_row(rows: list[tuple[str, float, float]]) -> None:
    """Every written row comes back with its exact float volumes and symbol, in order."""
    parsed = parse_finra_short_volume(_file(rows))
    assert [(r.symbol, r.short_volume, r.total_volume) for r in parsed] == [
        (s, min(a, b), max(a, b)) for s, a, b in rows
    ]


@given(_rows, st.data())
def test_truncated_file_is_never_accepted(
    rows: list[tuple[str, float, float]], data: st.DataObject
) -> None:
    """Any cut before the end of the trailer raises, except a cut that itself leaves a well-formed file.

    That exception is a cut whose last line is digits equal to the complete rows above it
    (e.g. the first byte "2" of a date after two rows): it *is* a valid file, so no parser
    can tell; it is excluded by `assume`, computed from the cut text independently.
    """
    text = _file(rows)
    end = len(text.rstrip())
    cut = data.draw(st.integers(0, end - 1))
    prefix = text[:cut]
    lines = prefix.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    assume(not (len(lines) >= 2 and lines[-1].isdigit() and int(lines[-1]) == len(lines) - 2))
    with pytest.raises(ValidationError):
        parse_finra_short_volume(prefix)


def test_dix_is_dollar_weighted() -> None:
    """DIX = Σ short·close / Σ total·close; zero-volume rows skipped (hand-computed below)."""
    rows = [
        {"short_volume": 50.0, "total_volume": 100.0, "close": 10.0},  # r=0.5, w=1,000
        {"short_volume": 30.0, "total_volume": 100.0, "close": 30.0},  # r=0.3, w=3,000
        {"short_volume": 0.0, "total_volume": 0.0, "close": 99.0},  # skipped
    ]
    # (0.5·1000 + 0.3·3000) / (1000 + 3000) = (500 + 900) / 4000 = 0.35
    # (an unweighted mean of the ratios would say 0.4)
    assert dix(rows) == pytest.approx(0.35, rel=1e-15)


def test_dix_none_when_nothing_left() -> None:
    """No rows, or only zero-volume rows, give None rather than 0 or NaN."""
    assert dix([]) is None
    assert dix([{"short_volume": 0, "total_volume": 0, "close": 5.0}]) is None


def test_dix_refuses_the_same_file_read_twice() -> None:
    """A repeated (symbol, date) row raises instead of doubling that symbol's weight."""
    row = {
        "symbol": "AAPL",
        "date": date(2024, 1, 2),
        "short_volume": 1.0,
        "total_volume": 2.0,
        "close": 3.0,
    }
    with pytest.raises(ValidationError, match="repeats AAPL"):
        dix([row, dict(row)])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"short_volume": 1.0, "total_volume": 2.0}, "no 'close'"),
        ({"short_volume": 1.0, "total_volume": 2.0, "close": 0.0}, "close must be > 0"),
        (
            {"short_volume": "1", "total_volume": 2.0, "close": 1.0},
            "short_volume must be a finite number",
        ),
        ({"short_volume": -1.0, "total_volume": 2.0, "close": 1.0}, "short_volume must be ≥ 0"),
    ],
)
def test_dix_bad_rows(row: dict[str, object], message: str) -> None:
    """A missing or invalid field raises ValidationError naming it."""
    with pytest.raises(ValidationError, match=message):
        dix([row])


@pytest.mark.parametrize(
    ("size", "price", "bid", "ask", "side", "block"),
    [
        (100, 10.05, 10.00, 10.05, "buy", False),  # at the ask
        (100, 10.10, 10.00, 10.05, "buy", False),  # above the ask
        (100, 10.00, 10.00, 10.05, "sell", False),  # at the bid
        (100, 10.02, 10.00, 10.05, "mid", False),  # strictly between
        (10_000, 1.00, 0.99, 1.01, "mid", True),  # 10,000 shares: block by size
        (1_000, 200.0, 199.0, 201.0, "mid", True),  # $200,000 notional: block by value
        (999, 200.0, None, 201.0, "unknown", False),  # missing bid
        (100, 10.0, 0.0, 10.05, "unknown", False),  # zero bid
        (100, 10.0, 10.10, 10.05, "unknown", False),  # crossed
        (100, 10.0, 10.0, 10.0, "buy", False),  # locked: the ask test comes first
    ],
)
def test_classify_print(
    size: float, price: float, bid: float | None, ask: float | None, side: str, block: bool
) -> None:
    """Side follows the quote rule; blocks are ≥ 10,000 shares or ≥ $200,000 notional."""
    result = classify_print(size, price, bid, ask)
    assert result.side == side
    assert result.is_block is block
    assert result.notional == pytest.approx(size * price)


def test_classify_print_thresholds_and_bad_input() -> None:
    """Block thresholds are parameters; a negative size or zero price is refused."""
    assert classify_print(500, 10.0, 9.9, 10.1, block_shares=500).is_block
    assert not classify_print(499, 10.0, 9.9, 10.1, block_shares=500, block_notional=1e9).is_block
    with pytest.raises(ValidationError, match="size"):
        classify_print(-1, 10.0, 9.9, 10.1)
    with pytest.raises(ValidationError, match="price"):
        classify_print(1, 0.0, 9.9, 10.1)
