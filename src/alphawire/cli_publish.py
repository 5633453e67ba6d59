"""``alphawire publish``: one message from the command line, or JSON lines from stdin."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import orjson

from alphawire.cli_hub import TOKEN_OPTION, URL_OPTION, HubUnreachable, hub_error, publish_token
from alphawire.errors import ServerRejected


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


@click.command()
@click.argument(
    "kind", type=click.Choice(["alert", "signal", "market_data", "agent_insight", "narrative", "-"])
)
@click.argument("fields", nargs=-1)
@URL_OPTION
@TOKEN_OPTION
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

    token = publish_token(token, data_dir)

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
    except ServerRejected as exc:  # the first line as for any refusal, then the details
        first, details = hub_error(exc.status, exc.body), orjson.dumps(exc.body).decode()
        # Without the hub's envelope (a proxy's page) the first line shows the answer already.
        said = first if first.endswith(details) else f"{first}\n{details}"
        raise click.ClickException(said) from None
    except (OSError, httpx.TransportError) as exc:
        raise HubUnreachable(url, exc) from None
    for answer in answers:
        for result in answer["results"]:
            click.echo(orjson.dumps(result).decode())
