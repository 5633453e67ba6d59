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
from alphawire.alerting.outbox import OutboxFull
from alphawire.brokers.base import Broker
from alphawire.config import Config
from alphawire.errors import BrokerUnavailable
from alphawire.node import Node
from alphawire.settings import Settings
from alphawire.web import (
    agents_api,
    alerts_api,
    api,
    channels_api,
    dashboard,
    metrics,
    producer,
    sources_api,
    websocket,
)
from alphawire.web.docs import install_docs
from alphawire.web.errors import HostGuard, install_error_handlers
from alphawire.web.requests import ApiError
from alphawire.web.schemas import component_schemas


class RedactSecrets(logging.Filter):
    """Masks tokens in log lines: ``token=...`` in logged URLs and ``"token": "..."`` in frames.

    uvicorn logs WebSocket paths with their query string, and the websockets library logs
    received frames at debug level; either may carry a subscribe token.
    """

    _patterns = (
        re.compile(r"((?:[?&]|\b)token=)[^&\s\"']+", re.IGNORECASE),
        re.compile(r"(\\?[\"']token\\?[\"']\s*:\s*\\?[\"'])[^\"'\\]*", re.IGNORECASE),
        re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        redacted = message
        for pattern in self._patterns:
            redacted = pattern.sub(r"\1[redacted]", redacted)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_REDACTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets", "alphawire")


def install_log_redaction() -> None:
    """Filter every handler of the root and server loggers (filters on a logger do not see
    records from its children, filters on handlers see everything they write)."""
    seen: list[logging.Filterer] = []
    for name in ("", *_REDACTED_LOGGERS):
        logger = logging.getLogger(name)
        seen.append(logger)
        seen.extend(logger.handlers)
    for target in seen:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())


def create_app(
    settings: Settings | None = None,
    *,
    broker: Broker | None = None,
    config: Config | None = None,
    node: Node | None = None,
) -> FastAPI:
    """Build the hub's ASGI app around a node (built here from ``config``, or from
    ``settings`` alone, unless one is given); the node starts and stops with the app's
    lifespan."""
    install_log_redaction()
    if node is None:
        if config is not None:
            node = Node.from_config(config, broker)
        else:
            node = Node(settings or Settings(), broker)
    settings = node.settings

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
        docs_url=None,  # served from the package by install_docs: no CDN
        redoc_url=None,
    )
    app.state.node = node
    app.add_middleware(HostGuard, allowed_hosts=settings.trusted_hosts(), www_redirect=False)
    # The alert routes come first: /alerts/test and /alerts/{id} must not be shadowed.
    app.include_router(alerts_api.router)
    app.include_router(api.router)
    app.include_router(channels_api.router)
    app.include_router(sources_api.router)
    app.include_router(agents_api.router)
    app.include_router(metrics.router)
    app.state.metrics = metrics.registry_for(node)
    for path, endpoint in websocket.routes():
        app.router.routes.append(WebSocketRoute("/api/v1" + path, endpoint))
    app.router.routes.append(WebSocketRoute("/api/v1" + producer.PATH, producer.ProducerSocket()))

    install_error_handlers(app)
    install_docs(app)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(BrokerUnavailable)
    async def broker_down(request: Request, exc: BrokerUnavailable) -> Response:
        return ApiError(
            503, "broker_unavailable", f"{exc}; nothing was published", headers={"Retry-After": "2"}
        ).response()

    @app.exception_handler(OutboxFull)
    async def outbox_full(request: Request, exc: OutboxFull) -> Response:
        return ApiError(503, "outbox_full", str(exc), headers={"Retry-After": "5"}).response()

    dashboard.install(app)  # the page at /, its assets under /dashboard/

    @app.get("/api/v1", include_in_schema=False)
    async def index() -> dict[str, Any]:
        return {
            "name": "alphawire",
            "dashboard": "/",
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
