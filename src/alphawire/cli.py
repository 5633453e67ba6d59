"""The ``alphawire`` command: its group, and where each subcommand lives.

``serve``/``demo`` (cli_server), ``replay`` (cli_replay), ``record`` (cli_record), ``tail``
(cli_tail), ``publish`` (cli_publish), ``channels``/``sources`` (cli_status),
``agents``/``narrative`` (cli_agents), ``alerts ...`` (cli_alerts), ``config ...``
(cli_config); cli_hub holds what the commands that call a running hub share.
"""

from __future__ import annotations

import signal

import click

from alphawire import __version__
from alphawire.cli_agents import agents, narrative
from alphawire.cli_alerts import alerts
from alphawire.cli_config import config_group
from alphawire.cli_publish import publish
from alphawire.cli_record import record
from alphawire.cli_replay import replay
from alphawire.cli_server import demo, serve
from alphawire.cli_status import list_channels, list_sources
from alphawire.cli_tail import render, tail

__all__ = ["main", "render"]


@click.group()
@click.version_option(__version__, prog_name="alphawire")
def main() -> None:
    """alphawire: a real-time market-intelligence hub."""
    # A command started in the background of a script (`alphawire tail ... &`) inherits
    # SIGINT ignored, and then Ctrl-C / SIGINT, the documented way to stop tail, serve and
    # demo, would do nothing: take the default (KeyboardInterrupt) back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


for command in (
    agents,
    alerts,
    config_group,
    demo,
    list_channels,
    list_sources,
    narrative,
    publish,
    record,
    replay,
    serve,
    tail,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
