"""Dealer gamma exposure (GEX) of an option chain: by strike, walls, zero-gamma and regime.

Convention (the one SqueezeMetrics and most public GEX tools use): dealers are long the
calls and short the puts the public holds, so call lines count **+** and put lines **−**.
Per contract line, with ``Γ`` the Black-Scholes-Merton gamma per share
(``alphawire.analytics.options``) and ``OI × multiplier`` the shares it covers:

- ``unit="percent"``: ``Γ · OI · multiplier · S² · 0.01`` — dollars of delta the dealers
  must trade for a 1 % move of the underlying (the unit most GEX charts show);
- ``unit="dollar"``: ``Γ · OI · multiplier · S`` — dollars of delta per $1 move;
- ``unit="shares"``: ``Γ · OI · multiplier`` — shares of delta per $1 move.

The zero-gamma level does not depend on the unit (the units differ by a positive factor of
the spot), so ``zero_gamma`` is the same whichever unit is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import repeat
from operator import eq, itemgetter, methodcaller
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from alphawire.analytics.options import MIN_VOL_SQRT_T, FloatArray, bs_gamma_array
from alphawire.errors import ValidationError

GexUnit = Literal["percent", "dollar", "shares"]
_UNITS: tuple[GexUnit, ...] = ("percent", "dollar", "shares")
_SPOT_POWER = {"percent": 2, "dollar": 1, "shares": 0}  # GEX ∝ Γ · S^power
_UNIT_SCALE = {"percent": 0.01, "dollar": 1.0, "shares": 1.0}

GRID_LOW, GRID_HIGH = 0.8, 1.2  # the zero-gamma search range, × spot
ZERO_GAMMA_XTOL = 1e-6  # absolute tolerance of the root, in price units


@dataclass(frozen=True, slots=True)
class GammaProfile:
    """The gamma exposure of a chain at one spot, in one unit (see the module docstring)."""

    spot: float
    unit: GexUnit
    by_strike: dict[float, float]  # strike → net GEX over every expiry, ascending strikes
    calls: dict[float, float]  # strike → call-side GEX (≥ 0), strikes that list calls
    puts: dict[float, float]  # strike → put-side GEX (≤ 0), strikes that list puts
    total: float
    call_wall: float | None  # strike of the largest call-side GEX; None when all are 0
    put_wall: float | None  # strike of the largest |put-side GEX|; None when all are 0
    zero_gamma: float | None  # re-priced crossing nearest to spot in [0.8, 1.2] × spot
    zero_gamma_cumulative: float | None  # where Σ by_strike (in strike order) crosses 0
    regime: Literal["positive", "negative"]  # "positive" when total > 0


@dataclass(frozen=True, slots=True)
class _Chain:
    strike: FloatArray
    sign: FloatArray  # +1 call, −1 put
    shares: FloatArray  # open_interest × multiplier
    iv: FloatArray
    years: FloatArray


def gamma_exposure(
    contracts: Iterable[Mapping[str, Any]],
    spot: float,
    *,
    unit: GexUnit = "percent",
    rate: float = 0.0,
    dividend_yield: float = 0.0,
    grid_points: int = 81,
) -> GammaProfile:
    """Gamma exposure of a chain at ``spot``: per strike, per side, total, walls and zero-gamma.

    ``contracts``: mappings with ``strike``, ``kind`` (``"call"``/``"put"``),
    ``open_interest`` (contracts), ``iv`` (fraction), ``years`` (to expiry) and optional
    ``multiplier`` (default 100). ``rate`` and ``dividend_yield`` are continuous annual
    fractions. Per-line GEX and sign convention: see the module docstring.

    ``zero_gamma`` re-prices the whole chain at each candidate spot (each contract keeps its
    strike, IV, expiry and OI; only the spot moves): total GEX is evaluated on
    ``grid_points`` evenly spaced spots from 0.8 to 1.2 × spot, the sign change nearest to
    spot is refined with Brent's method (``scipy.optimize.brentq``) to 1e-6, and ``None``
    means no crossing in that range. ``zero_gamma_cumulative`` is the cruder level many
    tools show: where the running sum of ``by_strike`` in strike order changes sign
    (nearest to spot), linearly interpolated between the two strikes; ``None`` when it
    never does. Raises ``ValidationError`` naming the contract and field for bad input.
    """
    if unit not in _UNITS:
        raise ValidationError(f"unit must be one of {list(_UNITS)}, got {unit!r}")
    _finite("spot", spot, positive=True)
    _finite("rate", rate)
    _finite("dividend_yield", dividend_yield)
    if grid_points < 3:
        raise ValidationError(f"grid_points must be ≥ 3, got {grid_points}")
    chain = _chain(contracts)
    scale = spot ** _SPOT_POWER[unit] * _UNIT_SCALE[unit]
    line_gex = (
        bs_gamma_array(spot, chain.strike, chain.years, chain.iv, rate, dividend_yield)
        * chain.shares
        * chain.sign
        * scale
    )
    strikes, where = np.unique(chain.strike, return_inverse=True)
    size = len(strikes)
    is_call = chain.sign > 0
    net = _sum_by(where, line_gex, size)
    call_gex = _sum_by(where, np.where(is_call, line_gex, 0.0), size)
    put_gex = _sum_by(where, np.where(is_call, 0.0, line_gex), size)
    has_call = np.bincount(where, weights=is_call.astype(np.float64), minlength=size) > 0
    has_put = np.bincount(where, weights=(~is_call).astype(np.float64), minlength=size) > 0
    total = float(line_gex.sum())
    return GammaProfile(
        spot=spot,
        unit=unit,
        by_strike=dict(zip(strikes.tolist(), net.tolist(), strict=True)),
        calls=dict(zip(strikes[has_call].tolist(), call_gex[has_call].tolist(), strict=True)),
        puts=dict(zip(strikes[has_put].tolist(), put_gex[has_put].tolist(), strict=True)),
        total=total,
        call_wall=_wall(strikes, call_gex),
        put_wall=_wall(strikes, -put_gex),
        zero_gamma=_zero_gamma(chain, spot, rate, dividend_yield, grid_points),
        zero_gamma_cumulative=_cumulative_crossing(strikes, net, spot),
        regime="positive" if total > 0 else "negative",
    )


def _sum_by(where: npt.NDArray[np.intp], values: FloatArray, size: int) -> FloatArray:
    return np.asarray(np.bincount(where, weights=values, minlength=size), dtype=np.float64)


class ContractLike(Protocol):
    """What ``chain_lines`` reads: the fields of ``alphawire.sources.records.OptionContract``."""

    @property
    def expiry(self) -> date: ...
    @property
    def strike(self) -> float: ...
    @property
    def option_kind(self) -> str: ...
    @property
    def open_interest(self) -> float: ...
    @property
    def iv(self) -> float | None: ...
    @property
    def multiplier(self) -> int: ...


NEW_YORK = ZoneInfo("America/New_York")
EXPIRY_CLOSE = time(16, 0)  # US equity options stop trading at the 4 pm New York close


def chain_lines(contracts: Iterable[ContractLike], as_of: datetime) -> list[dict[str, Any]]:
    """``gamma_exposure`` lines from option-chain contracts (``OptionContract`` records).

    ``years = (expiry at 16:00 New York − as_of) / 365 days`` (ACT/365, to the minute, so a
    0-DTE contract still has gamma until the close and none after it). Contracts without an
    ``iv`` are left out (their gamma is unknown, not 0). ``as_of`` must be timezone-aware.
    """
    if as_of.tzinfo is None:
        raise ValidationError(f"as_of must be timezone-aware, got {as_of!r}", [{"field": "as_of"}])
    lines: list[dict[str, Any]] = []
    for c in contracts:
        if c.iv is None:
            continue
        close = datetime.combine(c.expiry, EXPIRY_CLOSE, NEW_YORK)
        lines.append(
            {
                "strike": c.strike,
                "kind": c.option_kind,
                "open_interest": c.open_interest,
                "iv": c.iv,
                "years": (close - as_of).total_seconds() / _SECONDS_PER_YEAR,
                "multiplier": c.multiplier,
            }
        )
    return lines


_SECONDS_PER_YEAR = 365 * 24 * 3600.0


def _wall(strikes: FloatArray, gex: FloatArray) -> float | None:
    if len(gex) == 0 or not gex.max() > 0:
        return None
    return float(strikes[int(np.argmax(gex))])


def _zero_gamma(
    chain: _Chain, spot: float, rate: float, dividend_yield: float, grid_points: int
) -> float | None:
    # Σ sign·shares·Γ(S) = h(S) / S with h(S) = Σ cᵢ·exp(−d1ᵢ(S)²/2) and
    # d1ᵢ = (ln S + bᵢ)/aᵢ: every unit's total is h times a positive power of S, so h has
    # the same roots, and per grid spot it costs one add, two multiplies and an exp per line.
    live = (chain.years > 0) & (chain.iv > 0) & (chain.shares > 0)
    live[live] = chain.iv[live] * np.sqrt(chain.years[live]) >= MIN_VOL_SQRT_T
    if not live.any():
        return None
    years, iv = chain.years[live], chain.iv[live]
    a = iv * np.sqrt(years)
    inv_a = 1.0 / a
    b = (rate - dividend_yield + 0.5 * iv * iv) * years - np.log(chain.strike[live])
    coef = chain.sign[live] * chain.shares[live] * np.exp(-dividend_yield * years) * inv_a

    def h(s: float) -> float:
        with np.errstate(over="ignore", under="ignore"):
            d = (math.log(s) + b) * inv_a
            return float(np.exp(-0.5 * d * d) @ coef)

    grid = np.linspace(GRID_LOW * spot, GRID_HIGH * spot, grid_points)
    values = np.empty(grid_points)
    rows = max(1, 2_000_000 // len(coef))  # bound the temporary to ~16 MB
    with np.errstate(over="ignore", under="ignore"):
        for start in range(0, grid_points, rows):
            d = np.add.outer(np.log(grid[start : start + rows]), b)
            d *= inv_a
            np.square(d, out=d)
            d *= -0.5
            np.exp(d, out=d)
            values[start : start + rows] = d @ coef
    nonzero = np.flatnonzero(values)
    signs = np.sign(values[nonzero])
    flips = np.flatnonzero(signs[:-1] != signs[1:])
    if len(flips) == 0:
        return None
    # Imported here: scipy.optimize takes ~0.3 s to load, which every importer of
    # alphawire.analytics (the FINRA and FRED sources, the CLI) would otherwise pay.
    from scipy.optimize import brentq

    lows, highs = grid[nonzero[flips]], grid[nonzero[flips + 1]]
    distance = np.maximum(0.0, np.maximum(lows - spot, spot - highs))
    best: float | None = None
    for k in np.argsort(distance, kind="stable"):
        if best is not None and distance[k] > abs(best - spot):
            break
        root = float(brentq(h, lows[k], highs[k], xtol=ZERO_GAMMA_XTOL))
        if best is None or abs(root - spot) < abs(best - spot):
            best = root
    return best


def _cumulative_crossing(strikes: FloatArray, net: FloatArray, spot: float) -> float | None:
    running = np.cumsum(net)
    nonzero = np.flatnonzero(running)
    signs = np.sign(running[nonzero])
    flips = np.flatnonzero(signs[:-1] != signs[1:])
    best: float | None = None
    for f in flips:
        i, j = int(nonzero[f]), int(nonzero[f + 1])
        if j > i + 1:  # the running sum is exactly 0 at the strikes in between
            level = float(strikes[i + 1])
        else:
            ci, cj = float(running[i]), float(running[j])
            level = float(strikes[i] + (strikes[j] - strikes[i]) * ci / (ci - cj))
        if best is None or abs(level - spot) < abs(best - spot):
            best = level
    return best


def _chain(contracts: Iterable[Mapping[str, Any]]) -> _Chain:
    rows = contracts if isinstance(contracts, list | tuple) else list(contracts)
    n = len(rows)
    try:
        # itemgetter/map keep the per-contract work in C: this loop is a third of the
        # whole call on a 20,000-line chain.
        strike, oi, iv, years = (
            np.fromiter(map(itemgetter(name), rows), np.float64, n)
            for name in ("strike", "open_interest", "iv", "years")
        )
        multiplier = np.fromiter(map(methodcaller("get", "multiplier", 100), rows), np.float64, n)
        kinds = list(map(itemgetter("kind"), rows))
    except (KeyError, TypeError, ValueError, AttributeError):
        _explain(rows)
        raise  # _explain raises for what it recognises; anything else keeps its own error
    is_call = np.fromiter(map(eq, kinds, repeat("call")), np.bool_, n)
    is_put = np.fromiter(map(eq, kinds, repeat("put")), np.bool_, n)
    checks = (
        ("kind", is_call | is_put, "'call' or 'put'"),
        ("strike", np.isfinite(strike) & (strike > 0), "a finite number > 0"),
        ("open_interest", np.isfinite(oi) & (oi >= 0), "a finite number ≥ 0"),
        ("iv", np.isfinite(iv), "a finite number (a fraction)"),
        ("years", np.isfinite(years), "a finite number"),
        ("multiplier", np.isfinite(multiplier) & (multiplier > 0), "a finite number > 0"),
    )
    for name, ok, rule in checks:
        if not ok.all():
            i = int(np.argmin(ok))
            value = kinds[i] if name == "kind" else rows[i].get(name)
            raise ValidationError(
                f"contract {i}: {name} must be {rule}, got {value!r}",
                [{"index": i, "field": name}],
            )
    return _Chain(strike, np.where(is_call, 1.0, -1.0), oi * multiplier, iv, years)


def _explain(rows: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...]) -> None:
    for i, c in enumerate(rows):
        if not isinstance(c, Mapping):
            raise ValidationError(f"contract {i} is not a mapping: {c!r}", [{"index": i}])
        for name in ("strike", "kind", "open_interest", "iv", "years"):
            if name not in c:
                raise ValidationError(
                    f"contract {i}: missing {name!r}", [{"index": i, "field": name}]
                )
        for name in ("strike", "open_interest", "iv", "years", "multiplier"):
            if name in c:
                value = c[name]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValidationError(
                        f"contract {i}: {name} must be a number, got {value!r}",
                        [{"index": i, "field": name}],
                    )


def _finite(name: str, value: float, *, positive: bool = False) -> None:
    if not math.isfinite(value) or (positive and value <= 0):
        rule = "a finite number > 0" if positive else "a finite number"
        raise ValidationError(f"{name} must be {rule}, got {value!r}", [{"field": name}])
