"""Brokers: assign each channel's ``seq`` and carry messages to every hub process."""

from alphawire.brokers.base import Broker, DeliverFn, broker_from_url
from alphawire.brokers.memory import MemoryBroker

__all__ = ["Broker", "DeliverFn", "MemoryBroker", "broker_from_url"]
