"""The alert log and AlertManager operations over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alphawire import channels, messages
from alphawire.errors import ChannelError
from alphawire.web.requests import ApiError, ORJSONResponse, authorize, int_param, reader

router = APIRouter(prefix="/api/v1/alerts")


def _since(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(
            422, "invalid_parameter", "since must be unix seconds or an ISO-8601 time"
        ) from None


@router.get("", summary="The alert log, newest first")
async def list_alerts(request: Request) -> Response:
    node = reader(request, channels.UNIFIED)
    params = request.query_params
    symbol = params.get("symbol")
    if symbol is not None:
        try:
            symbol = channels.normalize_symbol(symbol)
        except ChannelError as exc:
            raise ApiError(422, "invalid_parameter", str(exc)) from None
    limit = int_param(request, "limit", 100, 1, 1000)
    assert limit is not None
    rows = node.alerts.outbox.log(
        symbol=symbol, alert_type=params.get("type"), since=_since(params.get("since")), limit=limit
    )
    return ORJSONResponse({"alerts": rows})


@router.get("/dead", summary="Dead-lettered deliveries, newest first")
async def list_dead(request: Request) -> Response:
    node = reader(request, channels.UNIFIED)
    limit = int_param(request, "limit", 100, 1, 1000)
    assert limit is not None
    return ORJSONResponse({"dead": node.alerts.outbox.dead(limit)})


@router.post("/test", status_code=202, summary="Send a test alert through every route")
async def send_test(request: Request) -> Response:
    node = authorize(request)
    model = messages.validate(
        {
            "alert_type": "test",
            "source": "alphawire",
            "content": "alphawire test alert: if you can read this, this route works.",
            "severity": "info",
        },
        "alert",
    )
    assert isinstance(model, messages.Alert)
    (receipt,) = await node.alerts.accept_and_publish([model], test=True)
    return ORJSONResponse(receipt.as_json(), status_code=202)


@router.post(
    "/routes/{route}/enable",
    summary="Enable a disabled route and deliver the alerts it held",
)
async def enable_route(request: Request, route: str) -> Response:
    """Make a route deliver again after its webhook was fixed: what it held goes, in order."""
    node = authorize(request)
    name = route.removeprefix("discord:")
    known = [r.name for r in node.alerts.routes.routes]
    if name not in known:
        listed = ", ".join(known) or "none (no Discord route is configured)"
        raise ApiError(404, "not_found", f"no alert route {name[:64]!r}; routes: {listed}")
    destination = f"discord:{name}"
    reason = node.alerts.outbox.disabled().get(destination)
    released = node.alerts.enable(destination)
    body = {"route": name, "destination": destination, "disabled": reason, "released": released}
    return ORJSONResponse(body)


@router.get("/{alert_id}", summary="One alert with its delivery state per destination")
async def get_alert(request: Request, alert_id: str) -> Response:
    node = reader(request, channels.UNIFIED)
    found = node.alerts.outbox.get(alert_id)
    if found is None:
        raise ApiError(404, "not_found", f"no alert with id {alert_id[:40]!r}")
    return ORJSONResponse(found)


@router.post("/{alert_id}/replay", summary="Make an alert's dead deliveries pending again")
async def replay(request: Request, alert_id: str) -> Response:
    node = authorize(request)
    if node.alerts.outbox.get(alert_id) is None:
        raise ApiError(404, "not_found", f"no alert with id {alert_id[:40]!r}")
    destination = request.query_params.get("destination")
    count = node.alerts.replay(alert_id, destination)
    body: dict[str, Any] = {"id": alert_id, "replayed": count}
    return ORJSONResponse(body)


__all__ = ["router"]
