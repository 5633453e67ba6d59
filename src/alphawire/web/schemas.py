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
    schemas["BatchFrame"] = {
        "title": "BatchFrame",
        "description": "Batch mode (opt-in at subscribe): consecutive messages of one channel, "
        "in seq order, as one frame.",
        "type": "array",
        "minItems": 1,
        "items": {
            "oneOf": [
                {"$ref": REF.format(model=f"{m.__name__}Delivered")} for m in messages.MODEL_TYPES
            ]
        },
    }
    schemas.update(_control_schemas())
    schemas.update(_producer_schemas(schemas))
    return schemas


_REF_PROPERTY: dict[str, Any] = {
    "anyOf": [{"type": "string", "maxLength": 256}, {"type": "integer"}, {"type": "null"}],
    "description": "the client's own reference, echoed in the reply to this frame",
}


def _producer_schemas(schemas: dict[str, Any]) -> dict[str, Any]:
    """Frames of the producer socket (/api/v1/ws/publish): the HTTP bodies plus ``ref``."""

    def with_ref(name: str, title: str, *required: str) -> dict[str, Any]:
        # A copy with "ref" added: the models forbid extra properties, so allOf cannot work.
        schema: dict[str, Any] = copy.deepcopy(schemas[name])
        schema["title"] = title
        schema["properties"] = {**schema["properties"], "ref": _REF_PROPERTY}
        schema["required"] = sorted({*schema.get("required", []), *required})
        return schema

    kinds = [m.__name__ for m in messages.MODEL_TYPES]
    result = {
        "type": "object",
        "required": ["id", "type", "channels", "seq"],
        "properties": {
            "id": {"type": "string", "description": "the message's id (ULID)"},
            "type": {"enum": [m.model_fields["type"].default for m in messages.MODEL_TYPES]},
            "channels": {"type": "array", "items": {"type": "string"}},
            "seq": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 1},
                "description": "channel → the message's seq on it",
            },
            "duplicate": {"const": True, "description": "an idempotent retry: nothing published"},
            "destinations": {"type": "array", "items": {"type": "string"}},
            "suppressed": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "PublishMessageFrame": {
            "title": "PublishMessageFrame",
            "description": "One message (with its type) and an optional ref.",
            "oneOf": [with_ref(kind, f"{kind}Frame", "type") for kind in kinds],
        },
        "PublishBatchFrame": with_ref("PublishBatch", "PublishBatchFrame"),
        "AuthFrame": {
            "type": "object",
            "required": ["action", "token"],
            "properties": {
                "action": {"const": "auth"},
                "token": {"type": "string"},
                "ref": _REF_PROPERTY,
            },
        },
        "PublishResult": result,
        "AckFrame": {
            "type": "object",
            "required": ["type", "ref", "accepted", "results"],
            "properties": {
                "type": {"const": "ack"},
                "ref": _REF_PROPERTY,
                "accepted": {"type": "integer", "minimum": 1},
                "results": {"type": "array", "items": {"$ref": REF.format(model="PublishResult")}},
            },
        },
        "AuthenticatedFrame": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": "authenticated"}, "ref": _REF_PROPERTY},
        },
    }


def _control_schemas() -> dict[str, Any]:
    channel_list = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    return {
        "SubscribeFrame": {
            "type": "object",
            "required": ["action", "channels"],
            "properties": {
                "action": {"const": "subscribe"},
                "channels": channel_list,
                "since": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                    "description": "channel -> last seq processed: replay what followed",
                },
                "epoch": {"type": "string", "description": "the epoch the since seqs belong to"},
                "batch": {
                    "type": "boolean",
                    "description": "batch mode: message frames are JSON arrays (BatchFrame)",
                },
                "linger_ms": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 1000,
                    "description": "batch mode: wait up to this long to gather more messages",
                },
            },
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
                        protocol.ERR_INVALID_MESSAGE,
                        protocol.ERR_OUTBOX_FULL,
                    ]
                },
                "message": {"type": "string"},
                "channel": {"type": ["string", "null"]},
                "ref": {
                    "description": "producer socket: the ref of the refused frame (null if none)"
                },
                "errors": {
                    "type": "array",
                    "description": "invalid_message: each problem, with index for a batch",
                    "items": {
                        "type": "object",
                        "required": ["loc", "field", "message"],
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "loc": {"type": "array"},
                            "field": {"type": ["string", "null"]},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
                "retry_after": {"type": "integer", "description": "seconds before retrying"},
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

    msgs["batch"] = {
        "name": "batch",
        "title": "BatchFrame",
        "summary": "Several messages of one channel in one frame (subscriptions in batch mode: "
        "?batch=1&linger_ms=N, or batch/linger_ms in the subscribe frame).",
        "contentType": "application/json",
        "payload": {"$ref": REF.format(model="BatchFrame")},
    }

    def refs(*names: str) -> dict[str, Any]:
        return {n: {"$ref": f"#/components/messages/{n}"} for n in names}

    control = (*_SERVER_MESSAGES, *_CLIENT_MESSAGES)
    chans: dict[str, Any] = {
        "unified": {
            "address": "/api/v1/ws/unified",
            "description": "Every alert and signal.",
            "messages": refs("alert", "signal", "batch", *control),
        },
        "signals": {
            "address": "/api/v1/ws/signals",
            "description": "Every signal.",
            "messages": refs("signal", "batch", *control),
        },
        "market": {
            "address": "/api/v1/ws/market/{symbol}",
            "description": "Ticks of one symbol (channel market_{SYMBOL}).",
            "parameters": {"symbol": {"description": channels.SYMBOL_RULE}},
            "messages": refs("market_data", "batch", *control),
        },
        "agent": {
            "address": "/api/v1/ws/agents/{agent_name}",
            "description": "Insights of one agent (channel agent_{name}, lower case).",
            "parameters": {"agent_name": {"description": channels.AGENT_RULE}},
            "messages": refs("agent_insight", "batch", *control),
        },
        "narrative": {
            "address": "/api/v1/ws/narrative",
            "description": "The Narrative Brain's syntheses.",
            "messages": refs("narrative", "batch", *control),
        },
        "multiplex": {
            "address": "/api/v1/ws",
            "description": "Any set of channels over one socket, chosen with subscribe frames.",
            "messages": refs(*msgs),
        },
    }
    producer_in = {
        "publish": ("PublishMessageFrame", "One message, as an item of POST /api/v1/publish."),
        "publish_batch": ("PublishBatchFrame", "A batch, all or nothing."),
        "auth": ("AuthFrame", "The publish token, as the first frame (browsers)."),
    }
    producer_out = {
        "ack": ("AckFrame", "The frame's messages were published: their results, in order."),
        "authenticated": ("AuthenticatedFrame", "The auth frame's token is right."),
    }
    for name, (schema, summary) in {**producer_in, **producer_out}.items():
        msgs[name] = {
            "name": name,
            "summary": summary,
            "contentType": "application/json",
            "payload": {"$ref": REF.format(model=schema)},
        }
    publish_in = (*producer_in, "ping")
    publish_out = (*producer_out, "error", "pong")
    operations: dict[str, Any] = {
        "deliver_publish": {
            "action": "send",
            "channel": {"$ref": "#/channels/publish"},
            "summary": "One reply per frame, in order: ack, error (nothing published), "
            "authenticated or pong.",
            "messages": [{"$ref": f"#/channels/publish/messages/{m}"} for m in publish_out],
        },
        "control_publish": {
            "action": "receive",
            "channel": {"$ref": "#/channels/publish"},
            "summary": "The hub receives messages, batches, auth and ping frames.",
            "messages": [{"$ref": f"#/channels/publish/messages/{m}"} for m in publish_in],
        },
    }
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
    chans["publish"] = {
        "address": "/api/v1/ws/publish",
        "description": "The producer socket: publish with the publish token "
        "(Authorization: Bearer on the handshake, or a first auth frame). Frames are handled "
        "one at a time and each gets one reply, in order; a producer faster than the hub is "
        "slowed down by TCP.",
        "messages": refs(*publish_in, *publish_out),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "alphawire",
            "version": __version__,
            "description": "Real-time market-intelligence hub: WebSocket channels, and the "
            "producer socket that publishes to them.",
        },
        "defaultContentType": "application/json",
        "servers": {"hub": {"host": host, "protocol": "ws", "description": "alphawire hub"}},
        "channels": chans,
        "operations": operations,
        "components": {"messages": msgs, "schemas": component_schemas()},
    }
