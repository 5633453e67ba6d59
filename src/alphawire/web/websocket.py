"""WebSocket endpoints: a raw ASGI session per socket, bridging client frames and the core."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson

from alphawire import channels, protocol
from alphawire.errors import ChannelError
from alphawire.hub.connection import Connection
from alphawire.hub.node import Node

logger = logging.getLogger("alphawire.ws")

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class ChannelSocket:
    """ASGI app for one WebSocket route; ``initial`` maps path parameters to its channels."""

    def __init__(self, initial: Callable[[dict[str, str]], list[str]]) -> None:
        self._initial = initial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        node: Node = scope["app"].state.node
        event = await receive()
        if event["type"] != "websocket.connect":  # pragma: no cover - ASGI guarantees it
            return
        try:
            initial = self._initial(scope.get("path_params", {}))
        except ChannelError as exc:
            # Accept first: only an open socket can carry a close code and a reason.
            await send({"type": "websocket.accept"})
            await send(
                {
                    "type": "websocket.close",
                    "code": protocol.CLOSE_POLICY_VIOLATION,
                    "reason": _reason(exc.rule),
                }
            )
            return
        await send({"type": "websocket.accept"})
        await Session(node, scope, receive, send).run(initial)


class Session:
    """One open socket: subscriptions, the reader loop here, the writer in its own task."""

    def __init__(self, node: Node, scope: Scope, receive: Receive, send: Send) -> None:
        self.node = node
        self.receive = receive
        client = scope.get("client") or ("?", 0)
        settings = node.settings
        self.conn = Connection(
            send,
            node.stats,
            client=f"{client[0]}:{client[1]}",
            max_messages=settings.queue_max_messages,
            max_bytes=settings.queue_max_bytes,
        )

    async def run(self, initial: list[str]) -> None:
        registry = self.node.registry
        conn = self.conn
        registry.attach(conn)
        writer = asyncio.create_task(self._write())
        try:
            for channel in initial:
                await registry.subscribe(conn, channel)
            await self._read()
        finally:
            await registry.detach(conn)
            if not writer.done():
                writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self) -> None:
        try:
            await self.conn.run_writer()
        except (OSError, RuntimeError) as exc:
            # The peer went away mid-send (OSError), or the server already closed the socket
            # for a protocol error (RuntimeError from the ASGI server); the reader sees the
            # disconnect either way.
            logger.debug("writer for %s ended: %s", self.conn.client, exc)

    async def _read(self) -> None:
        conn = self.conn
        max_frame = self.node.settings.max_frame_bytes
        while True:
            event = await self.receive()
            kind = event["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive" or conn.is_closing:
                continue
            text = event.get("text")
            if text is None:
                conn.close(
                    protocol.CLOSE_UNSUPPORTED_DATA,
                    "binary frames are not supported: send JSON text frames",
                )
                continue
            if len(text) > max_frame and len(text.encode()) > max_frame:
                conn.close(
                    protocol.CLOSE_MESSAGE_TOO_BIG,
                    f"frame exceeds the {max_frame}-byte limit",
                )
                continue
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        conn = self.conn
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            conn.push(
                protocol.error_frame(protocol.ERR_INVALID_JSON, f"frame is not valid JSON: {exc}"),
                message=False,
            )
            return
        if not isinstance(frame, dict):
            conn.push(
                protocol.error_frame(
                    protocol.ERR_INVALID_FRAME,
                    'a client frame is a JSON object such as {"action":"ping"}',
                ),
                message=False,
            )
            return
        action = frame.get("action")
        if action == "ping":
            conn.push(protocol.PONG_FRAME, message=False)
        elif action == "subscribe":
            await self._subscribe(frame)
        elif action == "unsubscribe":
            await self._unsubscribe(frame)
        elif action is None:
            conn.push(
                protocol.error_frame(
                    protocol.ERR_INVALID_FRAME,
                    f'a client frame needs "action": one of {", ".join(protocol.ACTIONS)}',
                ),
                message=False,
            )
        else:
            shown = action if isinstance(action, str) else orjson.dumps(action).decode()
            conn.push(
                protocol.error_frame(
                    protocol.ERR_UNKNOWN_ACTION,
                    f"unknown action {shown[:64]!r}: use one of {', '.join(protocol.ACTIONS)}",
                ),
                message=False,
            )

    def _channels_of(self, frame: dict[str, Any]) -> list[Any] | None:
        value = frame.get("channels")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.conn.push(
                protocol.error_frame(
                    protocol.ERR_INVALID_FRAME,
                    f'{frame.get("action")} needs "channels": a non-empty list of channel names',
                ),
                message=False,
            )
            return None
        return value

    async def _subscribe(self, frame: dict[str, Any]) -> None:
        requested = self._channels_of(frame)
        if requested is None:
            return
        conn = self.conn
        limit = self.node.settings.max_channels_per_connection
        for raw in requested:
            try:
                channel = channels.normalize_channel(raw)
            except ChannelError as exc:
                conn.push(
                    protocol.error_frame(
                        protocol.ERR_INVALID_CHANNEL,
                        str(exc),
                        channel=raw if isinstance(raw, str) else None,
                    ),
                    message=False,
                )
                continue
            if channel not in conn.channels and len(conn.channels) >= limit:
                conn.push(
                    protocol.error_frame(
                        protocol.ERR_TOO_MANY_CHANNELS,
                        f"a connection may take at most {limit} channels",
                        channel=channel,
                    ),
                    message=False,
                )
                continue
            await self.node.registry.subscribe(conn, channel)

    async def _unsubscribe(self, frame: dict[str, Any]) -> None:
        requested = self._channels_of(frame)
        if requested is None:
            return
        conn = self.conn
        for raw in requested:
            try:
                channel = channels.normalize_channel(raw)
            except ChannelError as exc:
                conn.push(
                    protocol.error_frame(
                        protocol.ERR_INVALID_CHANNEL,
                        str(exc),
                        channel=raw if isinstance(raw, str) else None,
                    ),
                    message=False,
                )
                continue
            await self.node.registry.unsubscribe(conn, channel)
            conn.push(protocol.unsubscribed_frame(channel), message=False)


def _reason(text: str) -> str:
    # A close frame's reason must fit in 123 bytes of UTF-8 (RFC 6455 section 5.5).
    data = text.encode()
    if len(data) <= 123:
        return text
    return data[:120].decode(errors="ignore") + "..."


def routes() -> list[tuple[str, ChannelSocket]]:
    """The WebSocket routes under /api/v1 and the channels each starts with."""
    return [
        ("/ws/unified", ChannelSocket(lambda p: [channels.UNIFIED])),
        ("/ws/signals", ChannelSocket(lambda p: [channels.SIGNALS])),
        ("/ws/narrative", ChannelSocket(lambda p: [channels.NARRATIVE])),
        ("/ws/market/{symbol}", ChannelSocket(lambda p: [channels.market_channel(p["symbol"])])),
        (
            "/ws/agents/{agent_name}",
            ChannelSocket(lambda p: [channels.agent_channel(p["agent_name"])]),
        ),
        ("/ws", ChannelSocket(lambda p: [])),
    ]
