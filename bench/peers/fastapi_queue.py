"""Peer: FastAPI with a bounded queue and a writer task per connection.

The producer only does ``put_nowait`` (never waits on a subscriber); each connection's
writer task drains its queue with ``send_text``. A full queue drops the new message for that
connection only.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bench.peers._common import lines, parse_args, run_uvicorn, subscribed

QUEUE_MAX = 1024

app = FastAPI()
queues: dict[str, set[asyncio.Queue[str]]] = {}
dropped = 0


async def _writer(ws: WebSocket, queue: asyncio.Queue[str]) -> None:
    while True:
        await ws.send_text(await queue.get())


@app.websocket("/ws/{channel}")
async def subscriber(ws: WebSocket, channel: str) -> None:
    await ws.accept()
    queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
    queues.setdefault(channel, set()).add(queue)
    await ws.send_text(subscribed(channel))
    writer = asyncio.create_task(_writer(ws, queue))
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        queues[channel].discard(queue)
        writer.cancel()
        with contextlib.suppress(BaseException):
            await writer


@app.websocket("/pub")
async def producer(ws: WebSocket) -> None:
    global dropped
    await ws.accept()
    try:
        while True:
            text = await ws.receive_text()
            for channel, payload in lines(text):
                for queue in queues.get(channel, ()):
                    try:
                        queue.put_nowait(payload)
                    except asyncio.QueueFull:
                        dropped += 1
    except WebSocketDisconnect:
        pass


if __name__ == "__main__":
    run_uvicorn(app, parse_args(__doc__ or ""))
