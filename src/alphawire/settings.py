"""Configuration: one dataclass, filled from CLI options or ``ALPHAWIRE_*`` variables."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from alphawire.hub.connection import DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES

logger = logging.getLogger("alphawire")

TOKEN_FILE = "publish-token"


def default_data_dir() -> Path:
    """``$ALPHAWIRE_DATA_DIR``, else ``$XDG_DATA_HOME/alphawire``, else ~/.local/share/alphawire."""
    explicit = os.environ.get("ALPHAWIRE_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "alphawire"


@dataclass
class Settings:
    """Everything ``create_app`` needs; defaults are safe (loopback, token required)."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=default_data_dir)
    log_level: str = "info"
    publish_token: str | None = None
    broker_url: str = "memory://"
    # Per-connection outgoing queue bounds; a frame that does not fit is dropped for that
    # connection and counted in the stats' "dropped".
    queue_max_messages: int = DEFAULT_MAX_MESSAGES
    queue_max_bytes: int = DEFAULT_MAX_BYTES
    max_frame_bytes: int = 64 * 1024  # client frames; larger ones close the socket with 1009
    max_request_bytes: int = 4 * 1024 * 1024  # publish request bodies; larger ones get 413
    max_channels_per_connection: int = 256
    demo: bool = False
    demo_seed: int = 7
    demo_interval: float = 0.25  # seconds between ticks per symbol, on average
    demo_symbols: tuple[str, ...] = ("SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA")

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


def read_token_file(data_dir: Path | None = None) -> str | None:
    """The publish token a local hub created, if there is one (used by the CLI)."""
    path = (data_dir or default_data_dir()) / TOKEN_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
