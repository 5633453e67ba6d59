"""``alphawire config check | show | init``, and how serve and demo read the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from alphawire.config import (
    DEFAULT_FILE,
    Config,
    ConfigError,
    example_text,
    load_config,
    plugin_option_models,
    render_config,
    validate_plugin_options,
)
from alphawire.errors import ValidationError

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    envvar="ALPHAWIRE_CONFIG",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Configuration file [env ALPHAWIRE_CONFIG; default ./{DEFAULT_FILE} if present].",
)

# Flags whose click name differs from the setting they override.
_RENAMED = {"history_spec": "history", "symbols": "watchlist"}
_PLUGIN_FLAGS = {
    "seed": "sources.sim.seed",
    "interval": "sources.sim.interval",
    "speed": "sources.sim.speed",
}


def config_from_cli(
    ctx: click.Context, config_path: Path | None, params: Mapping[str, Any]
) -> Config:
    """The configuration for serve/demo: the file, the environment, then the flags typed on
    the command line (their variables are read by ``load_config`` itself, so a variable never
    counts as a flag). Deprecation notes go to stderr; a bad value exits with status 2."""
    overrides: dict[str, Any] = {}
    for name, value in params.items():
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.COMMANDLINE:
            continue
        overrides[_PLUGIN_FLAGS.get(name) or _RENAMED.get(name, name)] = value
    try:
        config = load_config(config_path, overrides=overrides)
    except ValidationError as exc:  # a ConfigError, or a webhook URL of the wrong form
        raise click.UsageError(str(exc)) from None
    for note in config.warnings:
        click.echo(f"alphawire: {note}", err=True)
    return config


@click.group("config")
def config_group() -> None:
    """The configuration file: check it, show what is in effect, write an example."""


@config_group.command("check")
@CONFIG_OPTION
def check(config_path: Path | None) -> None:
    """Check every key (exit 1 naming the file, table and key of each problem)."""
    try:
        config = load_config(config_path)
        models = plugin_option_models()
        if models is not None:
            validate_plugin_options(config, models)
    except ValidationError as exc:  # ConfigError, or a plugin that cannot be loaded
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for note in config.warnings:
        click.echo(f"alphawire: {note}", err=True)
    s = config.settings
    plugins = "" if models is not None else " (plugin options not checked: no plugin registry)"
    sources = ", ".join(_installed(config, models, "sources")) or "-"
    click.echo(
        f"{config.label}: ok: hub on {s.host}:{s.port}, broker {s.broker_url.split(':', 1)[0]}, "
        f"{len(config.watchlist)} symbols, sources {sources}, "
        f"{_count(config, models, 'agents')} agents, {len(config.routes.routes)} alert routes"
        f"{plugins}"
    )


@config_group.command("show")
@CONFIG_OPTION
def show(config_path: Path | None) -> None:
    """Print the configuration in effect as TOML, secrets redacted."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    click.echo(render_config(config), nl=False)


@config_group.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_FILE)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def init(path: Path, force: bool) -> None:
    """Write the commented example (every key at its default, a table for every installed
    source and agent) to PATH."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    try:
        text = example_text(plugin_option_models())
    except ValidationError as exc:  # a plugin that cannot be loaded
        raise click.ClickException(str(exc)) from None
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}; check it with: alphawire config check --config {path}")


def _installed(config: Config, models: Any, kind: str) -> list[str]:
    """The enabled plugins of ``kind`` this installation has (all when unknown)."""
    names = config.enabled(kind)
    return names if models is None else [n for n in names if n in models.get(kind, {})]


def _count(config: Config, models: Any, kind: str) -> int:
    return len(_installed(config, models, kind))
