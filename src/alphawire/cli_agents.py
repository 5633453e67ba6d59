"""``alphawire agents`` and ``alphawire narrative``: the agents' REST endpoints in a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import httpx
import orjson

from alphawire.settings import read_token_file

_URL = click.option(
    "--url",
    envvar="ALPHAWIRE_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Hub base URL [env ALPHAWIRE_URL].",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="The hub's answer as JSON.")


def _call(method: str, url: str, path: str, **kw: Any) -> Any:
    try:
        response = httpx.request(method, url.rstrip("/") + path, timeout=30, **kw)
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        raise click.ClickException(f"hub answered {response.status_code}: {message}")
    return response.json()


def _dump(body: Any) -> None:
    click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


def _insight_line(insight: dict[str, Any]) -> str:
    symbol = insight.get("symbol") or "market"
    return (
        f"{symbol:<8} {insight.get('stance', '-'):<8} {insight.get('score', 0):+.2f} "
        f"{insight.get('confidence', 0):>4.0%}  {insight.get('headline', '')}"
    )


@click.command("agents")
@click.argument("name", required=False)
@_URL
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
        token = token or read_token_file(data_dir)
        if not token:
            raise click.ClickException(
                "no publish token: pass --token, set ALPHAWIRE_PUBLISH_TOKEN, "
                "or run where the hub's data dir is"
            )
        body = _call(
            "POST", url, f"/api/v1/agents/{name}/run", headers={"Authorization": f"Bearer {token}"}
        )
        if as_json:
            _dump(body)
            return
        click.echo(f"{body['agent']}: {len(body['insights'])} insights published")
        for insight in body["insights"]:
            click.echo(_insight_line(insight))
        return
    if name is not None:
        body = _call("GET", url, f"/api/v1/agents/{name}")
        if as_json:
            _dump(body)
            return
        status = body["status"]
        click.echo(
            f"{body['agent']}: {status.get('state')}, last run {status.get('last_run') or '-'}, "
            f"last error {status.get('last_error') or '-'}"
        )
        for insight in body["insights"]:
            click.echo(_insight_line(insight))
        return
    body = _call("GET", url, "/api/v1/agents")
    if as_json:
        _dump(body)
        return
    rows: dict[str, dict[str, Any]] = body["agents"]
    if not rows:
        click.echo("no agent runs on this hub (see [agents.NAME] in alphawire.toml)")
        return
    width = max(len("agent"), *(len(n) for n in rows))
    click.echo(
        f"{'agent':<{width}}  {'state':<10}  {'cadence':>7}  {'last run':<19}  "
        f"{'last insight':<19}  last error"
    )
    for agent, row in rows.items():
        cadence = row.get("cadence_seconds")
        shown = f"{cadence:g}s" if cadence is not None else "-"
        click.echo(
            f"{agent:<{width}}  {row.get('state') or '-'!s:<10}  {shown:>7}  "
            f"{(row.get('last_run') or '-')[:19]:<19}  "
            f"{(row.get('last_insight_at') or '-')[:19]:<19}  {row.get('last_error') or '-'}"
        )


@click.command("narrative")
@click.option("--symbol", default=None, help="The symbol's narrative (default: market-wide).")
@_URL
@_JSON
def narrative(symbol: str | None, url: str, as_json: bool) -> None:
    """Show the newest narrative (market-wide, or about --symbol)."""
    params = {"symbol": symbol} if symbol else {}
    body = _call("GET", url, "/api/v1/narrative/latest", params=params)
    if as_json:
        _dump(body)
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
