"""The built-in vendor sources by name, each with its ``Options`` model.

``builtin_sources()["cboe"]({"symbols": ["SPY"], "interval": "60s"})`` validates the table
of ``[sources.cboe]`` with ``CboeOptions`` (unknown keys and bad values raise pydantic's
``ValidationError`` naming the key) and returns a ready ``Source``; nothing connects before
its ``run``. The options models are also what the config loader checks tables against
(``source_options()``). Sources needing an SDK say which extra installs it; without it they
still build, and their status says ``unavailable`` with the install command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from alphawire.sources.alpaca import AlpacaOptions, AlpacaSource
from alphawire.sources.apewisdom import ApeWisdomOptions, ApeWisdomSource
from alphawire.sources.base import Source
from alphawire.sources.cboe import CboeOptions, CboeSource
from alphawire.sources.finra import (
    ShortInterestOptions,
    ShortInterestSource,
    ShortVolumeOptions,
    ShortVolumeSource,
)
from alphawire.sources.fred import FredOptions, FredSource
from alphawire.sources.options import SourceOptions
from alphawire.sources.reddit import RedditOptions, RedditSource
from alphawire.sources.yahoo import YahooOptions, YahooSource


@dataclass(frozen=True, slots=True)
class SourceFactory:
    """Builds one kind of source from its ``[sources.NAME]`` table."""

    name: str
    options: type[SourceOptions]
    build: Callable[[Any], Source]
    summary: str
    extra: str | None = None  # the pip extra with the vendor SDK, if one is needed
    key: str | None = None  # what the user must provide, if anything

    def __call__(self, options: Mapping[str, Any] | None = None) -> Source:
        """A new source from the table's keys (validated by ``options``)."""
        return self.build(self.options.model_validate(dict(options or {})))


class SimOptions(SourceOptions):
    """``[sources.sim]``: the simulated market, what ``alphawire demo`` runs (everything it
    makes says ``simulated: true``)."""

    seed: int = Field(default=7, ge=0, description="same seed, same market")
    speed: float = Field(
        default=1.0,
        gt=0,
        le=10_000,
        description="simulated seconds per real second (390 plays a trading day in a minute)",
    )
    scenarios: bool = Field(default=True, description="play the scripted events")
    interval: float = Field(
        default=0.25,
        gt=0,
        description="(the former random-walk demo's tick interval; kept so old files load)",
    )


def _sim(options: SimOptions) -> Source:
    from alphawire.sources.sim import SimulatedSource

    # Its pace is the node's clock's: ``Node.from_config`` runs an AcceleratedClock at
    # ``speed`` from a session's open when the sim is on.
    return SimulatedSource(seed=options.seed, scenarios=options.scenarios)


_FACTORIES = (
    SourceFactory(
        "sim",
        SimOptions,
        _sim,
        "The simulated market: quotes, prints, chains, option flow, EOD files, posts, macro",
    ),
    SourceFactory(
        "cboe",
        CboeOptions,
        CboeSource,
        "CBOE delayed option chains with greeks and open interest (~15 min delayed)",
    ),
    SourceFactory(
        "finra_short_volume",
        ShortVolumeOptions,
        ShortVolumeSource,
        "FINRA Reg SHO daily short-sale volume (CNMS file, after 18:00 New York)",
    ),
    SourceFactory(
        "finra_short_interest",
        ShortInterestOptions,
        ShortInterestSource,
        "FINRA consolidated short interest (twice a month)",
    ),
    SourceFactory("fred", FredOptions, FredSource, "FRED macro series (graph CSV)"),
    SourceFactory("apewisdom", ApeWisdomOptions, ApeWisdomSource, "ApeWisdom ticker mentions"),
    SourceFactory(
        "yahoo",
        YahooOptions,
        YahooSource,
        "Yahoo Finance quotes and option chains via yfinance (~15 min delayed)",
        extra="yahoo",
    ),
    SourceFactory(
        "alpaca",
        AlpacaOptions,
        AlpacaSource,
        "Alpaca real-time IEX quotes and trades",
        extra="alpaca",
        key="APCA_API_KEY_ID and APCA_API_SECRET_KEY (free account)",
    ),
    SourceFactory(
        "reddit",
        RedditOptions,
        RedditSource,
        "Reddit new posts via PRAW",
        extra="reddit",
        key="REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET (your own 'script' app)",
    ),
)


def builtin_sources() -> dict[str, SourceFactory]:
    """Every built-in vendor source's factory by name, in a stable order."""
    return {factory.name: factory for factory in _FACTORIES}


def source_options() -> dict[str, type[SourceOptions]]:
    """Each built-in source's Options model by name (what config validation checks against)."""
    return {factory.name: factory.options for factory in _FACTORIES}


__all__ = ["SimOptions", "SourceFactory", "builtin_sources", "source_options"]
