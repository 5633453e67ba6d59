"""Peer: python-socketio (ASGI) under uvicorn; one room per channel.

Subscribers speak Engine.IO v4 over WebSocket and send a ``join`` event; the producer socket
is a plain WebSocket at /pub handled next to socket.io, and each message is ``emit``-ted to
its room (python-socketio encodes the packet once per emit).
"""

from __future__ import annotations

import json
from typing import Any

import socketio

from bench.peers._common import lines, parse_args, run_uvicorn

# Pings far apart: the other servers do not ping during the benchmark either.
sio = socketio.AsyncServer(async_mode="asgi", ping_interval=600, ping_timeout=600)


@sio.on("join")
async def join(sid: str, channel: str) -> None:
    await sio.enter_room(sid, channel)
    await sio.emit("subscribed", channel, to=sid)


async def producer_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket" and scope["path"] == "/pub":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            for channel, payload in lines(event.get("text") or ""):
                await sio.emit("tick", json.loads(payload), room=channel)
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.close", "code": 1008})


app = socketio.ASGIApp(sio, other_asgi_app=producer_app)


if __name__ == "__main__":
    run_uvicorn(app, parse_args(__doc__ or ""))
