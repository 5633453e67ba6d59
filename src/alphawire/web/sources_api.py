"""``GET /api/v1/sources``: each market-data source's state, as ``alphawire sources`` shows it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alphawire.web.requests import ORJSONResponse

router = APIRouter(prefix="/api/v1")


@router.get("/sources", summary="Market-data sources: state, last success, last error")
async def list_sources(request: Request) -> Response:
    """Every configured source by name: ``state`` (starting / ok / degraded / unavailable /
    disabled), ``last_success``, ``last_error`` (redacted: never a key, token or signed URL)
    and when, ``next_attempt``, ``items`` emitted, the record kinds it ``produces``, its
    supervised ``task`` (restarts, last crash), and vendor ``detail``; ``records`` counts what
    the agents' record bus carried by kind, with each reader's backlog and drops."""
    node = request.app.state.node
    return ORJSONResponse({"sources": node.sources_status(), "records": node.records.stats()})


__all__ = ["router"]
