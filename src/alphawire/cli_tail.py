"""``alphawire tail``: live messages of some channels, one line each (or JSON)."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import orjson

from alphawire.cli_hub import URL_OPTION, HubUnreachable
from alphawire.errors import AlphawireError


@click.command()
@click.argument("channels", nargs=-1, required=True)
@URL_OPTION
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
        raise HubUnreachable(url, exc) from None


# Error frames after which tailing cannot go on as asked: the command itself must change.
_REFUSALS = frozenset({"invalid_channel", "forbidden", "too_many_channels", "invalid_frame"})


def _describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


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
