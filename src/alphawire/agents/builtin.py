"""The built-in agents by name: ``builtin_agents()["market"]({"cadence": "1m"})``.

Each factory is the agent class; its ``Options`` model (a subclass of ``AgentOptions``) is what
the config loader checks the ``[agents.NAME]`` table against. Classes are imported when the
table is asked for, one line each, so adding an agent is adding a line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# name -> "module:Class" (relative to alphawire.agents)
BUILTIN_AGENTS: dict[str, str] = {
    "market": "market:MarketAgent",
    "signal": "signal:SignalAgent",
    "gamma": "gamma:GammaAgent",
    "darkpool": "darkpool:DarkPoolAgent",
    "squeeze": "squeeze:SqueezeAgent",
    "options": "options:OptionsAgent",
    "reddit": "reddit:RedditAgent",
    "macro": "macro:MacroAgent",
    "narrative": "brain:NarrativeBrain",
}


def builtin_agents() -> dict[str, Callable[..., Any]]:
    """Every built-in agent's factory by name (the class: ``factory(options) -> Agent``)."""
    table: dict[str, Callable[..., Any]] = {}
    for name, target in BUILTIN_AGENTS.items():
        module, _, attribute = target.partition(":")
        table[name] = getattr(importlib.import_module(f"alphawire.agents.{module}"), attribute)
    return table
