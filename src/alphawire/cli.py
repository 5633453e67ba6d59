"""The ``alphawire`` command: serve, demo, tail, publish."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import orjson

from alphawire import __version__
from alphawire.cli_config import CONFIG_OPTION, config_from_cli, config_group
from alphawire.config import PluginTable
from alphawire.console import clean_stop, demo_banner, demo_data_dir, self_command
from alphawire.errors import AlphawireError, ServerRejected
from alphawire.settings import Settings, default_data_dir, read_token_file

_URL = click.option(
    "--url",
    envvar="ALPHAWIRE_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Hub base URL [env ALPHAWIRE_URL].",
)


def _server_options(fn: Any) -> Any:
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


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@click.group()
@click.version_option(__version__, prog_name="alphawire")
def main() -> None:
    """alphawire: a real-time market-intelligence hub."""
    # A command started in the background of a script (`alphawire tail ... &`) inherits
    # SIGINT ignored, and then Ctrl-C / SIGINT, the documented way to stop tail, serve and
    # demo, would do nothing: take the default (KeyboardInterrupt) back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


main.add_command(config_group)


@main.command()
@_server_options
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
    _configure_logging(settings.log_level)
    with clean_stop():
        run(settings, workers, config)


@main.command()
@_server_options
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
    _configure_logging(settings.log_level)
    sim = config.sources.get("sim")
    if sim is None or not sim.enabled:  # the demo is the simulated market, whatever the file
        config.sources["sim"] = PluginTable("sim", True, sim.options if sim else {})
    click.echo(demo_banner(settings, self_command(), own_dir), err=True)
    with clean_stop():
        run(settings, 1, config)


@main.command()
@click.argument("channels", nargs=-1, required=True)
@_URL
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--token",
    envvar="ALPHAWIRE_SUBSCRIBE_TOKEN",
    default=None,
    help="Subscribe token (JWT), when the hub requires one [env ALPHAWIRE_SUBSCRIBE_TOKEN].",
)
@click.option("--no-reconnect", is_flag=True, help="Exit when the connection drops.")
def tail(
    channels: tuple[str, ...], url: str, as_json: bool, token: str | None, no_reconnect: bool
) -> None:
    """Print live messages of CHANNELS (e.g. unified market_SPY agent_marketagent).

    Reconnects by itself and resumes from the last seq it printed, so nothing is missed
    across a dropped link or a hub restart; a gap the hub cannot fill is printed as such.
    """
    from alphawire.channels import normalize_channel
    from alphawire.client import Subscription, ws_url
    from alphawire.errors import ClientError

    for name in channels:
        try:
            normalize_channel(name)
        except AlphawireError as exc:
            raise click.BadParameter(str(exc), param_hint="CHANNELS") from None
    click.echo(f"connecting to {ws_url(url, '/api/v1/ws')} ...", err=True)
    retrying = False

    def on_retry(attempt: int, delay: float, exc: BaseException) -> None:
        nonlocal retrying
        retrying = True
        click.echo(
            f"cannot reach the hub at {url} ({_describe_error(exc)}); "
            f"retrying in {delay:.1f} s (attempt {attempt}; Ctrl-C to stop)",
            err=True,
        )

    def on_disconnect(code: int | None, reason: str) -> None:
        nonlocal retrying
        retrying = True
        why = f"close {code}" + (f" {reason}" if reason else "") if code else "connection lost"
        click.echo(
            f"disconnected from {url} ({why}); reconnecting, resuming after the last seq shown",
            err=True,
        )

    async def run() -> None:
        nonlocal retrying
        async with Subscription(
            channels,
            url=url,
            token=token,
            control=True,
            reconnect=not no_reconnect,
            on_retry=on_retry,
            on_disconnect=on_disconnect,
        ) as sub:
            async for frame in sub:
                kind = frame.get("type")
                if retrying:
                    retrying = False
                    click.echo(f"connected to {url}", err=True)
                if kind == "error" and frame.get("code") in _REFUSALS:
                    raise ClientError(f"{frame.get('code')}: {frame.get('message')}")
                if as_json:
                    click.echo(orjson.dumps(frame).decode())
                else:
                    click.echo(render(frame))
                if kind == "subscribed" and frame.get("seq") == 0 and not frame.get("recovered"):
                    click.echo(f"subscribed; no message yet on {frame.get('channel')}", err=True)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None


# Error frames after which tailing cannot go on as asked: the command itself must change.
_REFUSALS = frozenset({"invalid_channel", "forbidden", "too_many_channels", "invalid_frame"})


def _describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _get_json(url: str, path: str) -> Any:
    """GET a read-only endpoint of the hub; a clear ClickException when it cannot answer."""
    try:
        response = httpx.get(url.rstrip("/") + path, timeout=10)
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
    if response.status_code != 200:
        raise click.ClickException(f"hub answered {response.status_code}: {response.text[:300]}")
    return response.json()


@main.command("channels")
@_URL
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_channels(url: str, as_json: bool) -> None:
    """List the hub's channels with their last seq and subscriber counts."""
    rows = _get_json(url, "/api/v1/channels")["channels"]
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row).decode())
        return
    width = max([len("channel"), *(len(r["channel"]) for r in rows)])
    click.echo(f"{'channel':<{width}}  {'last seq':>9}  {'subscribers':>11}")
    for row in rows:
        click.echo(f"{row['channel']:<{width}}  {row['last_seq']:>9}  {row['subscribers']:>11}")


@main.command("sources")
@_URL
@click.option("--json", "as_json", is_flag=True, help="The hub's answer as JSON.")
def list_sources(url: str, as_json: bool) -> None:
    """Show each market-data source's state, last success, last error and items."""
    body = _get_json(url, "/api/v1/sources")
    if as_json:
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    sources: dict[str, dict[str, Any]] = body["sources"]
    if not sources:
        click.echo("no source is configured (see [sources.NAME] in alphawire.toml)")
        return
    width = max(len("source"), *(len(n) for n in sources))
    click.echo(
        f"{'source':<{width}}  {'state':<11}  {'items':>9}  {'last success':<20}  last error"
    )
    for name, row in sources.items():
        success = (row.get("last_success") or "-")[:19]
        error = row.get("last_error") or "-"
        click.echo(
            f"{name:<{width}}  {row['state']:<11}  {row['items']:>9}  {success:<20}  {error}"
        )


def render(frame: dict[str, Any]) -> str:
    """A one-line, human-readable rendering of a frame."""
    kind = frame.get("type")
    ts = str(frame.get("timestamp", ""))[11:23]
    head = f"{ts} {frame.get('channel', '')}#{frame.get('seq', '')}"
    if kind == "market_data":
        d = frame.get("data", {})
        parts = [f"{frame.get('symbol')}"]
        for key, label in (("price", ""), ("bid", "bid "), ("ask", "ask "), ("change_pct", "")):
            if d.get(key) is not None:
                parts.append(
                    f"{label}{d[key]:+.2f}%" if key == "change_pct" else f"{label}{d[key]}"
                )
        volume = d.get("volume")
        if volume is not None:
            shown = int(volume) if float(volume).is_integer() else volume
            parts.append(f"vol {shown}")
        if frame.get("snapshot"):
            parts.append("(snapshot)")
        return f"{head} {' '.join(parts)}"
    if kind == "alert":
        sym = f" {frame['symbol']}" if frame.get("symbol") else ""
        what = f"{frame.get('alert_type')}{sym} [{frame.get('source')}]"
        return f"{head} ALERT {what} {frame.get('content', '')}"
    if kind == "signal":
        s = frame.get("signal", {})
        extra = " ".join(
            f"{k}={s[k]}" for k in ("action", "confidence", "entry", "stop", "target") if k in s
        )
        return f"{head} SIGNAL {s.get('symbol')} {extra}".rstrip()
    if kind == "agent_insight":
        return f"{head} {frame.get('agent')}: {orjson.dumps(frame.get('insight')).decode()}"
    if kind == "narrative":
        return f"{head} NARRATIVE {orjson.dumps(frame.get('narrative')).decode()}"
    if kind == "subscribed":
        return f"-- subscribed to {frame.get('channel')} (last seq {frame.get('seq')})"
    if kind == "error":
        return f"-- error {frame.get('code')}: {frame.get('message')}"
    if kind == "recovery":
        return (
            f"-- GAP on {frame.get('channel')}: messages after seq {frame.get('since')} "
            "could not be "
            f"recovered ({frame.get('reason')}); live from seq {frame.get('seq')}"
        )
    if kind == "skipped":
        return f"-- {frame.get('channel')}: {frame.get('count')} older ticks conflated"
    return orjson.dumps(frame).decode()


def _parse_fields(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs into an object; dotted keys nest; values are JSON when they parse."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="FIELDS")
        try:
            value: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        target = out
        *parents, leaf = key.split(".")
        for part in parents:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise click.BadParameter(f"{key!r} nests under a non-object", param_hint="FIELDS")
            target = nxt
        target[leaf] = value
    return out


@main.command()
@click.argument(
    "kind", type=click.Choice(["alert", "signal", "market_data", "agent_insight", "narrative", "-"])
)
@click.argument("fields", nargs=-1)
@_URL
@click.option(
    "--token",
    envvar="ALPHAWIRE_PUBLISH_TOKEN",
    default=None,
    help="Publish token [env ALPHAWIRE_PUBLISH_TOKEN; default: the local hub's token file].",
)
@click.option(
    "--data-dir",
    envvar="ALPHAWIRE_DATA_DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="Data dir of a local hub, to find its token file.",
)
def publish(
    kind: str, fields: tuple[str, ...], url: str, token: str | None, data_dir: Path | None
) -> None:
    """Publish one message from KIND and FIELDS, or JSON lines from stdin with KIND '-'.

    \b
    alphawire publish alert alert_type=dark_pool source=cli symbol=SPY content="2M shares @ 598"
    alphawire publish signal signal.symbol=NVDA signal.action=buy signal.confidence=0.8
    alphawire publish market_data symbol=SPY data.price=598.2 data.volume=1200
    alphawire publish agent_insight agent=MarketAgent insight.regime=risk_on
    alphawire publish narrative narrative.headline="Tech leads"
    cat messages.jsonl | alphawire publish -     (each line has its "type")
    """
    from alphawire.client import PublisherClient

    token = token or read_token_file(data_dir)
    if not token:
        raise click.ClickException(
            "no publish token: pass --token, set ALPHAWIRE_PUBLISH_TOKEN, "
            "or run where the hub's data dir is"
        )

    async def run() -> list[dict[str, Any]]:
        async with PublisherClient(url, token) as client:
            if kind != "-":
                return [await client.publish_many([{"type": kind, **_parse_fields(fields)}])]
            answers = []
            batch: list[Any] = []
            for lineno, line in enumerate(sys.stdin, 1):
                if not line.strip():
                    continue
                try:
                    batch.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise click.ClickException(f"stdin line {lineno} is not JSON: {exc}") from None
                if len(batch) == 1000:
                    answers.append(await client.publish_many(batch))
                    batch = []
            if batch:
                answers.append(await client.publish_many(batch))
            return answers

    try:
        answers = asyncio.run(run())
    except ServerRejected as exc:
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        said = f"{error.get('message')}\n" if isinstance(error, dict) else ""
        raise click.ClickException(
            f"hub refused ({exc.status}): {said}{orjson.dumps(exc.body).decode()}"
        ) from None
    except (OSError, httpx.TransportError) as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
    for answer in answers:
        for result in answer["results"]:
            click.echo(orjson.dumps(result).decode())


if __name__ == "__main__":  # pragma: no cover
    main()


@main.group()
def alerts() -> None:
    """AlertManager operations: dead letters, replays, test alerts."""


def _api(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10)


def _publish_token(token: str | None, data_dir: Path | None) -> str:
    token = token or read_token_file(data_dir)
    if not token:
        raise click.ClickException(
            "no publish token: pass --token, set ALPHAWIRE_PUBLISH_TOKEN, "
            "or run where the hub's data dir is"
        )
    return token


_TOKEN = click.option(
    "--token",
    envvar="ALPHAWIRE_PUBLISH_TOKEN",
    default=None,
    help="Publish token [env ALPHAWIRE_PUBLISH_TOKEN; default: the local hub's token file].",
)
_DATA_DIR = click.option(
    "--data-dir",
    envvar="ALPHAWIRE_DATA_DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="Data dir of a local hub (its token file, and its outbox when the hub is down).",
)


@alerts.command("dead")
@_URL
@_DATA_DIR
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def alerts_dead(url: str, data_dir: Path | None, limit: int, as_json: bool) -> None:
    """List dead-lettered deliveries, newest first (from the hub, or its outbox when it is down)."""
    try:
        with _api(url) as http:
            response = http.get("/api/v1/alerts/dead", params={"limit": limit})
        if response.status_code != 200:
            raise click.ClickException(
                f"hub answered {response.status_code}: {response.text[:300]}"
            )
        rows = response.json()["dead"]
    except httpx.TransportError:
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
@_URL
@_TOKEN
@_DATA_DIR
def alerts_replay(
    alert_id: str, destination: str | None, url: str, token: str | None, data_dir: Path | None
) -> None:
    """Deliver a dead-lettered alert again (re-enabling a disabled destination)."""
    token = _publish_token(token, data_dir)
    params = {"destination": destination} if destination else {}
    try:
        with _api(url, token) as http:
            response = http.post(f"/api/v1/alerts/{alert_id}/replay", params=params)
        if response.status_code != 200:
            raise click.ClickException(
                f"hub answered {response.status_code}: {response.text[:300]}"
            )
        count = response.json()["replayed"]
    except httpx.TransportError:
        box = _local_outbox(data_dir)
        if destination is not None:
            box.enable(destination)
        count = box.replay(alert_id, destination)
    click.echo(f"{count} deliveries of {alert_id} queued again")


@alerts.command("test")
@_URL
@_TOKEN
@_DATA_DIR
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the results.")
def alerts_test(url: str, token: str | None, data_dir: Path | None, wait: float) -> None:
    """Send a test alert through every route and report what each destination did."""
    import time

    token = _publish_token(token, data_dir)
    try:
        with _api(url, token) as http:
            response = http.post("/api/v1/alerts/test")
            if response.status_code != 202:
                raise click.ClickException(
                    f"hub answered {response.status_code}: {response.text[:300]}"
                )
            alert_id = response.json()["id"]
            deadline = time.monotonic() + wait
            while True:
                state = http.get(f"/api/v1/alerts/{alert_id}").json()
                pending = [d for d in state["deliveries"] if d["state"] == "pending"]
                if not pending or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
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
@_URL
@_TOKEN
@_DATA_DIR
def alerts_enable(route: str, url: str, token: str | None, data_dir: Path | None) -> None:
    """Enable a disabled ROUTE (after fixing its webhook) and deliver the alerts it held."""
    name = route.removeprefix("discord:")
    token = _publish_token(token, data_dir)
    try:
        with _api(url, token) as http:
            response = http.post(f"/api/v1/alerts/routes/{name}/enable")
        if response.status_code != 200:
            raise click.ClickException(
                f"hub answered {response.status_code}: {response.text[:300]}"
            )
        answer = response.json()
        released, reason = answer["released"], answer["disabled"]
    except httpx.TransportError:
        box = _local_outbox(data_dir)
        reason = box.disabled().get(f"discord:{name}")
        released = box.enable(f"discord:{name}")
    was = f"was {reason}" if reason else "was not disabled"
    click.echo(f"route {name} enabled ({was}); {released} held alerts queued for delivery")


def _local_outbox(data_dir: Path | None) -> Any:
    from alphawire.alerting.outbox import Outbox

    path = (data_dir or default_data_dir()) / "alerts.sqlite3"
    if not path.exists():
        raise click.ClickException(f"the hub is unreachable and there is no outbox at {path}")
    return Outbox(path)


main.add_command(__import__("alphawire.cli_record").cli_record.record)
main.add_command(__import__("alphawire.cli_agents").cli_agents.agents)
main.add_command(__import__("alphawire.cli_agents").cli_agents.narrative)
main.add_command(__import__("alphawire.cli_replay").cli_replay.replay)
