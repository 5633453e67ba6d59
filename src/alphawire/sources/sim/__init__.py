"""The simulated market: every kind of record, deterministic from a seed, with scenarios.

``SimulatedSource`` is the ``Source``; ``MarketSimulation`` the clock-free engine behind it;
``scenarios`` documents what the scripted events emit and when. Everything it makes carries
``simulated=True``.
"""

from alphawire.sources.sim.engine import MarketSimulation
from alphawire.sources.sim.profiles import DEFAULT_WATCHLIST
from alphawire.sources.sim.scenarios import SCENARIOS
from alphawire.sources.sim.session import WeekdayCalendar, simulation_start
from alphawire.sources.sim.source import SimulatedSource

__all__ = [
    "DEFAULT_WATCHLIST",
    "SCENARIOS",
    "MarketSimulation",
    "SimulatedSource",
    "WeekdayCalendar",
    "simulation_start",
]
