"""Peer: encode/broadcaster (memory backend) on Starlette, as in broadcaster's chat example.

Each subscriber has a broadcaster subscription (an unbounded queue) and a sender loop;
publishing goes through the backend's queue and broadcaster's listener task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.peers._common import lines, parse_args, run_uvicorn, subscribed

broadcast = Broadcast("memory://")


async def subscriber(ws: WebSocket) -> None:
    channel = ws.path_params["channel"]
    await ws.accept()
    async with broadcast.subscribe(channel) as sub:
        await ws.send_text(subscribed(channel))

        async def sender() -> None:
            async for event in sub:  # type: ignore[union-attr]
                if event is not None:
                    await ws.send_text(event.message)

        async def receiver() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                async for _ in ws.iter_text():
                    pass

        tasks = {asyncio.create_task(sender()), asyncio.create_task(receiver())}
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task


async def producer(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            text = await ws.receive_text()
            for channel, payload in lines(text):
                await broadcast.publish(channel, payload)
    except WebSocketDisconnect:
        pass


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await broadcast.connect()
    try:
        yield
    finally:
        await broadcast.disconnect()


app = Starlette(
    routes=[WebSocketRoute("/ws/{channel}", subscriber), WebSocketRoute("/pub", producer)],
    lifespan=lifespan,
)


if __name__ == "__main__":
    run_uvicorn(app, parse_args(__doc__ or ""))
