"""Peer: picows (Cython WebSocket library), fan-out with ``transport.send`` per subscriber."""

from __future__ import annotations

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.peers._common import parse_args, subscribed

conns: dict[bytes, set[WSTransport]] = {}


def _closing(transport: WSTransport, frame: WSFrame) -> None:
    transport.send_close(frame.get_close_code())
    transport.disconnect()


class Subscriber(WSListener):
    def __init__(self, channel: bytes) -> None:
        self.channel = channel

    def on_ws_connected(self, transport: WSTransport) -> None:
        conns.setdefault(self.channel, set()).add(transport)
        transport.send(WSMsgType.TEXT, subscribed(self.channel.decode()).encode())

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            _closing(transport, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        conns.get(self.channel, set()).discard(transport)


class Producer(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            for line in frame.get_payload_as_bytes().split(b"\n"):
                channel, _, payload = line.partition(b" ")
                for sub in conns.get(channel, ()):
                    sub.send(WSMsgType.TEXT, payload)
        elif frame.msg_type == WSMsgType.CLOSE:
            _closing(transport, frame)


def route(request: WSUpgradeRequest) -> WSListener | None:
    path = request.path
    if path == b"/pub":
        return Producer()
    if path.startswith(b"/ws/"):
        return Subscriber(path[4:])
    return None


async def main() -> None:
    args = parse_args(__doc__ or "")
    server = await ws_create_server(
        route,
        args.host,
        args.port,
        backlog=args.backlog,
        enable_auto_ping=False,
        max_frame_size=16 * 1024 * 1024,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())
