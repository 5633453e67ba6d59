"""The composition root: ``create_app(settings)`` wires the core into a FastAPI app."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.routing import WebSocketRoute

from alphawire import __version__
from alphawire.brokers.base import Broker
from alphawire.hub.node import Node
from alphawire.settings import Settings
from alphawire.web import api, websocket
from alphawire.web.schemas import component_schemas


class RedactSecrets(logging.Filter):
    """Masks ``token=...`` in log lines (uvicorn logs WebSocket paths with their query)."""

    _pattern = re.compile(r"((?:[?&]|\b)token=)[^&\s\"']+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                self._pattern.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = self._pattern.sub(r"\1[redacted]", record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alphawire"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def create_app(settings: Settings | None = None, *, broker: Broker | None = None) -> FastAPI:
    """Build the hub's ASGI app; the core starts and stops with the app's lifespan."""
    settings = settings or Settings()
    install_log_redaction()
    node = Node(settings, broker)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="alphawire",
        version=__version__,
        summary="Real-time market-intelligence hub",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.node = node
    app.include_router(api.router)
    for path, endpoint in websocket.routes():
        app.router.routes.append(WebSocketRoute("/api/v1" + path, endpoint))

    @app.exception_handler(api.ApiError)
    async def api_error(request: Request, exc: api.ApiError) -> Response:
        return exc.response()

    @app.get("/", include_in_schema=False)
    async def root() -> dict[str, Any]:
        return {
            "name": "alphawire",
            "version": __version__,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "asyncapi": "/api/v1/asyncapi.json",
            "stats": "/api/v1/ws/stats",
        }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=app.summary
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(component_schemas())
            components["securitySchemes"] = {
                "publishToken": {"type": "http", "scheme": "bearer", "description": "publish token"}
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
