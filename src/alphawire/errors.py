"""The one exception tree of alphawire.

AlphawireError
├── ValidationError          bad input: names the field, the value and the rule
│   ├── ChannelError         a channel, symbol or agent name that breaks the naming rules
│   └── ConfigError          (config) alphawire.toml, a variable or a flag: names file, table, key
├── AuthError                a missing or wrong token
├── BrokerUnavailable        the broker (Redis) cannot be reached: nothing was published
├── OutboxFull               (alerting.outbox) the alert outbox is at its bound
└── ClientError              raised by the Python client
    └── ServerRejected       the hub answered a request with an error status
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


class AlphawireError(Exception):
    """Base class of every error alphawire raises on purpose."""


class ValidationError(AlphawireError, ValueError):
    """Input that does not satisfy a documented rule; ``errors`` lists each problem."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class ChannelError(ValidationError):
    """A channel, symbol or agent name that breaks the naming rules; ``rule`` states the rule."""

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.rule = rule or message


class AuthError(AlphawireError):
    """A request without the token it needs, or with a wrong one."""


class BrokerUnavailable(AlphawireError):
    """The broker cannot be reached; nothing was published. Retry later."""


class ClientError(AlphawireError):
    """An error seen by the Python client."""


class ServerRejected(ClientError):
    """The hub refused a request; ``status`` and ``body`` hold its answer."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"hub answered {status}: {body}")
        self.status = status
        self.body = body


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'port'?"`` when a choice is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def refuse_unknown_keys(
    where: str, keys: Iterable[str], allowed: Sequence[str], what: str = "key"
) -> None:
    """Raise ``ValidationError`` when ``keys`` has one not in ``allowed``: ``WHERE: unknown
    key(s) colr; did you mean 'color'? (allowed: title, color)`` (``what`` names the keys)."""
    unknown = sorted(set(keys) - set(allowed))
    if unknown:
        raise ValidationError(
            f"{where}: unknown {what}(s) {', '.join(unknown)}{did_you_mean(unknown[0], allowed)}"
            f" (allowed: {', '.join(allowed)})"
        )
