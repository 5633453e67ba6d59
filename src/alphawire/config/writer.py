"""Writing configuration as TOML: the effective one (``alphawire config show``, secrets
redacted) and the commented example with every key at its default (``alphawire config init``).

Values are formatted here rather than by a TOML writer library because both outputs carry a
comment on each key (its origin, or its documentation) and inline tables for route matches,
which the writers do not offer; tests parse both outputs back with ``tomllib``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pydantic

from alphawire.alerting.routes import MENTION_POLICIES, Route
from alphawire.brokers.base import Retention
from alphawire.config.model import Config, PluginTable
from alphawire.config.schema import (
    ALERTS,
    DEFAULT_AGENTS,
    DEFAULT_SOURCES,
    DEFAULT_WATCHLIST,
    HUB,
    KEYS,
    SECRET_OPTION,
    Key,
)
from alphawire.config.values import toml_key, toml_value
from alphawire.settings import Settings

REDACTED = "<redacted>"


def _line(name: str, value: Any, note: str | None = None) -> str:
    text = f"{toml_key(name)} = {toml_value(value)}"
    return f"{text}  # {note}" if note else text


# -- the effective configuration -----------------------------------------------------------


def render_config(config: Config) -> str:
    """The configuration in effect as TOML, each value not a default followed by where it came
    from; secrets (tokens, the JWT secret, webhook URLs, a broker password) are redacted."""
    s, origins = config.settings, config.origins
    out = [
        f"# alphawire configuration in effect (file: {config.label}); a flag beats an",
        "# ALPHAWIRE_* variable, which beats the file, which beats the default. Secrets are",
        "# redacted: they come from the environment only.",
        _line("watchlist", list(config.watchlist), origins.get("watchlist")),
        "",
        f"[{HUB}]",
    ]
    out += _keys(s, HUB, origins)
    token = "set, redacted" if s.publish_token else f"not set: read from {s.token_path()}"
    out.append(f"# publish_token: {token} (ALPHAWIRE_PUBLISH_TOKEN)")
    secret = "set, redacted" if s.jwt_secret else "not set"
    out.append(f"# jwt_secret: {secret} (ALPHAWIRE_JWT_SECRET)")
    out += ["", f"[{HUB}.history]"]
    for kind, limit in sorted(s.history.limits.items()):
        value = {"messages": limit.messages, "seconds": limit.seconds}
        out.append(_line(kind, value, origins.get(f"hub.history.{kind}")))
    out += ["", f"[{ALERTS}]", *_keys(s, ALERTS, origins)]
    if not config.routes.routes:
        out.append("# no routes: alerts reach WebSocket subscribers only")
    elif origins.get("alerts.routes"):
        out.append(f"# routes from {origins['alerts.routes']}")
    for route in config.routes.routes:
        out += ["", f"[[{ALERTS}.routes]]", *_route(route, config.route_envs.get(route.name))]
    for kind in ("sources", "agents"):
        tables: dict[str, PluginTable] = getattr(config, kind)
        for name, table in tables.items():
            out += ["", f"[{kind}.{toml_key(name)}]", _line("enabled", table.enabled)]
            for option, value in table.options.items():
                shown = REDACTED if SECRET_OPTION.search(option) else value
                out.append(_line(option, shown, origins.get(f"{kind}.{name}.{option}")))
    return "\n".join(out) + "\n"


def _keys(settings: Settings, table: str, origins: dict[str, str]) -> list[str]:
    lines = []
    for key in KEYS:
        if key.table != table:
            continue
        value = getattr(settings, key.field)
        if value is None:
            lines.append(f"# {key.name}: not set")
            continue
        if key.name == "broker_url":
            value = redact_url(value)
        lines.append(_line(key.name, value, origins.get(key.dotted)))
    return lines


def redact_url(url: str) -> str:
    """``redis://:hunter2@host/0`` as ``redis://:<redacted>@host/0``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _route(route: Route, env: str | None) -> list[str]:
    lines = [_line("name", route.name)]
    if env is not None:
        lines.append(_line("webhook_url_env", env))
    else:
        lines.append(f"# webhook_url: {REDACTED} (written in the old route file)")
    if route.match:
        lines.append(_line("match", {k: list(v) for k, v in route.match.items()}))
    if route.keep_going:
        lines.append(_line("continue", True))
    for name in ("username", "avatar_url", "thread_id"):
        if getattr(route, name) is not None:
            lines.append(_line(name, getattr(route, name)))
    policy = next((n for n, p in MENTION_POLICIES.items() if p == route.allowed_mentions), None)
    lines.append(_line("mentions", policy if policy else dict(route.allowed_mentions)))
    lines += [_line("cooldown", route.cooldown), _line("coalesce", route.coalesce)]
    return lines


# -- the commented example -----------------------------------------------------------------

_PLACEHOLDER = {"data_dir": "~/.local/share/alphawire", "jwt_public_key_file": "jwt-public.pem"}

_HEADER = """\
# alphawire.toml: the hub's one configuration file (`alphawire config init` writes this one).
# Every key is here at its default. A flag beats an ALPHAWIRE_* variable, which beats this
# file, which beats the default; each key's variable and flag are named beside it.
# `alphawire config check` checks a file; `alphawire config show` prints what is in effect.
#
# Secrets stay in the environment, never here (a secret written here is refused):
#   ALPHAWIRE_PUBLISH_TOKEN   the token publishers send (unset: one is created in data_dir)
#   ALPHAWIRE_JWT_SECRET      the HS256 key of subscribe tokens
#   ALPHAWIRE_BROKER_URL      a Redis URL that holds a password
#   webhook URLs              in the variables each route names with webhook_url_env

# The symbols the sources follow and the agents analyse. [ALPHAWIRE_WATCHLIST]
"""

_ROUTES = """\
# Discord routes, tried in order: the first that matches takes the alert (continue = true
# keeps looking). Without any route, one catch-all route posts to the URL in
# ALPHAWIRE_DISCORD_WEBHOOK_URL when that is set. Match values are lists of glob patterns.
# [alerts.defaults]                  # applied to every route unless it sets its own
# cooldown = 60                      # seconds: a repeat of one dedup key is suppressed
# username = "alphawire"
#
# [[alerts.routes]]
# name = "darkpool"
# webhook_url_env = "DP_WEBHOOK"     # the variable that holds the webhook URL
# match = { alert_type = ["dark_pool"], symbol = ["SPY", "QQQ"], severity = ["high"] }
# continue = true                    # keep looking for more matching routes
# thread_id = "123456789012345678"   # post into this thread of the channel
# mentions = "none"                  # none | users | roles | everyone | allowed_mentions table
# coalesce = "2s"                    # alerts due within 2 s go out as one message (0: off)
"""

_SOURCES = """\
# Market-data sources. A [sources.NAME] table is on unless enabled = false; its other keys
# are the source's options, shown commented out at their defaults (unknown keys are errors).
"""

_SIM_KNOBS = """\
# seed = 7                           # same seed, same market [ALPHAWIRE_DEMO_SEED, demo --seed]
# interval = 0.25                    # mean seconds between ticks of one symbol
"""

_AGENTS = """\
# Agents. An [agents.NAME] table is on unless enabled = false; its other keys (cadence,
# thresholds) are the agent's options, shown commented out at their defaults.
"""

Models = Mapping[str, Mapping[str, type[pydantic.BaseModel]]]


def example_text(models: Models | None = None) -> str:
    """The commented alphawire.toml with every core key at its default, and a table for each
    source and agent in ``models`` (see ``plugin_option_models``) with its options."""
    defaults = Settings(data_dir=Path("."))
    out = [_HEADER + _line("watchlist", list(DEFAULT_WATCHLIST)), ""]
    for table in (HUB, ALERTS):
        out.append(f"[{table}]")
        for key in KEYS:
            if key.table == table:
                out += _documented(key, getattr(defaults, key.field))
        if table == HUB:
            out += ["", "# History kept per channel kind: whichever bound is hit first.", ""]
            out.append(f"[{HUB}.history]")
            for kind, limit in sorted(Retention().limits.items()):
                value = {"messages": limit.messages, "seconds": limit.seconds}
                out.append(_line(kind, value))
            out.append("")
    out += ["", _ROUTES, _SOURCES.rstrip("\n")]
    out += _plugin_tables("sources", DEFAULT_SOURCES, (models or {}).get("sources", {}))
    out += [_AGENTS.rstrip("\n")]
    out += _plugin_tables("agents", DEFAULT_AGENTS, (models or {}).get("agents", {}))
    return "\n".join(out)


def _plugin_tables(
    kind: str, defaults: tuple[str, ...], installed: Mapping[str, type[pydantic.BaseModel]]
) -> list[str]:
    """One table per plugin: the defaults on, the other installed ones off."""
    out: list[str] = []
    for name in [*defaults, *sorted(n for n in installed if n not in defaults)]:
        model = installed.get(name)
        out.append(f"[{kind}.{toml_key(name)}]")
        doc = (model.__doc__ or "").strip().splitlines() if model is not None else []
        if doc:
            out += textwrap.wrap(doc[0], 90, initial_indent="# ", subsequent_indent="# ")
        out.append(_line("enabled", name in defaults))
        if model is not None:
            out += _options(model)
        elif (kind, name) == ("sources", "sim"):
            out.append(_SIM_KNOBS.rstrip("\n"))
        out.append("")
    return out


def _options(model: type[pydantic.BaseModel]) -> list[str]:
    """Each option of ``model`` commented out at its default, with its description."""
    lines = []
    for name, info in model.model_fields.items():
        if name == "enabled":  # the table's switch, written above
            continue
        key = info.alias or name
        note = info.description
        if info.is_required():
            lines.append(f"# {toml_key(key)} = ...  # required" + (f"; {note}" if note else ""))
            continue
        try:
            lines.append("# " + _line(key, info.get_default(call_default_factory=True), note))
        except TypeError:  # a default TOML cannot hold (None, an object): name the key only
            lines.append(f"# {toml_key(key)}: " + (note or "see the plugin's documentation"))
    return lines


def _documented(key: Key, value: Any) -> list[str]:
    names = ", ".join(n for n in (key.env, key.flag) if n)
    lines = textwrap.wrap(f"{key.doc} [{names}]", 90, initial_indent="# ", subsequent_indent="# ")
    if key.name in _PLACEHOLDER:
        lines.append(f"# {_line(key.name, _PLACEHOLDER[key.name])}")
    else:
        lines.append(_line(key.name, value))
    return lines
