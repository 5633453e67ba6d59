"""``alphawire serve`` and ``alphawire demo``: a hub in the foreground, and the options every
command that runs one takes (``replay`` too)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from alphawire.cli_config import CONFIG_OPTION, config_from_cli
from alphawire.config import PluginTable
from alphawire.console import clean_stop, demo_banner, demo_data_dir, self_command
from alphawire.settings import Settings


def server_options(fn: Any) -> Any:
    """The options of a command that runs a hub: alphawire.toml, then these flags."""
    options = [
        CONFIG_OPTION,
        click.option(
            "--host",
            envvar="ALPHAWIRE_HOST",
            default="127.0.0.1",
            show_default=True,
            help="Interface to bind; loopback unless told otherwise [env ALPHAWIRE_HOST].",
        ),
        click.option(
            "--port",
            envvar="ALPHAWIRE_PORT",
            default=8000,
            type=int,
            show_default=True,
            help="TCP port [env ALPHAWIRE_PORT].",
        ),
        click.option(
            "--data-dir",
            envvar="ALPHAWIRE_DATA_DIR",
            type=click.Path(path_type=Path),
            default=None,
            help="Where the hub keeps its token and data "
            "[env ALPHAWIRE_DATA_DIR; default ~/.local/share/alphawire].",
        ),
        click.option(
            "--log-level",
            envvar="ALPHAWIRE_LOG_LEVEL",
            default="info",
            show_default=True,
            type=click.Choice(
                ["critical", "error", "warning", "info", "debug"], case_sensitive=False
            ),
            help="Log level [env ALPHAWIRE_LOG_LEVEL].",
        ),
        click.option(
            "--publish-token",
            envvar="ALPHAWIRE_PUBLISH_TOKEN",
            default=None,
            help="Token publishers must send; created in the data dir when absent "
            "[env ALPHAWIRE_PUBLISH_TOKEN].",
        ),
        click.option(
            "--broker",
            "broker_url",
            envvar="ALPHAWIRE_BROKER_URL",
            default="memory://",
            show_default=True,
            help="Broker URL [env ALPHAWIRE_BROKER_URL].",
        ),
        click.option(
            "--alert-routes",
            envvar="ALPHAWIRE_ALERT_ROUTES",
            default=None,
            type=click.Path(path_type=Path, exists=True, dir_okay=False),
            help="TOML file routing alerts to Discord webhooks; default: one webhook from "
            "ALPHAWIRE_DISCORD_WEBHOOK_URL [env ALPHAWIRE_ALERT_ROUTES].",
        ),
        click.option(
            "--subscribe-auth",
            envvar="ALPHAWIRE_SUBSCRIBE_AUTH",
            default="auto",
            show_default=True,
            type=click.Choice(["auto", "open", "token"]),
            help="Who may subscribe: auto = open on loopback, token elsewhere "
            "[env ALPHAWIRE_SUBSCRIBE_AUTH].",
        ),
        click.option(
            "--jwt-public-key-file",
            envvar="ALPHAWIRE_JWT_PUBLIC_KEY_FILE",
            default=None,
            type=click.Path(path_type=Path, exists=True, dir_okay=False),
            help="PEM public key for RS256/ES256 subscribe tokens "
            "[env ALPHAWIRE_JWT_PUBLIC_KEY_FILE]. HS256: set ALPHAWIRE_JWT_SECRET.",
        ),
        click.option(
            "--allowed-origins",
            envvar="ALPHAWIRE_ALLOWED_ORIGINS",
            default="",
            help="Comma-separated browser origins allowed to open WebSockets besides "
            "the hub's own; * for any [env ALPHAWIRE_ALLOWED_ORIGINS].",
        ),
        click.option(
            "--allowed-hosts",
            envvar="ALPHAWIRE_ALLOWED_HOSTS",
            default="",
            help="Comma-separated Host header values to serve; default: loopback names when "
            "bound to loopback, any otherwise [env ALPHAWIRE_ALLOWED_HOSTS].",
        ),
        click.option(
            "--history",
            "history_spec",
            envvar="ALPHAWIRE_HISTORY",
            default="",
            help="History limits per channel kind, e.g. market=500/600,unified=20000/86400 "
            "(messages/seconds) [env ALPHAWIRE_HISTORY].",
        ),
        click.option(
            "--ping-interval",
            envvar="ALPHAWIRE_PING_INTERVAL",
            default=20.0,
            type=float,
            show_default=True,
            help="Seconds between server pings; 0 disables [env ALPHAWIRE_PING_INTERVAL].",
        ),
        click.option(
            "--ping-timeout",
            envvar="ALPHAWIRE_PING_TIMEOUT",
            default=20.0,
            type=float,
            show_default=True,
            help="Seconds to answer a ping before the socket is closed "
            "with 1011 [env ALPHAWIRE_PING_TIMEOUT].",
        ),
        click.option(
            "--max-connections",
            envvar="ALPHAWIRE_MAX_CONNECTIONS",
            default=10_000,
            type=int,
            show_default=True,
            help="[env ALPHAWIRE_MAX_CONNECTIONS]",
        ),
        click.option(
            "--max-connections-per-ip",
            envvar="ALPHAWIRE_MAX_CONNECTIONS_PER_IP",
            default=1_000,
            type=int,
            show_default=True,
            help="[env ALPHAWIRE_MAX_CONNECTIONS_PER_IP]",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def configure_logging(level: str) -> None:
    """Log records to stderr at ``level``, with time, level and logger name."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@click.command()
@server_options
@click.option(
    "--workers",
    envvar="ALPHAWIRE_WORKERS",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Hub processes sharing the port; more than one needs --broker redis://... "
    "[env ALPHAWIRE_WORKERS].",
)
@click.pass_context
def serve(ctx: click.Context, /, workers: int, config_path: Path | None, **kw: Any) -> None:
    """Run the hub (HTTP + WebSocket) in the foreground (settings: see alphawire config)."""
    from alphawire.web.server import serve as run

    config = config_from_cli(ctx, config_path, kw)
    settings = config.settings
    configure_logging(settings.log_level)
    with clean_stop():
        run(settings, workers, config)


@click.command()
@server_options
@click.option(
    "--seed",
    envvar="ALPHAWIRE_DEMO_SEED",
    default=None,
    type=int,
    help="Seed of the simulated market [env ALPHAWIRE_DEMO_SEED; default: [sources.sim] "
    "seed, else 7].",
)
@click.option(
    "--interval",
    envvar="ALPHAWIRE_DEMO_INTERVAL",
    default=None,
    type=float,
    help="Mean seconds between ticks of one symbol [env ALPHAWIRE_DEMO_INTERVAL; default: "
    "[sources.sim] interval, else 0.25].",
)
@click.option(
    "--speed",
    default=None,
    type=click.FloatRange(min=0, min_open=True, max=10_000),
    help="Simulated seconds per real second (390: a trading day in a minute) [default: "
    "[sources.sim] speed, else 1].",
)
@click.option(
    "--symbols",
    envvar="ALPHAWIRE_DEMO_SYMBOLS",
    default=None,
    help="Watchlist, comma-separated [env ALPHAWIRE_WATCHLIST or ALPHAWIRE_DEMO_SYMBOLS; "
    "default: the configuration's watchlist].",
)
@click.pass_context
def demo(ctx: click.Context, /, config_path: Path | None, **kw: Any) -> None:
    """Run the hub with the simulated market (quotes, prints, chains, option flow, EOD files,
    posts, macro series and scripted scenarios; everything marked simulated)."""
    from alphawire.web.server import serve as run

    config = config_from_cli(ctx, config_path, kw)
    settings = config.settings
    own_dir = "hub.data_dir" not in config.origins
    if own_dir:
        # Nobody chose a data directory: the demo's channels, history and alerts stay out of
        # `serve`'s. The publish token is the usual one, so the CLI finds it as for `serve`.
        if not settings.publish_token:
            settings.publish_token = Settings(data_dir=settings.data_dir).resolve_publish_token()
        settings.data_dir = demo_data_dir()
    settings.demo = True
    configure_logging(settings.log_level)
    sim = config.sources.get("sim")
    if sim is None or not sim.enabled:  # the demo is the simulated market, whatever the file
        config.sources["sim"] = PluginTable("sim", True, sim.options if sim else {})
    click.echo(demo_banner(settings, self_command(), own_dir), err=True)
    with clean_stop():
        run(settings, 1, config)
