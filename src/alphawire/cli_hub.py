"""How a command reaches a running hub: ``--url``, the publish token, one request helper.

Every command that calls the hub's REST API goes through ``ask_hub``, so they all fail the
same way: ``cannot reach the hub at URL: why`` when nothing answers, ``hub answered STATUS:
message`` (the message of the hub's error envelope) when it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import httpx
import orjson

from alphawire.settings import read_token_file

URL_OPTION = click.option(
    "--url",
    envvar="ALPHAWIRE_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Hub base URL [env ALPHAWIRE_URL].",
)

TOKEN_OPTION = click.option(
    "--token",
    envvar="ALPHAWIRE_PUBLISH_TOKEN",
    default=None,
    help="Publish token [env ALPHAWIRE_PUBLISH_TOKEN; default: the local hub's token file].",
)


class HubUnreachable(click.ClickException):
    """Nothing answered at the hub's URL (a command with a local fallback catches it)."""

    def __init__(self, url: str, exc: BaseException) -> None:
        super().__init__(f"cannot reach the hub at {url}: {exc}")


def hub_error(status: int, body: Any) -> str:
    """``hub answered STATUS: MESSAGE``: the message of the hub's error envelope
    (``{"error": {"message": ...}}``), else the first 300 characters of the answer."""
    try:
        message = body["error"]["message"]
    except (KeyError, TypeError):
        message = body if isinstance(body, str) else orjson.dumps(body).decode()
    return f"hub answered {status}: {str(message)[:300]}"


def ask_hub(
    method: str,
    url: str,
    path: str,
    *,
    token: str | None = None,
    params: Mapping[str, Any] | None = None,
    expect: int = 200,
    timeout: float = 10,
) -> Any:
    """The JSON answer of one request to the hub at ``url``.

    Raises ``HubUnreachable`` when nothing answers, and a ``ClickException`` (``hub_error``)
    for any status but ``expect``.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, params=params, headers=headers, timeout=timeout
        )
    except httpx.TransportError as exc:
        raise HubUnreachable(url, exc) from None
    if response.status_code != expect:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise click.ClickException(hub_error(response.status_code, body))
    return response.json()


def publish_token(token: str | None, data_dir: Path | None) -> str:
    """``token``, else the local hub's token file; a clear error when there is neither."""
    token = token or read_token_file(data_dir)
    if not token:
        raise click.ClickException(
            "no publish token: pass --token, set ALPHAWIRE_PUBLISH_TOKEN, "
            "or run where the hub's data dir is"
        )
    return token


def echo_json(body: Any) -> None:
    """The hub's answer as indented JSON (a listing's ``--json``)."""
    click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


def echo_table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
    """A header and a line per row, two spaces between columns.

    A column is ``(title, spec)``: each cell (and the title) is formatted with ``spec``
    (``">9"``, ``"<11"``, ``""``), and ``"*"`` pads the column to its widest cell.
    """
    specs = [
        f"<{max([len(title), *(len(str(row[i])) for row in rows)])}" if spec == "*" else spec
        for i, (title, spec) in enumerate(columns)
    ]
    for line in ([title for title, _ in columns], *rows):
        click.echo("  ".join(format(cell, spec) for cell, spec in zip(line, specs, strict=True)))
