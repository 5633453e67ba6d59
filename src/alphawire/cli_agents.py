"""``alphawire agents`` and ``alphawire narrative``: the agents' REST endpoints in a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from alphawire.cli_hub import URL_OPTION, ask_hub, echo_json, echo_table, publish_token

_JSON = click.option("--json", "as_json", is_flag=True, help="The hub's answer as JSON.")
# Evaluating an agent now may wait on an LLM: longer than a listing's 10 s.
_RUN_TIMEOUT = 30.0


def _insight_line(insight: dict[str, Any]) -> str:
    symbol = insight.get("symbol") or "market"
    return (
        f"{symbol:<8} {insight.get('stance', '-'):<8} {insight.get('score', 0):+.2f} "
        f"{insight.get('confidence', 0):>4.0%}  {insight.get('headline', '')}"
    )


@click.command("agents")
@click.argument("name", required=False)
@URL_OPTION
@_JSON
@click.option("--run", is_flag=True, help="Evaluate NAME now (needs the publish token).")
@click.option(
    "--token",
    envvar="ALPHAWIRE_PUBLISH_TOKEN",
    default=None,
    help="Publish token for --run [env ALPHAWIRE_PUBLISH_TOKEN; default: the data dir's].",
)
@click.option(
    "--data-dir",
    envvar="ALPHAWIRE_DATA_DIR",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where to find the publish token file (default: the usual data dir).",
)
def agents(
    name: str | None,
    url: str,
    as_json: bool,
    run: bool,
    token: str | None,
    data_dir: Path | None,
) -> None:
    """List the agents (state, cadence, last run, last error), or show NAME's latest insight
    per symbol; with --run, evaluate NAME now and show what it published."""
    if run:
        if name is None:
            raise click.UsageError("--run needs the agent's NAME")
        token = publish_token(token, data_dir)
        path = f"/api/v1/agents/{name}/run"
        body = ask_hub("POST", url, path, token=token, timeout=_RUN_TIMEOUT)
        if as_json:
            echo_json(body)
            return
        click.echo(f"{body['agent']}: {len(body['insights'])} insights published")
        for insight in body["insights"]:
            click.echo(_insight_line(insight))
        return
    if name is not None:
        body = ask_hub("GET", url, f"/api/v1/agents/{name}")
        if as_json:
            echo_json(body)
            return
        status = body["status"]
        click.echo(
            f"{body['agent']}: {status.get('state')}, last run {status.get('last_run') or '-'}, "
            f"last error {status.get('last_error') or '-'}"
        )
        for insight in body["insights"]:
            click.echo(_insight_line(insight))
        return
    body = ask_hub("GET", url, "/api/v1/agents")
    if as_json:
        echo_json(body)
        return
    rows: dict[str, dict[str, Any]] = body["agents"]
    if not rows:
        click.echo("no agent runs on this hub (see [agents.NAME] in alphawire.toml)")
        return
    echo_table(
        [
            ("agent", "*"),
            ("state", "<10"),
            ("cadence", ">7"),
            ("last run", "<19"),
            ("last insight", "<19"),
            ("last error", ""),
        ],
        [
            (
                agent,
                str(row.get("state") or "-"),
                _seconds(row.get("cadence_seconds")),
                (row.get("last_run") or "-")[:19],
                (row.get("last_insight_at") or "-")[:19],
                row.get("last_error") or "-",
            )
            for agent, row in rows.items()
        ],
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g}s"


@click.command("narrative")
@click.option("--symbol", default=None, help="The symbol's narrative (default: market-wide).")
@URL_OPTION
@_JSON
def narrative(symbol: str | None, url: str, as_json: bool) -> None:
    """Show the newest narrative (market-wide, or about --symbol)."""
    params = {"symbol": symbol} if symbol else {}
    body = ask_hub("GET", url, "/api/v1/narrative/latest", params=params)
    if as_json:
        echo_json(body)
        return
    n = body["narrative"]
    click.echo(
        f"{body.get('timestamp') or ''}  {n.get('symbol') or 'market'}  {n.get('stance', '')}"
    )
    click.echo(n.get("headline", ""))
    if n.get("summary"):
        click.echo(n["summary"])
    for title, key in (("drivers", "drivers"), ("conflicts", "conflicts"), ("watch", "watch")):
        items = n.get(key) or []
        if items:
            click.echo(f"{title}:")
            for item in items:
                text = item.get("text", "") if isinstance(item, dict) else str(item)
                click.echo(f"  - {text}")
