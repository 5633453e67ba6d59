"""``alphawire channels`` and ``alphawire sources``: what a running hub carries and reads."""

from __future__ import annotations

from typing import Any

import click
import orjson

from alphawire.cli_hub import URL_OPTION, ask_hub, echo_json, echo_table


@click.command("channels")
@URL_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_channels(url: str, as_json: bool) -> None:
    """List the hub's channels with their last seq and subscriber counts."""
    rows = ask_hub("GET", url, "/api/v1/channels")["channels"]
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row).decode())
        return
    echo_table(
        [("channel", "*"), ("last seq", ">9"), ("subscribers", ">11")],
        [(r["channel"], r["last_seq"], r["subscribers"]) for r in rows],
    )


@click.command("sources")
@URL_OPTION
@click.option("--json", "as_json", is_flag=True, help="The hub's answer as JSON.")
def list_sources(url: str, as_json: bool) -> None:
    """Show each market-data source's state, last success, last error and items."""
    body = ask_hub("GET", url, "/api/v1/sources")
    if as_json:
        echo_json(body)
        return
    sources: dict[str, dict[str, Any]] = body["sources"]
    if not sources:
        click.echo("no source is configured (see [sources.NAME] in alphawire.toml)")
        return
    echo_table(
        [
            ("source", "*"),
            ("state", "<11"),
            ("items", ">9"),
            ("last success", "<20"),
            ("last error", ""),
        ],
        [
            (
                name,
                row["state"],
                row["items"],
                (row.get("last_success") or "-")[:19],
                row.get("last_error") or "-",
            )
            for name, row in sources.items()
        ],
    )
