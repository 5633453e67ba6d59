"""Short-squeeze score: alphawire's own transparent formula, 0 (none) to 100 (every gauge maxed).

Each input is mapped to [0, 1] with ``clip(x) = min(1, max(0, x))`` and weighted:

==================  =================================  ======
input               normalised                          weight
==================  =================================  ======
``si_pct_float``    clip(si_pct_float / 0.40)           0.30
``days_to_cover``   clip(days_to_cover / 10)            0.20
``borrow_fee``      clip(borrow_fee / 0.50)             0.20
``utilization``     clip(utilization)                   0.10
``float_shares``    clip((100e6 − float_shares) / 90e6) 0.10
``rvol``            clip((rvol − 1) / 4)                0.10
==================  =================================  ======

``score = 100 · Σ wᵢ·nᵢ / Σ wᵢ`` over the inputs given: missing inputs drop out and the
weights of the rest are renormalised (so a score from two inputs is not dragged down by four
unknowns); ``None`` when none is given.

Units: ``si_pct_float`` is short interest as a fraction of the float (0.25 = 25 %; may exceed
1), ``days_to_cover`` is short interest / average daily volume in days, ``borrow_fee`` the
annual cost to borrow as a fraction (0.50 = 50 %/year), ``utilization`` the fraction of
lendable shares on loan, ``float_shares`` a share count (10 M or fewer scores full marks,
100 M or more none), ``rvol`` today's volume / its average (1 = normal, 5 or more full marks).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from alphawire.errors import ValidationError

SQUEEZE_WEIGHTS: dict[str, float] = {
    "si_pct_float": 0.30,
    "days_to_cover": 0.20,
    "borrow_fee": 0.20,
    "utilization": 0.10,
    "float_shares": 0.10,
    "rvol": 0.10,
}


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


_NORMALISE: dict[str, Callable[[float], float]] = {
    "si_pct_float": lambda x: _clip(x / 0.40),
    "days_to_cover": lambda x: _clip(x / 10.0),
    "borrow_fee": lambda x: _clip(x / 0.50),
    "utilization": _clip,
    "float_shares": lambda x: _clip((100e6 - x) / 90e6),
    "rvol": lambda x: _clip((x - 1.0) / 4.0),
}


def squeeze_components(
    *,
    si_pct_float: float | None = None,
    days_to_cover: float | None = None,
    borrow_fee: float | None = None,
    utilization: float | None = None,
    float_shares: float | None = None,
    rvol: float | None = None,
) -> dict[str, float]:
    """Each given input's normalised value in [0, 1] (see the module table), by input name.

    What an agent shows to explain a score. Raises ``ValidationError`` for an input that is
    not a finite number ≥ 0.
    """
    given = {
        "si_pct_float": si_pct_float,
        "days_to_cover": days_to_cover,
        "borrow_fee": borrow_fee,
        "utilization": utilization,
        "float_shares": float_shares,
        "rvol": rvol,
    }
    components: dict[str, float] = {}
    for name, value in given.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"{name} must be a number, got {value!r}", [{"field": name}])
        if not math.isfinite(value) or value < 0:
            raise ValidationError(
                f"{name} must be a finite number ≥ 0, got {value!r}", [{"field": name}]
            )
        components[name] = _NORMALISE[name](float(value))
    return components


def squeeze_score(
    *,
    si_pct_float: float | None = None,
    days_to_cover: float | None = None,
    borrow_fee: float | None = None,
    utilization: float | None = None,
    float_shares: float | None = None,
    rvol: float | None = None,
) -> float | None:
    """The squeeze score in [0, 100]: ``100 · Σ w·n / Σ w`` over the given inputs (module docs).

    ``None`` when no input is given. Raises ``ValidationError`` for an input that is not a
    finite number ≥ 0.
    """
    components = squeeze_components(
        si_pct_float=si_pct_float,
        days_to_cover=days_to_cover,
        borrow_fee=borrow_fee,
        utilization=utilization,
        float_shares=float_shares,
        rvol=rvol,
    )
    if not components:
        return None
    weight = sum(SQUEEZE_WEIGHTS[name] for name in components)
    score = 100.0 * sum(SQUEEZE_WEIGHTS[n] * v for n, v in components.items()) / weight
    return min(100.0, score)  # all-maxed inputs can round to 100.00000000000001
