"""JSON Schemas of the messages, shared by the OpenAPI and AsyncAPI documents.

Both documents are generated from the pydantic models that validate the messages, so the
documentation cannot drift from what the hub accepts.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from alphawire import __version__, channels, messages, protocol

REF = "#/components/schemas/{model}"


@cache
def component_schemas() -> dict[str, Any]:
    """Schemas of every message model (and their parts), keyed by model name."""
    models: list[tuple[type[BaseModel], Any]] = [
        (model, "validation") for model in (*messages.MODEL_TYPES, messages.PublishBatch)
    ]
    _, top = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = top["$defs"]
    # Typed endpoints take the path's symbol or agent: the body need not repeat it.
    for name, key in (("MarketData", "symbol"), ("AgentInsight", "agent")):
        fields = copy.deepcopy(schemas[name])
        fields["title"] = f"{name}Fields"
        fields["required"] = [r for r in fields.get("required", []) if r != key]
        schemas[f"{name}Fields"] = fields
    for name in (m.__name__ for m in messages.MODEL_TYPES):
        # A copy of the model's schema with the hub's fields added: the model forbids extra
        # properties, so an allOf of the two could never match a delivered message.
        delivered = copy.deepcopy(schemas[name])
        delivered["title"] = f"{name}Delivered"
        delivered["description"] = f"A delivered {name} message: the hub adds id, channel and seq."
        delivered["properties"] = {
            **delivered["properties"],
            "id": {"type": "string", "description": "unique, time-sortable (ULID)"},
            "channel": {"type": "string", "description": "the channel it was delivered on"},
            "seq": {"type": "integer", "minimum": 1, "description": "per channel, +1 each"},
            "snapshot": {"type": "boolean", "description": "a market snapshot sent on subscribe"},
        }
        for hidden in ("idempotency_key", "dedup_key"):  # accepted, never delivered
            delivered["properties"].pop(hidden, None)
        delivered["required"] = sorted(
            {*delivered.get("required", []), "id", "channel", "seq", "timestamp"}
        )
        schemas[f"{name}Delivered"] = delivered
    schemas.update(_control_schemas())
    return schemas


def _control_schemas() -> dict[str, Any]:
    channel_list = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    return {
        "SubscribeFrame": {
            "type": "object",
            "required": ["action", "channels"],
            "properties": {"action": {"const": "subscribe"}, "channels": channel_list},
        },
        "UnsubscribeFrame": {
            "type": "object",
            "required": ["action", "channels"],
            "properties": {"action": {"const": "unsubscribe"}, "channels": channel_list},
        },
        "PingFrame": {
            "type": "object",
            "required": ["action"],
            "properties": {"action": {"const": "ping"}},
        },
        "SubscribedFrame": {
            "type": "object",
            "required": ["type", "channel", "seq"],
            "properties": {
                "type": {"const": "subscribed"},
                "channel": {"type": "string"},
                "seq": {"type": "integer", "minimum": 0, "description": "the channel's last seq"},
            },
        },
        "UnsubscribedFrame": {
            "type": "object",
            "required": ["type", "channel"],
            "properties": {"type": {"const": "unsubscribed"}, "channel": {"type": "string"}},
        },
        "PongFrame": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": "pong"}},
        },
        "ErrorFrame": {
            "type": "object",
            "required": ["type", "code", "message"],
            "properties": {
                "type": {"const": "error"},
                "code": {
                    "enum": [
                        protocol.ERR_INVALID_JSON,
                        protocol.ERR_INVALID_FRAME,
                        protocol.ERR_UNKNOWN_ACTION,
                        protocol.ERR_INVALID_CHANNEL,
                        protocol.ERR_TOO_MANY_CHANNELS,
                        protocol.ERR_FORBIDDEN,
                        protocol.ERR_INVALID_RECOVERY,
                        protocol.ERR_UNAVAILABLE,
                    ]
                },
                "message": {"type": "string"},
                "channel": {"type": ["string", "null"]},
            },
        },
    }


_SERVER_MESSAGES = ["subscribed", "unsubscribed", "pong", "error"]
_CLIENT_MESSAGES = ["subscribe", "unsubscribe", "ping"]


def asyncapi_document(host: str = "127.0.0.1:8000") -> dict[str, Any]:
    """An AsyncAPI 3.0 description of the WebSocket channels, from the validating models."""
    msgs: dict[str, Any] = {}
    for model in messages.MODEL_TYPES:
        kind = model.model_fields["type"].default
        msgs[kind] = {
            "name": kind,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip(),
            "contentType": "application/json",
            "payload": {"$ref": REF.format(model=f"{model.__name__}Delivered")},
        }
    for name in _SERVER_MESSAGES + _CLIENT_MESSAGES:
        schema = f"{name.capitalize()}Frame"
        msgs[name] = {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": REF.format(model=schema)},
        }

    def refs(*names: str) -> dict[str, Any]:
        return {n: {"$ref": f"#/components/messages/{n}"} for n in names}

    control = (*_SERVER_MESSAGES, *_CLIENT_MESSAGES)
    chans: dict[str, Any] = {
        "unified": {
            "address": "/api/v1/ws/unified",
            "description": "Every alert and signal.",
            "messages": refs("alert", "signal", *control),
        },
        "signals": {
            "address": "/api/v1/ws/signals",
            "description": "Every signal.",
            "messages": refs("signal", *control),
        },
        "market": {
            "address": "/api/v1/ws/market/{symbol}",
            "description": "Ticks of one symbol (channel market_{SYMBOL}).",
            "parameters": {"symbol": {"description": channels.SYMBOL_RULE}},
            "messages": refs("market_data", *control),
        },
        "agent": {
            "address": "/api/v1/ws/agents/{agent_name}",
            "description": "Insights of one agent (channel agent_{name}, lower case).",
            "parameters": {"agent_name": {"description": channels.AGENT_RULE}},
            "messages": refs("agent_insight", *control),
        },
        "narrative": {
            "address": "/api/v1/ws/narrative",
            "description": "The Narrative Brain's syntheses.",
            "messages": refs("narrative", *control),
        },
        "multiplex": {
            "address": "/api/v1/ws",
            "description": "Any set of channels over one socket, chosen with subscribe frames.",
            "messages": refs(*msgs),
        },
    }
    operations: dict[str, Any] = {}
    for name, chan in chans.items():
        data = [m for m in chan["messages"] if m not in control]
        operations[f"deliver_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": "The hub sends messages and control frames.",
            "messages": [
                {"$ref": f"#/channels/{name}/messages/{m}"} for m in (*data, *_SERVER_MESSAGES)
            ],
        }
        operations[f"control_{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": "The hub receives subscribe, unsubscribe and ping frames.",
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in _CLIENT_MESSAGES],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "alphawire",
            "version": __version__,
            "description": "Real-time market-intelligence hub: WebSocket channels.",
        },
        "defaultContentType": "application/json",
        "servers": {"hub": {"host": host, "protocol": "ws", "description": "alphawire hub"}},
        "channels": chans,
        "operations": operations,
        "components": {"messages": msgs, "schemas": component_schemas()},
    }
