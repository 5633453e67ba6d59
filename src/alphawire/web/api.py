"""The HTTP API: publishing (token required), stats, health and the AsyncAPI document."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from alphawire import channels, messages
from alphawire.errors import ChannelError, ValidationError
from alphawire.hub.frames import message_frame
from alphawire.web.requests import (
    ApiError,
    ORJSONResponse,
    authorize,
    int_param,
    node_of,
    read_json,
    reader,
)
from alphawire.web.schemas import REF, asyncapi_document

router = APIRouter(prefix="/api/v1")


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(
            422,
            "invalid_message",
            "request body must be a JSON object of the message's fields",
            [{"loc": [], "field": None, "message": "must be a JSON object", "type": "dict_type"}],
        )
    return data


def _invalid(exc: ValidationError) -> ApiError:
    return ApiError(422, "invalid_message", exc.message, exc.errors)


def _path_value(data: dict[str, Any], key: str, value: str, canonical: str, normalize: Any) -> None:
    """Put the path's symbol or agent in the body; a different one in the body is an error."""
    given = data.get(key)
    if given is None:
        data[key] = value
        return
    try:
        same = normalize(given) == canonical
    except ChannelError:
        same = False
    if not same:
        msg = f"{key} in the body ({str(given)[:40]!r}) differs from the path ({value!r})"
        raise ApiError(
            422,
            "invalid_message",
            msg,
            [{"loc": [key], "field": key, "message": msg, "type": "path_mismatch"}],
        )


async def _publish_one(
    request: Request, kind: messages.MessageType, data: dict[str, Any]
) -> Response:
    node = node_of(request)
    key = request.headers.get("idempotency-key")
    if key is not None and data.get("idempotency_key") is None:
        data["idempotency_key"] = key
    try:
        model = messages.validate(data, kind)
    except ValidationError as exc:
        raise _invalid(exc) from None
    (result,) = await node.publish_models([model])
    return ORJSONResponse(result, status_code=202)


def _body(schema: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=schema)}}},
        },
        "security": [{"publishToken": []}],
        "responses": {
            "202": {"description": "Accepted: the message's id, channels and per-channel seq."},
            "400": {"description": "Body is not JSON."},
            "401": {"description": "Missing or wrong publish token; nothing published."},
            "413": {"description": "Body over the request size limit."},
            "422": {
                "description": "Invalid message: every error with its field; nothing published."
            },
        },
    }


@router.post("/alerts", status_code=202, openapi_extra=_body("Alert"), summary="Publish an alert")
async def post_alert(request: Request) -> Response:
    node = authorize(request)
    data = _object(await read_json(request, node.settings.max_request_bytes))
    return await _publish_one(request, "alert", data)


@router.post("/signals", status_code=202, openapi_extra=_body("Signal"), summary="Publish a signal")
async def post_signal(request: Request) -> Response:
    node = authorize(request)
    data = _object(await read_json(request, node.settings.max_request_bytes))
    return await _publish_one(request, "signal", data)


@router.post(
    "/market/{symbol}",
    status_code=202,
    openapi_extra=_body("MarketDataFields"),
    summary="Publish a market-data tick",
)
async def post_market_data(request: Request, symbol: str) -> Response:
    node = authorize(request)
    try:
        canonical = channels.normalize_symbol(symbol)
    except ChannelError as exc:
        raise ApiError(
            422,
            "invalid_symbol",
            str(exc),
            [
                {
                    "loc": ["path", "symbol"],
                    "field": "symbol",
                    "message": exc.rule,
                    "type": "value_error",
                }
            ],
        ) from None
    data = _object(await read_json(request, node.settings.max_request_bytes))
    _path_value(data, "symbol", symbol, canonical, channels.normalize_symbol)
    return await _publish_one(request, "market_data", data)


@router.post(
    "/agents/{agent_name}/insights",
    status_code=202,
    openapi_extra=_body("AgentInsightFields"),
    summary="Publish an agent insight",
)
async def post_agent_insight(request: Request, agent_name: str) -> Response:
    node = authorize(request)
    try:
        canonical = channels.normalize_agent(agent_name)
    except ChannelError as exc:
        raise ApiError(
            422,
            "invalid_agent",
            str(exc),
            [
                {
                    "loc": ["path", "agent_name"],
                    "field": "agent",
                    "message": exc.rule,
                    "type": "value_error",
                }
            ],
        ) from None
    data = _object(await read_json(request, node.settings.max_request_bytes))
    _path_value(data, "agent", agent_name, canonical, channels.normalize_agent)
    return await _publish_one(request, "agent_insight", data)


@router.post(
    "/narrative", status_code=202, openapi_extra=_body("Narrative"), summary="Publish a narrative"
)
async def post_narrative(request: Request) -> Response:
    node = authorize(request)
    data = _object(await read_json(request, node.settings.max_request_bytes))
    return await _publish_one(request, "narrative", data)


@router.post(
    "/publish",
    status_code=202,
    openapi_extra=_body("PublishBatch"),
    summary="Publish a batch (all or nothing)",
)
async def post_batch(request: Request) -> Response:
    node = authorize(request)
    data = _object(await read_json(request, node.settings.max_request_bytes))
    unknown = sorted(set(data) - {"messages"})
    if unknown:
        msg = f'unknown field(s) {", ".join(unknown)}: the body is {{"messages": [...]}}'
        raise ApiError(
            422,
            "invalid_message",
            msg,
            [
                {"loc": [k], "field": k, "message": "unknown field", "type": "extra_forbidden"}
                for k in unknown
            ],
        )
    if "messages" not in data:
        raise ApiError(
            422,
            "invalid_message",
            'missing field "messages"',
            [
                {
                    "loc": ["messages"],
                    "field": "messages",
                    "message": "field required",
                    "type": "missing",
                }
            ],
        )
    try:
        models = messages.validate_batch(data["messages"], node.settings.max_batch)
    except ValidationError as exc:
        raise _invalid(exc) from None
    results = await node.publish_models(models)
    return ORJSONResponse({"accepted": len(results), "results": results}, status_code=202)


@router.get("/history/{channel}", summary="A channel's recent history")
async def get_history(request: Request, channel: str) -> Response:
    """Messages after ``since`` (or the newest ``limit``), oldest first, as on WebSockets."""
    try:
        canonical = channels.normalize_channel(channel)
    except ChannelError as exc:
        raise ApiError(422, "invalid_channel", str(exc)) from None
    node = reader(request, canonical)
    since = int_param(request, "since", None, 0, None)
    limit = int_param(request, "limit", 100, 1, 1000)
    page = await node.broker.history(canonical, since, limit)
    items = [
        orjson.Fragment(message_frame(canonical, seq, body).payload) for seq, body in page.entries
    ]
    body = {
        "channel": canonical,
        "epoch": page.epoch,
        "last_seq": page.last_seq,
        "first_seq": page.first_seq,
        "complete": since is None or page.covers(since),
        "messages": items,
    }
    return ORJSONResponse(body)


@router.get("/ws/stats", summary="Connection and traffic statistics")
async def get_stats(request: Request) -> Response:
    return ORJSONResponse(node_of(request).stats_snapshot())


@router.get("/health", summary="Liveness and background-task health")
async def get_health(request: Request) -> Response:
    ok, body = node_of(request).health()
    return ORJSONResponse(body, status_code=200 if ok else 503)


@router.get("/asyncapi.json", summary="AsyncAPI 3 document of the WebSocket channels")
async def get_asyncapi(request: Request) -> Response:
    settings = node_of(request).settings
    return ORJSONResponse(asyncapi_document(f"{settings.host}:{settings.port}"))
