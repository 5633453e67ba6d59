"""What every peer server shares: its command line, its limits and the uvicorn settings.

The peer protocol (the same for every peer):

- subscribers open ``/ws/{channel}`` and get ``{"type":"subscribed","channel":...}`` once
  they are registered (python-socketio: ``/socket.io/`` and a ``join`` event instead);
- the load generator opens ``/pub`` and sends text frames of ``channel payload`` lines,
  each payload being the exact frame to deliver to the channel's subscribers.
"""

from __future__ import annotations

import argparse
import resource
from collections.abc import Iterator
from typing import Any


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args()
    raise_nofile()
    return args


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def subscribed(channel: str) -> str:
    return f'{{"type":"subscribed","channel":"{channel}"}}'


def lines(text: str) -> Iterator[tuple[str, str]]:
    """(channel, payload) for each line of a producer frame."""
    for line in text.split("\n"):
        channel, _, payload = line.partition(" ")
        yield channel, payload


def run_uvicorn(app: Any, args: argparse.Namespace) -> None:
    """uvicorn as alphawire runs it: uvloop, httptools, no compression, no keepalive pings."""
    import uvicorn

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="auto",
        ws_ping_interval=None,
        ws_ping_timeout=None,
        ws_per_message_deflate=False,
        ws_max_size=16 * 1024 * 1024,
        log_level="warning",
        backlog=args.backlog,
        lifespan="on",
    )
