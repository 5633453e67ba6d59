"""``alphawire replay FILE``: serve a hub whose market data is a recording.

The recording (``alphawire record``) is the hub's only source; its records go through the same
path live ones take, so the agents, alerts, REST endpoints and the dashboard behave as they
did when it was recorded. ``--speed`` paces it (1: as recorded; 60: an hour a minute) on a
clock that starts at the recording's first record; the watchlist is the recording's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from alphawire.cli import _configure_logging, _server_options
from alphawire.cli_config import config_from_cli
from alphawire.console import clean_stop
from alphawire.errors import AlphawireError


@click.command("replay")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True, max=100_000),
    help="Recorded seconds per real second.",
)
@_server_options
@click.pass_context
def replay(
    ctx: click.Context, /, file: Path, speed: float, config_path: Path | None, **kw: Any
) -> None:
    """Serve a hub that replays FILE (a .jsonl[.gz] recording) as its market data."""
    from alphawire.node import Node
    from alphawire.sources.replay import ReplaySource
    from alphawire.web.app import create_app
    from alphawire.web.server import HubServer, uvicorn_config

    config = config_from_cli(ctx, config_path, kw)
    try:
        source = ReplaySource(file)
    except AlphawireError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    # The recording is the only source; the agents are the configuration's.
    sources = {n: dataclasses.replace(t, enabled=False) for n, t in config.sources.items()}
    config = dataclasses.replace(
        config, sources=sources, watchlist=tuple(source.summary.header.watchlist)
    )
    settings = config.settings
    _configure_logging(settings.log_level)
    settings.resolve_publish_token()
    try:
        node = Node.from_config(config, clock=source.clock(speed))
        node.add_source(source)
        app = create_app(settings, node=node)
    except AlphawireError as exc:
        raise SystemExit(f"alphawire: {exc}") from None
    summary = source.summary
    click.echo(
        f"replaying {summary.count} records of {', '.join(summary.header.watchlist)} from "
        f"{file.name} at {speed:g}x" + (" (simulated data)" if summary.header.simulated else ""),
        err=True,
    )
    with clean_stop():
        HubServer(uvicorn_config(app, settings)).run()
