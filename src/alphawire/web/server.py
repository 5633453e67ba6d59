"""Running the app under uvicorn, with a shutdown that says goodbye with close code 1001."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket

import uvicorn
from fastapi import FastAPI

from alphawire.errors import AlphawireError
from alphawire.hub.node import Node
from alphawire.settings import Settings
from alphawire.web.app import create_app, install_log_redaction

logger = logging.getLogger("alphawire")


class HubServer(uvicorn.Server):
    """uvicorn's server, closing every WebSocket with 1001 before uvicorn's own shutdown.

    uvicorn would close open WebSockets with 1012 (service restart); a hub going away is
    1001 (going away), which tells clients to reconnect elsewhere or later.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        node: Node | None = getattr(getattr(app, "state", None), "node", None)
        if node is not None:
            node.begin_shutdown()
            # Let the writers flush their close frames (bounded: a stuck client cannot
            # hold shutdown up).
            for _ in range(20):
                if node.registry.connection_count() == 0:
                    break
                await asyncio.sleep(0.05)
        await super().shutdown(sockets)


def uvicorn_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """uvicorn settings for the hub: loopback by default, our frame limit, no compression."""
    fast_loop = importlib.util.find_spec("uvloop") is not None
    fast_http = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        loop="uvloop" if fast_loop else "asyncio",
        http="httptools" if fast_http else "h11",
        # The hub's own subclass of uvicorn's sans-I/O protocol: direct writes of pre-framed
        # messages, slow-peer cut-off, spread keepalive pings (see web/transport.py).
        ws="alphawire.web.transport:HubWebSocketProtocol",
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ping_interval if settings.ping_interval > 0 else None,
        ws_ping_timeout=settings.ping_timeout if settings.ping_timeout > 0 else None,
        # Per-message compression costs CPU per frame per client on hot channels.
        ws_per_message_deflate=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def serve(settings: Settings) -> None:
    """Run a hub in the foreground until interrupted."""
    configured = bool(settings.publish_token)
    try:
        app = create_app(settings)
    except AlphawireError as exc:
        raise SystemExit(f"alphawire: {exc}") from None
    if not configured:
        logger.info(
            "publishing needs the token in %s (mode 0600); the alphawire CLI reads it there",
            settings.token_path(),
        )
    config = uvicorn_config(app, settings)
    install_log_redaction()  # again: uvicorn's logging config has just created its handlers
    HubServer(config).run()
