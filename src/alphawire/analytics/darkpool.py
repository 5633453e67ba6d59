"""Off-exchange (dark-pool) volume: FINRA Reg SHO daily files, the DIX, and print classification.

FINRA publishes one pipe-delimited file per trade day and facility with the short-sale
volume reported to its trade reporting facilities. Its layout, since 28 February 2011::

    Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market
    20240102|AAPL|4567890.123|1234.5|9876543.25|B,Q,N
    ...
    <record count>

and before that date the same without ``ShortExemptVolume``. The first line is the header,
the last is a trailer holding the number of records; volumes have been fractional for years
(they are parsed as floats, never as integers), and ``Market`` lists the facilities
comma-joined. ``ShortVolume`` already includes the short-exempt volume.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from alphawire.errors import ValidationError

_HEADER_2011 = ("date", "symbol", "shortvolume", "shortexemptvolume", "totalvolume", "market")
_HEADER_PRE_2011 = ("date", "symbol", "shortvolume", "totalvolume", "market")


@dataclass(frozen=True, slots=True)
class ShortVolumeRow:
    """One security's line of a FINRA daily short-sale volume file.

    Volumes are shares as floats; ``short_exempt_volume`` is ``None`` in files of the
    pre-2011 layout, which did not report it. ``short_ratio`` is
    ``short_volume / total_volume`` (a fraction, 0.55 = 55 %), ``None`` when total is 0.
    """

    date: date
    symbol: str
    short_volume: float
    short_exempt_volume: float | None
    total_volume: float
    market: str
    short_ratio: float | None


def parse_finra_short_volume(text: str) -> list[ShortVolumeRow]:
    """Parse a FINRA Reg SHO daily short-sale volume file into rows, in file order.

    Accepts both layouts (with and without ``ShortExemptVolume``), ``\\n`` or ``\\r\\n`` line
    ends and a UTF-8 byte-order mark. Raises ``ValidationError`` naming the line when the
    header is not one of the two layouts, a row has the wrong number of fields, a date is not
    ``YYYYMMDD``, a volume is not a finite number ≥ 0 or short volume exceeds total volume;
    and when the trailer is missing or its count disagrees with the rows: a truncated
    download never passes as data. (One cut is undetectable by any parser: one that leaves a
    last line of digits equal to the number of complete rows above it, which *is* a
    well-formed file.) A file with only a header and a ``0`` trailer (no short data that
    day) gives an empty list.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValidationError("FINRA short volume file is empty")
    header = tuple(h.strip().replace(" ", "").lower() for h in lines[0].split("|"))
    if header not in (_HEADER_2011, _HEADER_PRE_2011):
        raise ValidationError(
            f"FINRA short volume file: line 1 is not a known header: {lines[0][:120]!r}; "
            "expected 'Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market' "
            "(or the pre-2011 layout without ShortExemptVolume)"
        )
    if len(lines) < 2:
        raise ValidationError("FINRA short volume file has no trailer line: truncated?")
    trailer = lines[-1].strip()
    if not trailer.isdigit():
        raise ValidationError(
            f"FINRA short volume file: the last line ({len(lines)}) is not a record-count "
            f"trailer but {trailer[:120]!r}: the file is truncated"
        )
    body = lines[1:-1]
    if int(trailer) != len(body):
        raise ValidationError(
            f"FINRA short volume file: trailer says {int(trailer)} records but "
            f"{len(body)} rows were read: the file is truncated or corrupt"
        )
    has_exempt = header == _HEADER_2011
    width = len(header)
    rows: list[ShortVolumeRow] = []
    for number, line in enumerate(body, start=2):
        fields = line.split("|")
        if len(fields) != width:
            raise ValidationError(
                f"FINRA short volume file line {number}: {len(fields)} fields, "
                f"expected {width}: {line[:120]!r}"
            )
        rows.append(_row(number, fields, has_exempt))
    return rows


def _row(number: int, fields: list[str], has_exempt: bool) -> ShortVolumeRow:
    if has_exempt:
        day, symbol, short, exempt, total, market = fields
    else:
        day, symbol, short, total, market = fields
        exempt = None
    try:
        trade_date = datetime.strptime(day.strip(), "%Y%m%d").date()
    except ValueError:
        raise ValidationError(
            f"FINRA short volume file line {number}: Date {day!r} is not YYYYMMDD"
        ) from None
    symbol = symbol.strip()
    if not symbol:
        raise ValidationError(f"FINRA short volume file line {number}: empty Symbol")
    short_volume = _volume(number, "ShortVolume", short)
    total_volume = _volume(number, "TotalVolume", total)
    exempt_volume = None if exempt is None else _volume(number, "ShortExemptVolume", exempt)
    if short_volume > total_volume:
        raise ValidationError(
            f"FINRA short volume file line {number}: ShortVolume {short_volume} exceeds "
            f"TotalVolume {total_volume}"
        )
    return ShortVolumeRow(
        date=trade_date,
        symbol=symbol,
        short_volume=short_volume,
        short_exempt_volume=exempt_volume,
        total_volume=total_volume,
        market=market.strip(),
        short_ratio=short_volume / total_volume if total_volume > 0 else None,
    )


def _volume(number: int, name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValidationError(
            f"FINRA short volume file line {number}: {name} {raw!r} is not a number ≥ 0"
        )
    return value


def dix(rows: Iterable[Mapping[str, Any] | object]) -> float | None:
    """The dollar-weighted dark-pool (short volume) index of a set of securities on one day.

    Formula: ``DIX = Σ rᵢ·wᵢ / Σ wᵢ`` with ``rᵢ = short_volumeᵢ / total_volumeᵢ`` and
    ``wᵢ = total_volumeᵢ × closeᵢ`` (the day's dollar volume), which equals
    ``Σ short_volumeᵢ·closeᵢ / Σ total_volumeᵢ·closeᵢ``. A fraction (0.45 = 45 %).

    ``rows`` are mappings (or objects with attributes, e.g. ``ShortVolume`` records) with
    ``short_volume``, ``total_volume`` and ``close`` (> 0). Rows with zero total volume are
    skipped; ``None`` when no row is left. Raises ``ValidationError`` for a missing or
    invalid field, and when a row carrying ``symbol`` and ``date``/``trade_date`` repeats an
    earlier one: the same file read twice must not double its weight.
    """
    numerator = 0.0
    denominator = 0.0
    seen: set[tuple[Any, Any]] = set()
    for index, row in enumerate(rows):
        symbol = _field(row, "symbol", None)
        day = _field(row, "date", None) or _field(row, "trade_date", None)
        if symbol is not None and day is not None:
            if (symbol, day) in seen:
                raise ValidationError(f"dix: row {index} repeats {symbol} on {day}")
            seen.add((symbol, day))
        short = _number(index, "short_volume", _field(row, "short_volume"))
        total = _number(index, "total_volume", _field(row, "total_volume"))
        if total == 0:
            continue
        close = _number(index, "close", _field(row, "close"))
        if close <= 0:
            raise ValidationError(f"dix: row {index} close must be > 0, got {close}")
        weight = total * close
        numerator += short / total * weight
        denominator += weight
    return numerator / denominator if denominator > 0 else None


_MISSING = object()


def _field(row: Mapping[str, Any] | object, name: str, default: Any = _MISSING) -> Any:
    value = row.get(name, default) if isinstance(row, Mapping) else getattr(row, name, default)
    if value is _MISSING:
        raise ValidationError(f"dix: a row has no {name!r}", [{"field": name}])
    return value


def _number(index: int, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"dix: row {index} {name} must be a finite number, got {value!r}")
    if value < 0:
        raise ValidationError(f"dix: row {index} {name} must be ≥ 0, got {value!r}")
    return float(value)


PrintSide = Literal["buy", "sell", "mid", "unknown"]


@dataclass(frozen=True, slots=True)
class PrintClass:
    """What a stock print was: its dollar value, whether it is a block, and its side."""

    notional: float  # size × price, dollars
    is_block: bool
    side: PrintSide


def classify_print(
    size: float,
    price: float,
    bid: float | None,
    ask: float | None,
    *,
    block_shares: float = 10_000,
    block_notional: float = 200_000,
) -> PrintClass:
    """Classify one print against the quote in force when it printed.

    ``notional = size × price`` (dollars, size in shares). ``is_block`` when
    ``size ≥ block_shares`` or ``notional ≥ block_notional``. ``side`` (quote rule, checked
    in this order): ``"unknown"`` when the quote is unusable (bid or ask missing, ≤ 0, or
    crossed: bid > ask); ``"buy"`` at or above the ask; ``"sell"`` at or below the bid;
    ``"mid"`` strictly between. On a locked quote (bid = ask) a print at that price is a
    ``"buy"`` (the ask test comes first). Raises ``ValidationError`` for a size < 0 or a
    price ≤ 0 (or not finite).
    """
    if not math.isfinite(size) or size < 0:
        raise ValidationError(f"classify_print: size must be a finite number ≥ 0, got {size}")
    if not math.isfinite(price) or price <= 0:
        raise ValidationError(f"classify_print: price must be a finite number > 0, got {price}")
    notional = size * price
    is_block = size >= block_shares or notional >= block_notional
    side: PrintSide
    if bid is None or ask is None or not bid > 0 or not ask > 0 or bid > ask:
        side = "unknown"
    elif price >= ask:
        side = "buy"
    elif price <= bid:
        side = "sell"
    else:
        side = "mid"
    return PrintClass(notional=notional, is_block=is_block, side=side)
