"""Checking ``[sources.NAME]`` and ``[agents.NAME]`` tables against the plugins' own
pydantic ``Options`` models, with the same kind of messages as the core tables."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

import pydantic

from alphawire.config.model import Config, ConfigError, PluginTable
from alphawire.config.schema import DEFAULT_AGENTS, DEFAULT_SOURCES, PLUGIN_KINDS
from alphawire.config.values import shown, toml_value
from alphawire.errors import did_you_mean

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def validate_plugin_options(
    config: Config, models: Mapping[str, Mapping[str, type[pydantic.BaseModel]]]
) -> None:
    """Check every plugin table: its name is an installed plugin, its keys are fields of the
    plugin's Options model (unknown ones are errors even if the model would ignore them), and
    its values pass the model. ``models["sources"]["cboe"]`` is the cboe source's Options.

    Disabled tables are checked too: a typo should not wait for the day it is switched on.
    A default table the user did not touch (``sim``, the built-in agents, on and without
    options) is skipped: nothing in it was written. Raises ConfigError listing every problem.
    """
    problems: list[tuple[str, str]] = []
    for kind in PLUGIN_KINDS:
        installed = models.get(kind, {})
        tables = config.sources if kind == "sources" else config.agents
        defaults = DEFAULT_SOURCES if kind == "sources" else DEFAULT_AGENTS
        for name, table in tables.items():
            if name in defaults and table == PluginTable(name):
                continue
            where = f"{config.label}: [{kind}.{name}]"
            model = installed.get(name)
            if model is None:
                listed = ", ".join(sorted(installed)) or "none"
                problems.append(
                    (
                        where,
                        f"unknown {kind[:-1]} {name!r}{did_you_mean(name, installed)} "
                        f"(installed: {listed})",
                    )
                )
                continue
            options = dict(table.options)
            if "enabled" in model.model_fields:  # the table's switch, as the model sees it
                options["enabled"] = table.enabled
            problems += _check_options(where, model, options)
    if problems:
        raise ConfigError(problems)


class NoOptions(pydantic.BaseModel):
    """The options of a plugin that declares none: any key is unknown."""

    model_config = pydantic.ConfigDict(extra="forbid")


def _check_options(
    where: str, model: type[pydantic.BaseModel], options: Mapping[str, Any]
) -> list[tuple[str, str]]:
    allowed = ["enabled"]
    for name, info in model.model_fields.items():
        if (info.alias or name) not in allowed:  # a model's own `enabled` is listed once
            allowed.append(info.alias or name)
    problems = [
        (
            f"{where} {key}",
            f"unknown key{did_you_mean(key, allowed)} (allowed: {', '.join(allowed)})",
        )
        for key in options
        if key not in allowed
    ]
    try:
        model.model_validate({k: v for k, v in options.items() if k in allowed})
    except pydantic.ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            # pydantic locates a bad key of a table value as (..., key, "[key]").
            bad_key = loc[-1:] == ("[key]",)
            key = ".".join(_toml_key(part) for part in (loc[:-1] if bad_key else loc)) or "(table)"
            if error["type"] == "missing":
                problems.append((f"{where} {key}", "required, not set"))
            elif bad_key:
                problems.append((f"{where} {key}", _expected(error["msg"])))
            else:
                value = shown(error.get("input"))
                problems.append((f"{where} {key} = {value}", _expected(error["msg"])))
    return problems


def _toml_key(part: object) -> str:
    """A path part as TOML writes a key: bare when it can be, else quoted."""
    text = str(part)
    return text if _BARE_KEY.fullmatch(text) else toml_value(text)


def _expected(message: str) -> str:
    """pydantic's "Input should be a valid integer" as "expected a valid integer", and a
    validator's own message without pydantic's "Value error, " in front."""
    prefix = "Input should be "
    if message.startswith(prefix):
        return "expected " + message[len(prefix) :]
    return message.removeprefix("Value error, ")


def plugin_option_models() -> Mapping[str, Mapping[str, type[pydantic.BaseModel]]] | None:
    """The Options model of every installed source and agent, from the plugin registry
    (``alphawire.plugins.discover``), or None while alphawire has no registry."""
    try:
        plugins: Any = importlib.import_module("alphawire.plugins")
    except ModuleNotFoundError as exc:
        if exc.name != "alphawire.plugins":
            raise
        return None
    models: dict[str, dict[str, type[pydantic.BaseModel]]] = {}
    for kind in ("sources", "agents"):
        found = plugins.discover(kind)
        models[kind] = {name: spec.options_model() or NoOptions for name, spec in found.items()}
    return models
