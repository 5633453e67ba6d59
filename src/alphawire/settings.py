"""The hub's settings: one dataclass, filled by ``alphawire.config`` from alphawire.toml,
``ALPHAWIRE_*`` variables and CLI options."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from alphawire.alerting.routes import RouteTable, route_from_dict
from alphawire.brokers.base import Limit, Retention
from alphawire.errors import ValidationError
from alphawire.hub.connection import DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES
from alphawire.paths import TOKEN_FILE

# Re-exported: callers have always found these here.
from alphawire.paths import default_data_dir as default_data_dir
from alphawire.paths import read_token_file as read_token_file

logger = logging.getLogger("alphawire")


@dataclass
class Settings:
    """Everything ``create_app`` needs; defaults are safe (loopback, token required)."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=default_data_dir)
    log_level: str = "info"
    publish_token: str | None = field(default=None, repr=False)
    broker_url: str = "memory://"
    # Per-connection lane bounds (each of the two lanes): over them a connection's ticks are
    # conflated and anything else closes it with 4008 (slow consumer).
    queue_max_messages: int = DEFAULT_MAX_MESSAGES
    queue_max_bytes: int = DEFAULT_MAX_BYTES
    max_frame_bytes: int = 64 * 1024  # client frames; larger ones close the socket with 1009
    max_request_bytes: int = 4 * 1024 * 1024  # publish request bodies; larger ones get 413
    max_batch: int = 1000  # messages per POST /api/v1/publish
    max_channels_per_connection: int = 256
    max_connections: int = 10_000  # over it: close 1013
    max_connections_per_ip: int = 1_000  # over it: close 1013
    client_frames_per_second: float = 20.0  # sustained; over it (after the burst): close 4029
    client_frame_burst: int = 60
    history: Retention = field(default_factory=Retention)
    idempotency_window: float = 600.0  # seconds a publish's idempotency_key is remembered
    idempotency_max_keys: int = 100_000
    # Liveness: a protocol ping every interval (first one at a random point of it), and the
    # connection is closed with 1011 when the pong does not come within the timeout.
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    # Subscribing: "auto" is open on loopback and requires a token on any other interface.
    subscribe_auth: str = "auto"
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_public_key_file: Path | None = None
    auth_timeout: float = 5.0  # seconds to send {"action":"auth"} when no ?token= was given
    # Browser origins allowed to open WebSockets ("*" = any). Same-origin pages and clients
    # that send no Origin (scripts, bots) are always allowed.
    allowed_origins: tuple[str, ...] = ()
    # Host header values served ("*" = any). Empty: loopback names when bound to loopback
    # (a DNS-rebinding page cannot reach the hub through its own domain), any otherwise.
    allowed_hosts: tuple[str, ...] = ()
    # Alerts: Discord routes (TOML; default one webhook from ALPHAWIRE_DISCORD_WEBHOOK_URL)
    # and the bound on undelivered alerts in the outbox (over it, new alerts are refused).
    alert_routes: Path | None = None
    # The routes alphawire.toml's [alerts] resolved (see alphawire.config); when set, it wins
    # over alert_routes and the environment. Holds webhook URLs: never log it.
    alert_route_table: RouteTable | None = field(default=None, repr=False)
    alert_max_pending: int = 100_000
    alert_sync: str = "NORMAL"  # FULL: survive OS crashes and power cuts too, ~1 fsync per alert
    # Retries of failed deliveries (5xx, timeouts, network): full-jitter exponential backoff
    # from alert_retry_base up to alert_retry_cap seconds between tries, dead after max age.
    alert_retry_base: float = 1.0
    alert_retry_cap: float = 300.0
    alert_max_age: float = 24 * 3600.0
    demo: bool = False
    demo_seed: int = 7
    demo_interval: float = 0.25  # seconds between ticks per symbol, on average
    demo_symbols: tuple[str, ...] = ("SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA")

    def to_json(self) -> str:
        """Every setting as JSON (for worker processes; holds secrets: never log it)."""
        data = dataclasses.asdict(self)
        data["data_dir"] = str(self.data_dir)
        data["alert_routes"] = str(self.alert_routes) if self.alert_routes else None
        data["jwt_public_key_file"] = (
            str(self.jwt_public_key_file) if self.jwt_public_key_file else None
        )
        data["history"] = {k: [v.messages, v.seconds] for k, v in self.history.limits.items()}
        table = self.alert_route_table
        data["alert_route_table"] = (
            None if table is None else [dataclasses.asdict(r) for r in table.routes]
        )
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        data["data_dir"] = Path(data["data_dir"])
        for key in ("alert_routes", "jwt_public_key_file"):
            data[key] = Path(data[key]) if data[key] else None
        data["history"] = Retention(
            {k: Limit(int(m), float(s)) for k, (m, s) in data["history"].items()}
        )
        for key in ("demo_symbols", "allowed_origins", "allowed_hosts"):
            data[key] = tuple(data[key])
        if data["alert_route_table"] is not None:
            data["alert_route_table"] = RouteTable(
                tuple(route_from_dict(r) for r in data["alert_route_table"])
            )
        return cls(**data)

    def subscribe_token_required(self) -> bool:
        mode = self.subscribe_auth.lower()
        if mode == "auto":
            return not is_loopback(self.host)
        if mode in ("token", "required"):
            return True
        if mode == "open":
            return False
        raise ValidationError(
            f"subscribe_auth must be auto, open or token, not {self.subscribe_auth!r}"
        )

    def trusted_hosts(self) -> list[str]:
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        if is_loopback(self.host):
            return ["127.0.0.1", "localhost", "::1", "[::1]"]
        return ["*"]

    def token_path(self) -> Path:
        return self.data_dir / TOKEN_FILE

    def resolve_publish_token(self) -> str:
        """The configured token, else the one in the data directory, created if missing.

        Publishing is never open: with no token configured, a random one is written to
        ``<data_dir>/publish-token`` with mode 0600, where the CLI finds it.
        """
        if self.publish_token:
            return self.publish_token
        path = self.token_path()
        if path.exists():
            token = path.read_text().strip()
            if token:
                self.publish_token = token
                return token
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_urlsafe(32)
        # O_EXCL + 0600: never readable by others, and two servers starting together do
        # not overwrite each other's token.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            token = path.read_text().strip()
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
            logger.info("created a publish token in %s (mode 0600)", path)
        self.publish_token = token
        return token


def is_loopback(host: str) -> bool:
    """True for interfaces only this machine can reach."""
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def parse_history(spec: str) -> Retention:
    """``"market=500/600,unified=20000/86400"`` → history limits (messages/seconds) per kind."""
    limits = dict(Retention().limits)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, sep, value = part.partition("=")
        count, slash, seconds = value.partition("/")
        if not sep or not slash or kind not in limits:
            raise ValidationError(
                f"invalid history limit {part!r}: use KIND=MESSAGES/SECONDS with KIND one of "
                f"{', '.join(sorted(limits))}"
            )
        try:
            limit = Limit(int(count), float(seconds))
        except ValueError:
            raise ValidationError(f"invalid history limit {part!r}: numbers expected") from None
        if limit.messages < 1 or limit.seconds <= 0:
            raise ValidationError(f"invalid history limit {part!r}: both must be positive")
        limits[kind] = limit
    return Retention(limits)
