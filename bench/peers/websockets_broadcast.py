"""Peer: the ``websockets`` library (asyncio implementation) and its ``broadcast()``.

``broadcast()`` writes the frame to every connection's transport synchronously, without
backpressure: a connection that does not read accumulates it in its write buffer.
"""

from __future__ import annotations

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.peers._common import lines, parse_args, subscribed

conns: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else ""
    if path == "/pub":
        async for text in ws:
            assert isinstance(text, str)
            for channel, payload in lines(text):
                subs = conns.get(channel)
                if subs:
                    broadcast(subs, payload)
        return
    if not path.startswith("/ws/"):
        await ws.close(1008, "unknown path")
        return
    channel = path[4:]
    conns.setdefault(channel, set()).add(ws)
    try:
        await ws.send(subscribed(channel))
        async for _ in ws:
            pass
    finally:
        conns[channel].discard(ws)


async def main() -> None:
    args = parse_args(__doc__ or "")
    async with serve(
        handler,
        args.host,
        args.port,
        ping_interval=None,
        compression=None,
        max_size=16 * 1024 * 1024,
        backlog=args.backlog,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())
