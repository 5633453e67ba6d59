"""``alphawire alerts dead | replay | test | enable``: the alert outbox from a terminal.

``dead``, ``replay`` and ``enable`` ask the hub, and work on its outbox file directly when the
hub cannot be reached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from alphawire.cli_hub import TOKEN_OPTION, URL_OPTION, HubUnreachable, ask_hub, publish_token
from alphawire.settings import default_data_dir

if TYPE_CHECKING:
    from alphawire.alerting.outbox import Outbox

_DATA_DIR = click.option(
    "--data-dir",
    envvar="ALPHAWIRE_DATA_DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="Data dir of a local hub (its token file, and its outbox when the hub is down).",
)


@click.group()
def alerts() -> None:
    """AlertManager operations: dead letters, replays, test alerts."""


@alerts.command("dead")
@URL_OPTION
@_DATA_DIR
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def alerts_dead(url: str, data_dir: Path | None, limit: int, as_json: bool) -> None:
    """List dead-lettered deliveries, newest first (from the hub, or its outbox when it is down)."""
    try:
        rows = ask_hub("GET", url, "/api/v1/alerts/dead", params={"limit": limit})["dead"]
    except HubUnreachable:
        rows = _local_outbox(data_dir).dead(limit)
    for row in rows:
        if as_json:
            click.echo(orjson.dumps(row).decode())
        else:
            click.echo(
                f"{row['id']}  {row['destination']:<24} {row['alert_type']:<16} "
                f"{row['symbol'] or '-':<8} attempts={row['attempts']}  {row['last_error']}"
            )
    if not rows and not as_json:
        click.echo("no dead letters")


@alerts.command("replay")
@click.argument("alert_id")
@click.option("--destination", default=None, help="Only this destination (e.g. discord:darkpool).")
@URL_OPTION
@TOKEN_OPTION
@_DATA_DIR
def alerts_replay(
    alert_id: str, destination: str | None, url: str, token: str | None, data_dir: Path | None
) -> None:
    """Deliver a dead-lettered alert again (re-enabling a disabled destination)."""
    token = publish_token(token, data_dir)
    params = {"destination": destination} if destination else {}
    path = f"/api/v1/alerts/{alert_id}/replay"
    try:
        count = ask_hub("POST", url, path, token=token, params=params)["replayed"]
    except HubUnreachable:
        box = _local_outbox(data_dir)
        if destination is not None:
            box.enable(destination)
        count = box.replay(alert_id, destination)
    click.echo(f"{count} deliveries of {alert_id} queued again")


@alerts.command("test")
@URL_OPTION
@TOKEN_OPTION
@_DATA_DIR
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the results.")
def alerts_test(url: str, token: str | None, data_dir: Path | None, wait: float) -> None:
    """Send a test alert through every route and report what each destination did."""
    token = publish_token(token, data_dir)
    alert_id = ask_hub("POST", url, "/api/v1/alerts/test", token=token, expect=202)["id"]
    deadline = time.monotonic() + wait
    while True:
        state = ask_hub("GET", url, f"/api/v1/alerts/{alert_id}", token=token)
        pending = [d for d in state["deliveries"] if d["state"] == "pending"]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    from alphawire.alerting.manager import NO_ROUTE_MESSAGE

    failed = False
    for d in state["deliveries"]:
        failed |= d["state"] != "sent"
        note = f" ({d['last_error']})" if d["last_error"] else ""
        click.echo(f"{d['destination']:<28} {d['state']}{note}")
        if d["state"] == "held":
            route = d["destination"].removeprefix("discord:")
            click.echo(
                f"  route {route} is disabled: fix its webhook URL, then run "
                f"`alphawire alerts enable {route}` to deliver what it holds"
            )
    if not any(d["destination"].startswith("discord:") for d in state["deliveries"]):
        click.echo(NO_ROUTE_MESSAGE)
    if failed:
        raise SystemExit(1)


@alerts.command("enable")
@click.argument("route")
@URL_OPTION
@TOKEN_OPTION
@_DATA_DIR
def alerts_enable(route: str, url: str, token: str | None, data_dir: Path | None) -> None:
    """Enable a disabled ROUTE (after fixing its webhook) and deliver the alerts it held."""
    name = route.removeprefix("discord:")
    token = publish_token(token, data_dir)
    try:
        answer = ask_hub("POST", url, f"/api/v1/alerts/routes/{name}/enable", token=token)
        released, reason = answer["released"], answer["disabled"]
    except HubUnreachable:
        box = _local_outbox(data_dir)
        reason = box.disabled().get(f"discord:{name}")
        released = box.enable(f"discord:{name}")
    was = f"was {reason}" if reason else "was not disabled"
    click.echo(f"route {name} enabled ({was}); {released} held alerts queued for delivery")


def _local_outbox(data_dir: Path | None) -> Outbox:
    from alphawire.alerting.outbox import Outbox

    path = (data_dir or default_data_dir()) / "alerts.sqlite3"
    if not path.exists():
        raise click.ClickException(f"the hub is unreachable and there is no outbox at {path}")
    return Outbox(path)
