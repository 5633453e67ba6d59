"""The numbers behind the agents: pure, typed functions with no I/O.

Each function's docstring states its formula, units and conventions; the README section
"Analytics" has a worked example of each. Nothing here imports the hub, the web layer or a
source: analytics take plain values (numbers, mappings, records, text) and return values.
Bad input raises ``alphawire.errors.ValidationError`` naming the field and the rule.
"""

from alphawire.analytics.darkpool import (
    PrintClass,
    ShortVolumeRow,
    classify_print,
    dix,
    parse_finra_short_volume,
)
from alphawire.analytics.flow import (
    OptionOrder,
    RepeatedHit,
    UnusualOption,
    detect_sweeps,
    flow_sentiment,
    group_orders,
    repeated_hits,
    trade_side,
    unusual_option,
)
from alphawire.analytics.gamma import (
    ContractLike,
    GammaProfile,
    GexUnit,
    chain_lines,
    gamma_exposure,
)
from alphawire.analytics.macro import (
    InflationTrend,
    annualised_change,
    curve_regime,
    curve_spread,
    inflation_trend,
    parse_fred_csv,
    vix_regime,
    year_over_year,
)
from alphawire.analytics.options import OptionKind, bs_delta, bs_gamma, bs_gamma_array
from alphawire.analytics.sentiment import (
    CHAT_WORDS,
    FINANCE_LEXICON,
    SentimentScorer,
    extract_tickers,
    sentiment,
)
from alphawire.analytics.squeeze import SQUEEZE_WEIGHTS, squeeze_components, squeeze_score

__all__ = [
    "CHAT_WORDS",
    "FINANCE_LEXICON",
    "SQUEEZE_WEIGHTS",
    "ContractLike",
    "GammaProfile",
    "GexUnit",
    "InflationTrend",
    "OptionKind",
    "OptionOrder",
    "PrintClass",
    "RepeatedHit",
    "SentimentScorer",
    "ShortVolumeRow",
    "UnusualOption",
    "annualised_change",
    "bs_delta",
    "bs_gamma",
    "bs_gamma_array",
    "chain_lines",
    "classify_print",
    "curve_regime",
    "curve_spread",
    "detect_sweeps",
    "dix",
    "extract_tickers",
    "flow_sentiment",
    "gamma_exposure",
    "group_orders",
    "inflation_trend",
    "parse_finra_short_volume",
    "parse_fred_csv",
    "repeated_hits",
    "sentiment",
    "squeeze_components",
    "squeeze_score",
    "trade_side",
    "unusual_option",
    "vix_regime",
    "year_over_year",
]
