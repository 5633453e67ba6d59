"""Running the app under uvicorn, with a shutdown that says goodbye with close code 1001."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import multiprocess

from alphawire.config import Config, load_config
from alphawire.errors import AlphawireError
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.web.app import create_app, install_log_redaction
from alphawire.web.gateway import Gateway

logger = logging.getLogger("alphawire")


class HubServer(uvicorn.Server):
    """uvicorn's server, closing every WebSocket with 1001 before uvicorn's own shutdown.

    uvicorn would close open WebSockets with 1012 (service restart); a hub going away is
    1001 (going away), which tells clients to reconnect elsewhere or later.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app if not isinstance(self.config.app, str) else _worker_app
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


def uvicorn_config(app: FastAPI | str, settings: Settings) -> uvicorn.Config:
    """uvicorn settings for the hub: loopback by default, our frame limit, no compression."""
    entry: Gateway | str = (
        Gateway(app, settings.trusted_hosts()) if isinstance(app, FastAPI) else app
    )
    fast_loop = importlib.util.find_spec("uvloop") is not None
    fast_http = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        entry,
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


_SETTINGS_ENV = "ALPHAWIRE__WORKER_SETTINGS"  # how the parent hands settings to workers
_CONFIG_ENV = "ALPHAWIRE__WORKER_CONFIG"  # and the configuration file it read ("" = none)
_worker_app: Gateway | None = None


def worker_app() -> Gateway:
    """App factory run in each worker process of ``serve --workers N``.

    Every worker serves sockets and the API; the sources and agents run in one of them only
    (the first to take the data directory's intelligence lock), or every insight and alert
    would be made N times.
    """
    global _worker_app
    settings = Settings.from_json(os.environ[_SETTINGS_ENV])
    path = os.environ.get(_CONFIG_ENV) or None
    config = load_config(Path(path) if path else None)
    config.settings = settings  # as the parent resolved it (flags included)
    node = Node.from_config(config, exclusive_intelligence=True)
    _worker_app = Gateway(create_app(node=node), settings.trusted_hosts())
    return _worker_app


def serve(settings: Settings, workers: int = 1, hub_config: Config | None = None) -> None:
    """Run a hub in the foreground until interrupted (``workers`` processes on one port).

    With ``hub_config`` the node runs the sources and agents it enables; without, a bare hub."""
    configured = bool(settings.publish_token)
    if workers > 1 and settings.broker_url.startswith("memory"):
        raise SystemExit(
            "alphawire: --workers needs a shared broker: --broker redis://host:6379/0 "
            "(with memory:// each worker would be a separate hub)"
        )
    try:
        settings.resolve_publish_token()  # once, here, so every worker shares it
        if hub_config is not None:
            hub_config.settings = settings
        app = create_app(settings, config=hub_config) if workers == 1 else None
    except AlphawireError as exc:
        raise SystemExit(f"alphawire: {exc}") from None
    if not configured:
        logger.info(
            "publishing needs the token in %s (mode 0600); the alphawire CLI reads it there",
            settings.token_path(),
        )
    if app is not None:
        config = uvicorn_config(app, settings)
        install_log_redaction()  # again: uvicorn's logging config has just created its handlers
        HubServer(config).run()
        return
    os.environ[_SETTINGS_ENV] = settings.to_json()
    path = hub_config.path if hub_config is not None else None
    os.environ[_CONFIG_ENV] = str(path) if path else ""
    config = uvicorn_config("alphawire.web.server:worker_app", settings)
    config.workers = workers
    config.factory = True
    install_log_redaction()
    # uvicorn's supervisor builds a plain Server per worker; ours closes sockets with 1001.
    multiprocess.Process = HubProcess  # type: ignore[misc]
    sock = config.bind_socket()
    multiprocess.Multiprocess(config, sockets=[sock]).run()


class HubProcess(multiprocess.Process):
    """A worker of ``serve --workers N``: uvicorn's, running a HubServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = HubServer(config=self.config)
        return self._server
