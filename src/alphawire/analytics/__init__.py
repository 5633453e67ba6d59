"""The numbers behind the agents: pure, typed functions with no I/O.

Each function's docstring states its formula, units and conventions; the README section
"Analytics" has a worked example of each. Nothing here imports the hub, the web layer or a
source: analytics take plain values (numbers, mappings, text) and return values.
"""

from alphawire.analytics.darkpool import (
    PrintClass,
    ShortVolumeRow,
    classify_print,
    dix,
    parse_finra_short_volume,
)
from alphawire.analytics.macro import (
    curve_regime,
    parse_fred_csv,
    vix_regime,
    year_over_year,
)

__all__ = [
    "PrintClass",
    "ShortVolumeRow",
    "classify_print",
    "curve_regime",
    "dix",
    "parse_finra_short_volume",
    "parse_fred_csv",
    "vix_regime",
    "year_over_year",
]
