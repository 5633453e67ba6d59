"""The embedded simulated market that feeds the demo when no real data source is configured."""

from alphawire.sim.market import SimulatedMarket

__all__ = ["SimulatedMarket"]
