"""``alphawire replay FILE``: serve a hub whose market data is a recording.

The recording (``alphawire record``) is the hub's only source; its records go through the same
path live ones take, so the agents, alerts, REST endpoints and the dashboard behave as they
did when it was recorded. ``--speed`` paces it (1: as recorded; 60: an hour a minute) on a
clock that starts at the recording's first record; the watchlist is the recording's.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import click

from alphawire.cli_config import config_from_cli
from alphawire.cli_server import configure_logging, server_options
from alphawire.console import clean_stop
from alphawire.errors import AlphawireError


class ProgressBar:
    """``[#########-----------]  45%  330,000/735,193 records`` on a terminal, redrawn at most
    every 0.2 s; elsewhere (a log file) one line per 10 %."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._drawn = 0.0
        self._tenth = -1

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        if self._tty:
            now = time.monotonic()
            if now - self._drawn < 0.2 and done < total:
                return
            self._drawn = now
            filled = int(share * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            end = "\n" if done >= total else ""
            line = f"\r[{bar}] {share:4.0%}  {done:,}/{total:,} records{end}"
            self._stream.write(line)
        else:
            tenth = int(share * 10)
            if tenth == self._tenth:
                return
            self._tenth = tenth
            self._stream.write(f"replay: {share:.0%} ({done:,}/{total:,} records)\n")
        self._stream.flush()


@click.command("replay")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True, max=100_000),
    help="Recorded seconds per real second.",
)
@click.option(
    "--fast",
    is_flag=True,
    help="As fast as the machine goes, on a virtual clock (agents see the recorded times).",
)
@server_options
@click.pass_context
def replay(
    ctx: click.Context,
    /,
    file: Path,
    speed: float,
    fast: bool,
    config_path: Path | None,
    **kw: Any,
) -> None:
    """Serve a hub that replays FILE (a .jsonl[.gz] recording) as its market data, with a
    progress bar on stderr; the hub keeps serving after the last record."""
    from alphawire.node import Node
    from alphawire.sources.replay import ReplaySource
    from alphawire.web.app import create_app
    from alphawire.web.server import HubServer, uvicorn_config

    config = config_from_cli(ctx, config_path, kw)
    try:
        source = ReplaySource(file, progress=ProgressBar(sys.stderr))
    except AlphawireError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    # The recording is the only source; the agents are the configuration's.
    sources = {n: dataclasses.replace(t, enabled=False) for n, t in config.sources.items()}
    config = dataclasses.replace(
        config, sources=sources, watchlist=tuple(source.summary.header.watchlist)
    )
    settings = config.settings
    configure_logging(settings.log_level)
    settings.resolve_publish_token()
    try:
        node = Node.from_config(config, clock=source.clock(None if fast else speed))
        node.add_source(source)
        app = create_app(settings, node=node)
    except AlphawireError as exc:
        raise SystemExit(f"alphawire: {exc}") from None
    summary = source.summary
    click.echo(
        f"replaying {summary.count} records of {', '.join(summary.header.watchlist)} from "
        f"{file.name} "
        + ("as fast as possible" if fast else f"at {speed:g}x")
        + (" (simulated data)" if summary.header.simulated else ""),
        err=True,
    )
    with clean_stop():
        HubServer(uvicorn_config(app, settings)).run()
