"""What a loaded configuration is: ``Config``, its plugin tables, and ``ConfigError``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphawire.alerting.routes import RouteTable
from alphawire.errors import ValidationError
from alphawire.settings import Settings

DEFAULT_FILE = "alphawire.toml"


class ConfigError(ValidationError):
    """alphawire.toml, an ``ALPHAWIRE_*`` variable or a flag that breaks a documented rule.

    Each line of the message names where the value was written (the file and its table and
    key, the variable, or the flag), the value (never a secret's) and what is allowed; the
    same problems are in ``errors`` as ``{"where": ..., "message": ...}``.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        lines = [f"{where}: {message}" for where, message in problems]
        super().__init__(
            "\n".join(lines), [{"where": where, "message": message} for where, message in problems]
        )


@dataclass
class PluginTable:
    """One ``[sources.NAME]`` or ``[agents.NAME]`` table: on or off, and its options.

    ``options`` is the rest of the table as written; the plugin's own pydantic ``Options``
    model checks it (``validate_plugin_options``).
    """

    name: str
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    """Everything alphawire.toml (or the defaults), the environment and the flags decided."""

    path: Path | None  # the file read, if any
    settings: Settings
    watchlist: tuple[str, ...]
    sources: dict[str, PluginTable]
    agents: dict[str, PluginTable]
    routes: RouteTable
    # One line per deprecated input that was used (the old route file): show them to the user.
    warnings: list[str] = field(default_factory=list)
    # Where each value that is not a default came from: "hub.port" -> "--port",
    # "ALPHAWIRE_PORT" or the file's name.
    origins: dict[str, str] = field(default_factory=dict)
    # The variable each route's webhook URL was read from (route name -> variable), so that
    # ``config show`` can name it instead of printing the URL.
    route_envs: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The file's name as messages show it, or "defaults" without a file."""
        return str(self.path) if self.path is not None else "defaults"

    def enabled(self, kind: str) -> list[str]:
        """Names of the enabled ``sources`` or ``agents``, in table order."""
        tables: dict[str, PluginTable] = getattr(self, kind)
        return [name for name, table in tables.items() if table.enabled]
