"""alphawire: a self-hosted, real-time market-intelligence hub.

The public API, importable from here (each name is loaded on first use, so ``import
alphawire`` stays cheap for a monitor that only sends alerts):

- running a hub in-process: ``Node`` (publish, subscribe, sources, agents), ``Settings``,
  ``load_config`` / ``Config``, ``create_app`` (the ASGI app around a node);
- producing from another process: ``AlertManager`` (``send_discord``), ``PublisherClient``,
  ``StreamPublisher``; reading: ``Subscription``;
- extending: the ports ``Source`` / ``SourceContext`` and ``Agent`` / ``AgentContext``, the
  records sources emit, ``Clock``;
- values and errors: ``PublishResult``, ``LocalSubscription``, ``AlphawireError`` and its tree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module it lives in
_EXPORTS = {
    "Agent": "alphawire.agents.base",
    "AgentContext": "alphawire.agents.base",
    "AlertManager": "alphawire.alerting.manager",
    "AlphawireError": "alphawire.errors",
    "AuthError": "alphawire.errors",
    "BrokerUnavailable": "alphawire.errors",
    "ChannelError": "alphawire.errors",
    "ClientError": "alphawire.errors",
    "Clock": "alphawire.clock",
    "Config": "alphawire.config",
    "ConfigError": "alphawire.config",
    "LocalSubscription": "alphawire.hub.local",
    "Node": "alphawire.node",
    "PublishResult": "alphawire.results",
    "PublisherClient": "alphawire.client",
    "ServerRejected": "alphawire.errors",
    "Settings": "alphawire.settings",
    "Source": "alphawire.sources.base",
    "SourceContext": "alphawire.sources.base",
    "StreamPublisher": "alphawire.client",
    "Subscription": "alphawire.client",
    "ValidationError": "alphawire.errors",
    "create_app": "alphawire.web.app",
    "load_config": "alphawire.config",
}

__all__ = [
    "Agent",
    "AgentContext",
    "AlertManager",
    "AlphawireError",
    "AuthError",
    "BrokerUnavailable",
    "ChannelError",
    "ClientError",
    "Clock",
    "Config",
    "ConfigError",
    "LocalSubscription",
    "Node",
    "PublishResult",
    "PublisherClient",
    "ServerRejected",
    "Settings",
    "Source",
    "SourceContext",
    "StreamPublisher",
    "Subscription",
    "ValidationError",
    "__version__",
    "create_app",
    "load_config",
]

if TYPE_CHECKING:
    from alphawire.agents.base import Agent, AgentContext
    from alphawire.alerting.manager import AlertManager
    from alphawire.client import PublisherClient, StreamPublisher, Subscription
    from alphawire.clock import Clock
    from alphawire.config import Config, ConfigError, load_config
    from alphawire.errors import (
        AlphawireError,
        AuthError,
        BrokerUnavailable,
        ChannelError,
        ClientError,
        ServerRejected,
        ValidationError,
    )
    from alphawire.hub.local import LocalSubscription
    from alphawire.node import Node
    from alphawire.results import PublishResult
    from alphawire.settings import Settings
    from alphawire.sources.base import Source, SourceContext
    from alphawire.web.app import create_app


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'alphawire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
