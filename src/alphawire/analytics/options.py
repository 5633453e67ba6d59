"""Black-Scholes-Merton greeks with a continuous dividend yield, for one contract or arrays.

Conventions (as vollib and every vendor quote them): greeks are per share of underlying;
``years`` is time to expiry in years (ACT/365: ``days / 365``); ``iv``, ``rate`` and
``dividend_yield`` are annual, continuously compounded fractions (0.20 = 20 %).

With ``σ√T = iv·√years`` and ``d1 = (ln(S/K) + (r − q + σ²/2)·T) / (σ√T)``:

- gamma ``Γ = e^(−qT) · φ(d1) / (S·σ√T)`` (per $1 move, per share; the same for calls and
  puts), where ``φ(x) = e^(−x²/2) / √(2π)``;
- delta ``Δ_call = e^(−qT) · N(d1)``, ``Δ_put = e^(−qT) · (N(d1) − 1)``.

An expired contract (``years ≤ 0``) or one without volatility (``iv ≤ 0``, or
``σ√T < 1e-12``) has gamma 0.0 and the limiting delta of a known outcome (see ``bs_delta``):
never NaN, never an exception.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from alphawire.errors import ValidationError

OptionKind = Literal["call", "put"]
FloatArray = npt.NDArray[np.float64]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2 = math.sqrt(2.0)
# σ√T below this counts as no volatility: such a contract's gamma is 0 away from the strike
# and beyond any float at it, so it is treated like an expired one instead of overflowing.
MIN_VOL_SQRT_T = 1e-12


def bs_gamma(
    spot: float,
    strike: float,
    years: float,
    iv: float,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
) -> float:
    """Black-Scholes-Merton gamma per share: ``e^(−qT)·φ(d1) / (S·σ·√T)``, calls and puts alike.

    Units: change of delta per $1 move of the underlying. ``years ≤ 0`` or ``iv ≤ 0`` gives
    0.0. Raises ``ValidationError`` for a spot or strike that is not a finite number > 0, or
    a NaN/infinite ``years``, ``iv``, ``rate`` or ``dividend_yield``.
    """
    _check(spot, strike, years, iv, rate, dividend_yield)
    vol_sqrt_t = iv * math.sqrt(years) if years > 0 and iv > 0 else 0.0
    if vol_sqrt_t < MIN_VOL_SQRT_T:
        return 0.0
    d1 = (math.log(spot / strike) + (rate - dividend_yield + 0.5 * iv * iv) * years) / vol_sqrt_t
    return math.exp(-dividend_yield * years - 0.5 * d1 * d1) * _INV_SQRT_2PI / (spot * vol_sqrt_t)


def bs_delta(
    spot: float,
    strike: float,
    years: float,
    iv: float,
    kind: OptionKind,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
) -> float:
    """Black-Scholes-Merton delta per share: ``e^(−qT)·N(d1)`` (call), that minus ``e^(−qT)`` (put).

    ``kind`` is ``"call"`` or ``"put"``. Without time or volatility (``years ≤ 0`` or
    ``iv ≤ 0``) the outcome is known: a call's delta is ``e^(−qT)`` when the forward
    ``S·e^((r−q)T)`` is above the strike, 0 below it and half of ``e^(−qT)`` exactly at it
    (put = call − ``e^(−qT)``; ``T`` is taken as 0 when ``years ≤ 0``). Raises
    ``ValidationError`` for an unknown ``kind`` and for the inputs ``bs_gamma`` refuses.
    """
    _check(spot, strike, years, iv, rate, dividend_yield)
    if kind not in ("call", "put"):
        raise ValidationError(f"kind must be 'call' or 'put', got {kind!r}", [{"field": "kind"}])
    t = max(years, 0.0)
    carry = math.exp(-dividend_yield * t)
    vol_sqrt_t = iv * math.sqrt(years) if years > 0 and iv > 0 else 0.0
    if vol_sqrt_t < MIN_VOL_SQRT_T:
        forward = spot * math.exp((rate - dividend_yield) * t)
        n_d1 = 1.0 if forward > strike else 0.0 if forward < strike else 0.5
    else:
        d1 = (math.log(spot / strike) + (rate - dividend_yield + 0.5 * iv * iv) * years) / (
            vol_sqrt_t
        )
        n_d1 = 0.5 * math.erfc(-d1 / _SQRT_2)  # N(d1), accurate in both tails
    return carry * n_d1 if kind == "call" else carry * (n_d1 - 1.0)


def bs_gamma_array(
    spot: float,
    strike: FloatArray,
    years: FloatArray,
    iv: FloatArray,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
) -> FloatArray:
    """``bs_gamma`` for arrays of contracts at one spot (same formula, units and zero rule).

    ``strike``, ``years`` and ``iv`` are float arrays of one shape; inputs are not
    validated here (``gamma_exposure`` validates its chain once).
    """
    live = (years > 0) & (iv > 0)
    t = np.where(live, years, 1.0)
    sigma = np.where(live, iv, 1.0)
    vol_sqrt_t = sigma * np.sqrt(t)
    live &= vol_sqrt_t >= MIN_VOL_SQRT_T
    vol_sqrt_t[~live] = 1.0
    # Far from the money d1² overflows and exp(−d1²/2) is 0: the right answer, not an error.
    with np.errstate(over="ignore", under="ignore"):
        d1 = (np.log(spot / strike) + (rate - dividend_yield + 0.5 * sigma * sigma) * t) / (
            vol_sqrt_t
        )
        gamma = np.exp(-dividend_yield * t - 0.5 * d1 * d1) * _INV_SQRT_2PI / (spot * vol_sqrt_t)
    result: FloatArray = np.where(live, gamma, 0.0)
    return result


def _check(
    spot: float, strike: float, years: float, iv: float, rate: float, dividend_yield: float
) -> None:
    for name, value in (("spot", spot), ("strike", strike)):
        if not math.isfinite(value) or value <= 0:
            raise ValidationError(
                f"{name} must be a finite number > 0, got {value!r}", [{"field": name}]
            )
    for name, value in (
        ("years", years),
        ("iv", iv),
        ("rate", rate),
        ("dividend_yield", dividend_yield),
    ):
        if not math.isfinite(value):
            raise ValidationError(
                f"{name} must be a finite number, got {value!r}", [{"field": name}]
            )
