"""Peer: FastAPI, the textbook loop: ``for ws in conns: await ws.send_json(msg)``.

Every message is parsed once and serialised again for every subscriber, and the fan-out
awaits each send in turn, so one subscriber whose socket is full holds up everyone after it.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bench.peers._common import lines, parse_args, run_uvicorn, subscribed

app = FastAPI()
conns: dict[str, set[WebSocket]] = {}


@app.websocket("/ws/{channel}")
async def subscriber(ws: WebSocket, channel: str) -> None:
    await ws.accept()
    conns.setdefault(channel, set()).add(ws)
    await ws.send_text(subscribed(channel))
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        conns[channel].discard(ws)


@app.websocket("/pub")
async def producer(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            text = await ws.receive_text()
            for channel, payload in lines(text):
                msg = json.loads(payload)
                for sub in list(conns.get(channel, ())):
                    try:
                        await sub.send_json(msg)
                    except Exception:
                        conns[channel].discard(sub)
    except WebSocketDisconnect:
        pass


if __name__ == "__main__":
    run_uvicorn(app, parse_args(__doc__ or ""))
