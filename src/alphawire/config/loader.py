"""Reading alphawire.toml, then the ``ALPHAWIRE_*`` variables, then the flags, in that order
of strength: a flag beats a variable, which beats the file, which beats the default.

Every key is checked before anything starts; all the problems are reported at once, each
naming the file, table and key (or the variable, or the flag) and what is allowed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alphawire.alerting.routes import RouteTable
from alphawire.brokers.base import Limit, Retention
from alphawire.channels import normalize_symbol
from alphawire.config.model import DEFAULT_FILE, Config, ConfigError, PluginTable
from alphawire.config.schema import (
    ALERTS,
    BROKER_SCHEMES,
    DEFAULT_AGENTS,
    DEFAULT_SOURCES,
    DEFAULT_WATCHLIST,
    HUB,
    KEYS,
    KEYS_BY_FIELD,
    KEYS_BY_TABLE,
    PLUGIN_KINDS,
    SECRET_OPTION,
    SECRETS,
    SUBTABLES,
    TOP_LEVEL,
    Key,
)
from alphawire.config.values import BadValue, check, parse_limit, shown
from alphawire.errors import ChannelError, ValidationError, did_you_mean
from alphawire.settings import Settings, default_data_dir, parse_history

_PLUGIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# The simulated market's knobs, read by `alphawire demo` until the sim source owns them.
_SIM_ENV = {"ALPHAWIRE_DEMO_SEED": ("seed", int), "ALPHAWIRE_DEMO_INTERVAL": ("interval", float)}
_SPECIAL_FLAGS = {
    "history": "--history",
    "watchlist": "--symbols",
    "alert_routes": "--alert-routes",
    "publish_token": "--publish-token",
    "jwt_secret": "jwt_secret",
}


def find_config(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read: ``path``, else ``$ALPHAWIRE_CONFIG``, else ./alphawire.toml if any."""
    if path is not None:
        return path
    named = environ.get("ALPHAWIRE_CONFIG")
    if named:
        return Path(named)
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """The configuration in effect: ``path`` (see ``find_config``), then ``environ`` (default
    ``os.environ``), then ``overrides`` (the flags given: Settings field names, ``history``,
    ``watchlist``, ``alert_routes``, or ``sources.NAME.KEY`` / ``agents.NAME.KEY``).

    Raises ConfigError listing every problem found.
    """
    env = os.environ if environ is None else environ
    path = find_config(path, env)
    label = str(path) if path is not None else "defaults"
    doc: dict[str, Any] = {}
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                [(label, "no such file (alphawire config init writes one)")]
            ) from None
        except OSError as exc:
            raise ConfigError([(label, f"cannot read it: {exc.strerror}")]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError([(label, f"not valid TOML: {exc}")]) from None
    builder = _Builder(label, env, path.parent if path is not None else None)
    builder.read_file(doc)
    builder.read_env()
    builder.read_overrides(overrides or {})
    return builder.build(path)


class _Builder:
    """The layers applied one after the other, and every problem met on the way."""

    def __init__(self, label: str, env: Mapping[str, str], base: Path | None) -> None:
        self.label, self.env, self.base = label, env, base
        self.problems: list[tuple[str, str]] = []
        self.values: dict[str, Any] = {}
        self.origins: dict[str, str] = {}
        self.history: dict[str, Limit] = {}
        self.watchlist: tuple[str, ...] = DEFAULT_WATCHLIST
        self.plugins: dict[str, dict[str, PluginTable]] = {
            "sources": {n: PluginTable(n) for n in DEFAULT_SOURCES},
            "agents": {n: PluginTable(n) for n in DEFAULT_AGENTS},
        }
        self.alerts_doc: dict[str, Any] | None = None
        self.file_routes: RouteTable | None = None
        self.legacy: tuple[Path, str] | None = None
        self.secrets: dict[str, Any] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    # -- the file ------------------------------------------------------------------------

    def read_file(self, doc: dict[str, Any]) -> None:
        for name in doc:
            if name not in TOP_LEVEL:
                self.problem(
                    f"{self.label}: {name}",
                    f"unknown table or key{did_you_mean(name, TOP_LEVEL)} "
                    f"(allowed: {', '.join(TOP_LEVEL)})",
                )
        for table in (HUB, ALERTS):
            raw = doc.get(table, {})
            if not isinstance(raw, dict):
                self.problem(f"{self.label}: {table} = {shown(raw)}", f"expected a table [{table}]")
                continue
            for name, value in raw.items():
                self._file_key(table, name, value)
        if "watchlist" in doc:
            self._file_watchlist(doc["watchlist"])
        for kind in PLUGIN_KINDS:
            self._file_plugins(kind, doc.get(kind, {}))
        if self.alerts_doc is not None:
            self._file_routes(self.alerts_doc)

    def _file_key(self, table: str, name: str, value: Any) -> None:
        where = f"{self.label}: [{table}] {name}"
        if (table, name) in SECRETS:
            var = SECRETS[table, name]
            self.problem(where, f"secrets stay in the environment: remove it and set {var}")
        elif name == "history" and table == HUB:
            self._file_history(value)
        elif name in SUBTABLES.get(table, ()):
            if self.alerts_doc is None:
                self.alerts_doc = {}
            self.alerts_doc[name] = value
        elif name in KEYS_BY_TABLE[table]:
            self._set(KEYS_BY_TABLE[table][name], value, f"{where} = {shown(value)}", self.label)
        else:
            allowed = [*KEYS_BY_TABLE[table], *SUBTABLES.get(table, ())]
            self.problem(
                where,
                f"unknown key{did_you_mean(name, allowed)} (allowed: {', '.join(allowed)})",
            )

    def _set(self, key: Key, value: Any, where: str, origin: str, *, text: bool = False) -> None:
        base = self.base if origin == self.label else None
        try:
            out = check(key, value, text=text, base=base)
        except BadValue as exc:
            self.problem(where, f"expected {exc}")
            return
        if key.name == "broker_url":
            parts = urlsplit(out)
            if parts.scheme.lower() not in BROKER_SCHEMES:
                self.problem(where, "expected memory:// or redis://host:port/db")
                return
            if parts.password and origin == self.label:
                self.problem(
                    f"{self.label}: [hub] broker_url",
                    "holds a password: secrets stay in the environment; set "
                    "ALPHAWIRE_BROKER_URL instead",
                )
                return
        if key.name == "jwt_public_key_file" and not out.is_file():
            self.problem(where, "no such file")
            return
        self.values[key.field] = out
        self.origins[key.dotted] = origin

    def _file_history(self, raw: Any) -> None:
        kinds = sorted(Retention().limits)
        where = f"{self.label}: [hub.history]"
        if not isinstance(raw, dict):
            self.problem(where, "expected a table of KIND = { messages = N, seconds = S }")
            return
        for kind, value in raw.items():
            at = f"{where} {kind} = {shown(value)}"
            if kind not in kinds:
                self.problem(
                    at, f"unknown kind{did_you_mean(kind, kinds)} (allowed: {', '.join(kinds)})"
                )
                continue
            if isinstance(value, str):
                value = dict(zip(("messages", "seconds"), value.split("/", 1), strict=False))
            limit = parse_limit(value)
            if limit is None:
                self.problem(
                    at, 'expected { messages = N, seconds = S } or "N/S", both positive numbers'
                )
                continue
            self.history[kind] = limit
            self.origins[f"hub.history.{kind}"] = self.label

    def _file_watchlist(self, raw: Any) -> None:
        where = f"{self.label}: watchlist"
        if isinstance(raw, dict):
            extra = sorted(set(raw) - {"symbols"})
            if extra:
                self.problem(
                    f"{self.label}: [watchlist] {extra[0]}",
                    f"unknown key{did_you_mean(extra[0], ['symbols'])} (allowed: symbols)",
                )
                return
            raw, where = raw.get("symbols", []), f"{self.label}: [watchlist] symbols"
        self._set_watchlist(raw, where, self.label)

    def _set_watchlist(self, raw: Any, where: str, origin: str) -> None:
        if isinstance(raw, str):
            raw = [s.strip() for s in raw.split(",") if s.strip()]
        if not isinstance(raw, list | tuple) or not raw:
            self.problem(f"{where} = {shown(raw)}", "expected a list of one or more symbols")
            return
        symbols: list[str] = []
        for i, value in enumerate(raw):
            try:
                symbol = normalize_symbol(value)
            except ChannelError as exc:
                self.problem(f"{where}[{i}] = {shown(value)}", f"expected a symbol: {exc.rule}")
                return
            if symbol not in symbols:
                symbols.append(symbol)
        self.watchlist = tuple(symbols)
        self.origins["watchlist"] = origin

    def _file_plugins(self, kind: str, raw: Any) -> None:
        if not isinstance(raw, dict):
            self.problem(f"{self.label}: {kind} = {shown(raw)}", f"expected tables [{kind}.NAME]")
            return
        for name, table in raw.items():
            where = f"{self.label}: [{kind}.{name}]"
            if not isinstance(table, dict):
                self.problem(f"{self.label}: [{kind}] {name} = {shown(table)}", "expected a table")
                continue
            if not _PLUGIN_NAME.fullmatch(name):
                self.problem(where, "a name is a letter, then letters, digits, - or _")
                continue
            plugin = self.plugins[kind].setdefault(name, PluginTable(name))
            for key, value in table.items():
                self._plugin_key(kind, plugin, key, value, f"{where} {key}", self.label)

    def _plugin_key(
        self, kind: str, plugin: PluginTable, key: str, value: Any, where: str, origin: str
    ) -> None:
        if key == "enabled":
            if isinstance(value, str) and origin != self.label:
                value = {"true": True, "false": False}.get(value.lower(), value)
            if not isinstance(value, bool):
                self.problem(f"{where} = {shown(value)}", "expected true or false")
                return
            plugin.enabled = value
        elif SECRET_OPTION.search(key) and origin == self.label and isinstance(value, str):
            self.problem(
                where,
                "secrets stay in the environment: put the value in a variable and name it "
                f'here with {key}_env = "VARIABLE"',
            )
            return
        else:
            plugin.options[key] = value
        self.origins[f"{kind}.{plugin.name}.{key}"] = origin

    def _file_routes(self, alerts: dict[str, Any]) -> None:
        raws = alerts.get("routes")
        defaults = alerts.get("defaults")
        tables = [defaults] if isinstance(defaults, dict) else []
        tables += [r for r in raws if isinstance(r, dict)] if isinstance(raws, list) else []
        if any("webhook_url" in t for t in tables):
            self.problem(
                f"{self.label}: [[alerts.routes]] webhook_url",
                "a webhook URL is a secret and stays in the environment: write "
                'webhook_url_env = "VARIABLE" and set VARIABLE to the URL',
            )
            return
        try:
            self.file_routes = RouteTable.from_mapping(
                alerts, self.label, self.env, prefix="alerts."
            )
        except ValidationError as exc:
            where, _, message = exc.message.partition(": ")
            self.problem(where, message)

    # -- the environment and the flags ---------------------------------------------------

    def read_env(self) -> None:
        env = self.env
        for key in KEYS:
            raw = env.get(key.env) if key.env else None
            if raw:  # an empty variable counts as unset, as click does
                self._set(key, raw, f"{key.env}={shown(raw)}", str(key.env), text=True)
        if env.get("ALPHAWIRE_HISTORY"):
            self._set_history(env["ALPHAWIRE_HISTORY"], "ALPHAWIRE_HISTORY")
        for var in ("ALPHAWIRE_WATCHLIST", "ALPHAWIRE_DEMO_SYMBOLS"):
            if env.get(var):
                self._set_watchlist(env[var], var, var)
                break
        for var, (option, kind) in _SIM_ENV.items():
            if env.get(var):
                self._sim_option(option, kind, env[var], var)
        for name in ("publish_token", "jwt_secret"):
            var = "ALPHAWIRE_" + name.upper()
            if env.get(var):
                self.secrets[name] = env[var]
                self.origins[f"hub.{name}"] = var
        if env.get("ALPHAWIRE_ALERT_ROUTES"):
            self.legacy = (Path(env["ALPHAWIRE_ALERT_ROUTES"]), "ALPHAWIRE_ALERT_ROUTES")

    def read_overrides(self, overrides: Mapping[str, Any]) -> None:
        for name, value in overrides.items():
            if value is None:
                continue
            flag = _SPECIAL_FLAGS.get(name, "--" + name.replace("_", "-"))
            if name in KEYS_BY_FIELD:
                key = KEYS_BY_FIELD[name]
                flag = key.flag or flag
                self._set(key, value, f"{flag} {shown(value)}", flag, text=True)
            elif name == "history":
                if isinstance(value, Retention):
                    self.history.update(value.limits)
                else:
                    self._set_history(str(value), flag)
            elif name == "watchlist":
                self._set_watchlist(value, flag, flag)
            elif name in ("publish_token", "jwt_secret"):
                self.secrets[name] = str(value)
                self.origins[f"hub.{name}"] = flag
            elif name == "alert_routes":
                self.legacy = (Path(value), flag)
            elif name.count(".") == 2 and name.split(".", 1)[0] in PLUGIN_KINDS:
                kind, plugin, option = name.split(".")
                table = self.plugins[kind].setdefault(plugin, PluginTable(plugin))
                where = f"[{kind}.{plugin}] {option}"
                self._plugin_key(kind, table, option, value, where, "override")
            else:
                known = [*KEYS_BY_FIELD, *_SPECIAL_FLAGS]
                self.problem(f"override {name}", f"unknown setting{did_you_mean(name, known)}")

    def _set_history(self, spec: str, origin: str) -> None:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            try:
                limits = parse_history(part).limits
            except ValidationError as exc:
                self.problem(f"{origin}={shown(spec)}", exc.message)
                return
            kind = part.partition("=")[0].strip()
            self.history[kind] = limits[kind]
            self.origins[f"hub.history.{kind}"] = origin

    def _sim_option(self, option: str, kind: type, raw: str, origin: str) -> None:
        try:
            value = kind(raw)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            self.problem(f"{origin}={shown(raw)}", f"expected {noun}")
            return
        sim = self.plugins["sources"].setdefault("sim", PluginTable("sim"))
        sim.options[option] = value
        self.origins[f"sources.sim.{option}"] = origin

    # -- the result ----------------------------------------------------------------------

    def _demo_knobs(self) -> dict[str, Any]:
        """``[sources.sim]`` seed and interval, which ``alphawire demo`` reads (checked here
        until the simulated market is a source plugin with its own Options model)."""
        sim = self.plugins["sources"].get("sim")
        options = sim.options if sim is not None else {}
        out: dict[str, Any] = {"seed": 7, "interval": 0.25}
        for option, noun in (("seed", "an integer"), ("interval", "a number")):
            value = options.get(option, out[option])
            kinds = int if option == "seed" else int | float
            if not isinstance(value, bool) and isinstance(value, kinds) and value >= 0:
                out[option] = value
            else:
                where = self.origins.get(f"sources.sim.{option}", self.label)
                self.problem(
                    f"{where}: [sources.sim] {option} = {shown(value)}", f"expected {noun} >= 0"
                )
        return out

    def build(self, path: Path | None) -> Config:
        warnings: list[str] = []
        routes = self.file_routes
        route_envs = _route_envs(self.alerts_doc or {})
        demo = self._demo_knobs()
        if self.legacy is not None and not self.problems:
            legacy, origin = self.legacy
            try:
                routes = RouteTable.from_toml(legacy, self.env)
                route_envs = _route_envs(tomllib.loads(legacy.read_text()))
            except ValidationError as exc:
                self.problem(f"{origin}={shown(str(legacy))}", exc.message)
            else:
                self.origins["alerts.routes"] = origin
                warnings.append(
                    f"{origin} {legacy} is deprecated: move its [defaults] and [[routes]] into "
                    f"{DEFAULT_FILE} as [alerts.defaults] and [[alerts.routes]] (a webhook URL "
                    "as webhook_url_env = VARIABLE), then drop it"
                )
        if self.problems:
            raise ConfigError(self.problems)
        if routes is None:
            routes = RouteTable.from_env(self.env)
            route_envs = {"default": "ALPHAWIRE_DISCORD_WEBHOOK_URL"} if routes.routes else {}
        else:
            self.origins.setdefault("alerts.routes", self.label)
        values = dict(self.values)
        values.setdefault("data_dir", default_data_dir(self.env))
        settings = Settings(
            **values,
            **self.secrets,
            history=Retention({**Retention().limits, **self.history}),
            alert_routes=self.legacy[0] if self.legacy else None,
            alert_route_table=routes,
            demo_symbols=self.watchlist,
            demo_seed=demo["seed"],
            demo_interval=demo["interval"],
        )
        return Config(
            path=path,
            settings=settings,
            watchlist=self.watchlist,
            sources=self.plugins["sources"],
            agents=self.plugins["agents"],
            routes=routes,
            warnings=warnings,
            origins=self.origins,
            route_envs={k: v for k, v in route_envs.items() if routes.get(k) is not None},
        )


def _route_envs(doc: Mapping[str, Any]) -> dict[str, str]:
    """Route name -> the variable named by its webhook_url_env (defaults applied)."""
    defaults = doc.get("defaults", {})
    routes = doc.get("routes", [])
    out: dict[str, str] = {}
    if not isinstance(defaults, dict) or not isinstance(routes, list):
        return out
    for raw in routes:
        if isinstance(raw, dict):
            merged = {**defaults, **raw}
            if isinstance(merged.get("webhook_url_env"), str) and "webhook_url" not in merged:
                out[str(merged.get("name"))] = merged["webhook_url_env"]
    return out
