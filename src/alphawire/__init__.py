"""alphawire: a self-hosted, real-time market-intelligence hub."""

__version__ = "0.1.0"
