"""Every key of alphawire.toml outside the plugin tables: its table, the setting it fills,
its type and bounds, its environment variable and its flag; and how a value is checked.

One list (``KEYS``) drives loading, the error messages, ``alphawire config show`` and the
commented example ``alphawire config init`` writes, so the four cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["str", "int", "float", "bool", "path", "choice", "list"]

HUB = "hub"
ALERTS = "alerts"
TOP_LEVEL = ("watchlist", HUB, ALERTS, "sources", "agents")

DEFAULT_WATCHLIST = ("SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA", "AMD", "GME", "AMC")
# No source by default: `alphawire serve` is a quiet hub until alphawire.toml turns sources on;
# `alphawire demo` runs the simulated market whatever the file says.
DEFAULT_SOURCES: tuple[str, ...] = ()
DEFAULT_AGENTS = (
    "market",
    "signal",
    "darkpool",
    "gamma",
    "squeeze",
    "options",
    "reddit",
    "macro",
    "narrative",
)

PLUGIN_KINDS = ("sources", "agents")
# Option names that hold a secret: refused in the file (name a variable with NAME_env instead).
SECRET_OPTION = re.compile(r"(?:^|_)(api_key|apikey|key|token|secret|password|webhook_url)$")
BROKER_SCHEMES = ("memory", "redis", "rediss", "unix")

# Secrets never live in the file (it is committed, copied, pasted into issues): a secret key
# written there is refused, and the message names the variable to use instead.
SECRETS = {
    (HUB, "publish_token"): "ALPHAWIRE_PUBLISH_TOKEN",
    (HUB, "jwt_secret"): "ALPHAWIRE_JWT_SECRET",
}


@dataclass(frozen=True)
class Key:
    """One key of a core table: where it is written and what it may hold."""

    table: str
    name: str
    field: str  # the attribute of Settings it fills
    kind: Kind
    doc: str
    env: str | None = None
    flag: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False  # the minimum itself is not allowed (> rather than >=)
    choices: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return f"{self.table}.{self.name}"

    def expected(self) -> str:
        """What the key accepts, in words: ``an integer from 0 to 65535``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        noun = {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "path": "a path (a string)",
            "list": "a list of strings",
        }[self.kind]
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{noun} from {low:g} to {high:g}"
        if low is not None:
            return f"{noun} {'>' if self.exclusive else '>='} {low:g}"
        return noun


def _hub(name: str, kind: Kind, doc: str, **kw: Any) -> Key:
    kw.setdefault("env", "ALPHAWIRE_" + name.upper())
    return Key(HUB, name, name, kind, doc, **kw)


def _limit(name: str, kind: Kind, doc: str, **kw: Any) -> Key:
    return _hub(name, kind, doc, minimum=0, exclusive=True, **kw)


def _alert(name: str, kind: Kind, doc: str, **kw: Any) -> Key:
    field = "alert_" + name
    return Key(ALERTS, name, field, kind, doc, env="ALPHAWIRE_" + field.upper(), **kw)


KEYS: tuple[Key, ...] = (
    _hub("host", "str", "Interface to bind; loopback unless told otherwise.", flag="--host"),
    _hub("port", "int", "TCP port (0: any free one).", flag="--port", minimum=0, maximum=65535),
    _hub(
        "data_dir",
        "path",
        "Where the hub keeps its token, outbox and snapshots (relative: to this file); "
        "default $XDG_DATA_HOME/alphawire, else ~/.local/share/alphawire.",
        flag="--data-dir",
    ),
    _hub(
        "log_level",
        "choice",
        "Log level.",
        flag="--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
    ),
    _hub(
        "broker_url",
        "str",
        "memory:// (one process) or redis://host:6379/0 (several processes share the bus); "
        "a URL with a password goes in ALPHAWIRE_BROKER_URL, not here.",
        flag="--broker",
    ),
    _hub(
        "subscribe_auth",
        "choice",
        "Who may subscribe: auto = open on loopback, a token on any other interface.",
        flag="--subscribe-auth",
        choices=("auto", "open", "token"),
    ),
    _hub(
        "jwt_public_key_file",
        "path",
        "PEM public key for RS256/ES256 subscribe tokens (HS256: ALPHAWIRE_JWT_SECRET).",
        flag="--jwt-public-key-file",
    ),
    _hub(
        "allowed_origins",
        "list",
        'Browser origins allowed to open WebSockets besides the hub\'s own; "*" for any.',
        flag="--allowed-origins",
    ),
    _hub(
        "allowed_hosts",
        "list",
        "Host header values served; empty: loopback names when bound to loopback, any otherwise.",
        flag="--allowed-hosts",
    ),
    _hub(
        "ping_interval",
        "float",
        "Seconds between server pings; 0 disables.",
        flag="--ping-interval",
        minimum=0,
    ),
    _hub(
        "ping_timeout",
        "float",
        "Seconds to answer a ping before the socket is closed with 1011; 0 disables.",
        flag="--ping-timeout",
        minimum=0,
    ),
    _limit("auth_timeout", "float", 'Seconds to send {"action":"auth"} when no ?token= came.'),
    _limit("idempotency_window", "float", "Seconds a publish's idempotency_key is remembered."),
    _limit("idempotency_max_keys", "int", "Idempotency keys remembered at most (memory broker)."),
    _limit(
        "max_connections", "int", "Open WebSockets; over it: close 1013.", flag="--max-connections"
    ),
    _limit(
        "max_connections_per_ip",
        "int",
        "Open WebSockets from one address; over it: close 1013.",
        flag="--max-connections-per-ip",
    ),
    _limit("max_channels_per_connection", "int", "Channels one socket may subscribe to."),
    _limit(
        "queue_max_messages",
        "int",
        "Messages queued per connection lane; over it ticks are conflated, anything else "
        "closes the socket with 4008 (slow consumer).",
    ),
    _limit("queue_max_bytes", "int", "Bytes queued per connection lane (same policy)."),
    _limit("max_frame_bytes", "int", "Largest client frame; larger ones close with 1009."),
    _limit("max_request_bytes", "int", "Largest publish request body; larger ones get 413."),
    _limit("max_batch", "int", "Messages per POST /api/v1/publish."),
    _limit(
        "client_frames_per_second",
        "float",
        "Sustained client frames per second; over it (after the burst): close 4029.",
    ),
    _limit("client_frame_burst", "int", "Client frames allowed in a burst."),
    _alert(
        "max_pending",
        "int",
        "Undelivered alerts kept in the outbox; over it new alerts are refused.",
        minimum=0,
        exclusive=True,
    ),
    _alert(
        "sync",
        "choice",
        "NORMAL: a committed alert survives a crash of the process; FULL: also an OS crash "
        "or a power cut, at one fsync per alert.",
        choices=("NORMAL", "FULL"),
    ),
    _alert(
        "retry_base",
        "float",
        "Seconds before the first retry of a failed delivery (full-jitter exponential).",
        minimum=0,
        exclusive=True,
    ),
    _alert(
        "retry_cap", "float", "Longest wait between retries, seconds.", minimum=0, exclusive=True
    ),
    _alert(
        "max_age", "float", "Seconds after which an undelivered alert is dead-lettered.", minimum=0
    ),
)

KEYS_BY_TABLE: dict[str, dict[str, Key]] = {
    table: {key.name: key for key in KEYS if key.table == table} for table in (HUB, ALERTS)
}
KEYS_BY_FIELD = {key.field: key for key in KEYS}

# Tables inside [hub] and [alerts], besides their keys.
SUBTABLES = {HUB: ("history",), ALERTS: ("defaults", "routes")}
