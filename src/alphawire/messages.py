"""The five kinds of message, their validation, and the channels each is routed to.

Field names are the wire format the original system's producers and consumers already use;
fields may be added but never renamed. Every delivered message also carries ``id`` (unique,
time-sortable), ``channel`` (the channel it was delivered on) and ``seq`` (per-channel,
strictly increasing by 1 from 1); the hub adds those, producers never send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
)
from pydantic import ValidationError as PydanticValidationError

from alphawire import channels
from alphawire.errors import ChannelError, ValidationError
from alphawire.ids import new_id

MAX_CONTENT_CHARS: Final = 32_768
MAX_BATCH: Final = 1000

MessageType: TypeAlias = Literal["alert", "signal", "market_data", "agent_insight", "narrative"]
MESSAGE_TYPES: Final[tuple[MessageType, ...]] = (
    "alert",
    "signal",
    "market_data",
    "agent_insight",
    "narrative",
)


def _symbol(value: str) -> str:
    try:
        return channels.normalize_symbol(value)
    except ChannelError as exc:
        raise ValueError(str(exc)) from None


def _agent(value: str) -> str:
    try:
        channels.normalize_agent(value)
    except ChannelError as exc:
        raise ValueError(str(exc)) from None
    return value  # the producer's spelling is kept in the message; the channel is lower-case


def _utc(value: datetime) -> datetime:
    # A naive timestamp is taken to be UTC: producers in the original system sent naive UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


Symbol = Annotated[str, Field(description=channels.SYMBOL_RULE), AfterValidator(_symbol)]
AgentName = Annotated[str, Field(description=channels.AGENT_RULE), AfterValidator(_agent)]
# Checked inside pydantic-core (no Python call per number): JSON cannot carry NaN or infinity.
Finite = Annotated[float, Field(allow_inf_nan=False)]
Timestamp = Annotated[
    datetime,
    AfterValidator(_utc),
    Field(description="ISO-8601 event time; naive values are UTC; the hub sets it when absent"),
]
ShortText = Annotated[str, Field(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="null")

    # Never delivered (excluded from serialisation): a retry with the same key within the
    # hub's idempotency window returns the first publish's id and publishes nothing.
    idempotency_key: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=128,
            exclude=True,
            description="a retry with the same key within the window publishes nothing new",
        ),
    ] = None


class _Open(BaseModel):
    # Nested objects keep keys they do not declare: producers attach their own context.
    # Optional typed fields the producer did not send stay off the wire, as they were in the
    # original system; everything the producer did send (null too) is kept: ``seal`` serialises
    # with exclude_unset, after marking every top-level field as set.
    model_config = ConfigDict(extra="allow", ser_json_inf_nan="null")


class SignalBody(_Open):
    """A trade idea: at least ``symbol``; the typed fields are optional, extra keys are kept."""

    symbol: Symbol
    action: Annotated[str, Field(max_length=32)] | None = None
    confidence: Annotated[Finite, Field(ge=0, le=1)] | None = None
    entry: Finite | None = None
    stop: Finite | None = None
    target: Finite | None = None
    timeframe: Annotated[str, Field(max_length=32)] | None = None
    rationale: Annotated[str, Field(max_length=4096)] | None = None


class MarketDataBody(_Open):
    """A quote or trade snapshot; every typed field is optional, extra keys are kept."""

    price: Finite | None = None
    bid: Finite | None = None
    ask: Finite | None = None
    bid_size: Finite | None = None
    ask_size: Finite | None = None
    volume: Finite | None = None
    change: Finite | None = None
    change_pct: Finite | None = None
    open: Finite | None = None
    high: Finite | None = None
    low: Finite | None = None
    prev_close: Finite | None = None
    vwap: Finite | None = None


class Alert(_Strict):
    """A monitor's alert (dark-pool print, gamma flip, ...): routed to ``unified``."""

    type: Literal["alert"] = "alert"
    alert_type: Annotated[str, Field(min_length=1, max_length=64, examples=["dark_pool"])]
    source: Annotated[ShortText, Field(examples=["dark_pool_checker"])]
    symbol: Symbol | None = None
    content: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)] = ""
    embed: dict[str, Any] | None = Field(default=None, description="a Discord embed object")
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None
    dedup_key: Annotated[
        str | None,
        Field(
            max_length=256,
            exclude=True,
            description="repeats of a key within a route's cooldown are suppressed "
            "(default: alert_type + symbol + content)",
        ),
    ] = None
    timestamp: Timestamp | None = None


class Signal(_Strict):
    """A trading signal: routed to ``signals`` and ``unified``."""

    type: Literal["signal"] = "signal"
    signal: SignalBody
    timestamp: Timestamp | None = None


class MarketData(_Strict):
    """A market-data tick for one symbol: routed to ``market_{SYMBOL}``."""

    type: Literal["market_data"] = "market_data"
    symbol: Symbol
    data: MarketDataBody
    timestamp: Timestamp | None = None


class AgentInsight(_Strict):
    """What one intelligence agent concluded: routed to ``agent_{agent}`` (lower-case)."""

    type: Literal["agent_insight"] = "agent_insight"
    agent: Annotated[AgentName, Field(examples=["MarketAgent"])]
    insight: dict[str, Any]
    timestamp: Timestamp | None = None


class Narrative(_Strict):
    """The Narrative Brain's synthesis: routed to ``narrative``."""

    type: Literal["narrative"] = "narrative"
    narrative: dict[str, Any]
    timestamp: Timestamp | None = None


AnyMessage: TypeAlias = Alert | Signal | MarketData | AgentInsight | Narrative
Message = Annotated[AnyMessage, Field(discriminator="type")]
MODELS: Final[dict[str, type[BaseModel]]] = {
    "alert": Alert,
    "signal": Signal,
    "market_data": MarketData,
    "agent_insight": AgentInsight,
    "narrative": Narrative,
}

MODEL_TYPES: Final = (Alert, Signal, MarketData, AgentInsight, Narrative)

# Every top-level field is delivered (with its default when not sent): see _Open and seal.
_TOP_LEVEL_FIELDS: Final[dict[type[BaseModel], frozenset[str]]] = {
    cls: frozenset(cls.model_fields) for cls in MODEL_TYPES
}

MESSAGE_ADAPTER: Final[TypeAdapter[AnyMessage]] = TypeAdapter(Message)
BATCH_ADAPTER: Final[TypeAdapter[list[AnyMessage]]] = TypeAdapter(list[Message])


class PublishBatch(BaseModel):
    """Body of ``POST /api/v1/publish``: up to 1000 messages, each with its ``type``."""

    model_config = ConfigDict(extra="forbid")
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_BATCH)]


def routes(message: AnyMessage) -> tuple[str, ...]:
    """The channels a message is delivered on."""
    match message:
        case Alert():
            return (channels.UNIFIED,)
        case Signal():
            return (channels.SIGNALS, channels.UNIFIED)
        case MarketData():
            return (channels.MARKET_PREFIX + message.symbol,)
        case AgentInsight():
            return (channels.AGENT_PREFIX + message.agent.lower(),)
        case Narrative():
            return (channels.NARRATIVE,)
    raise TypeError(f"not a message: {type(message).__name__}")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Envelope:
    """A validated message ready for the broker: its id, type, channels and JSON body.

    ``body`` is the JSON object without ``channel`` and ``seq``; the hub adds those once per
    channel, so a message is serialised once however many channels and subscribers it has.
    """

    id: str
    type: MessageType
    channels: tuple[str, ...]
    body: bytes
    message: AnyMessage


def seal(
    message: AnyMessage, message_id: str | None = None, now: datetime | None = None
) -> Envelope:
    """Give a validated message its id (new unless given) and timestamp (``now`` unless the
    producer sent one; a batch shares one reading of the clock); serialise it once."""
    if message.timestamp is None:
        # Straight into __dict__: pydantic's __setattr__ costs a microsecond and checks nothing
        # here (assignment is not validated); the field is marked set just below.
        message.__dict__["timestamp"] = now if now is not None else datetime.now(UTC)
    if message_id is None:
        message_id = new_id()
    # exclude_unset is the cheap way (no Python call per nested object) to leave out the
    # nested typed fields a producer did not send; top-level fields are always delivered, with
    # their defaults, so they count as set. Only serialisation reads the set.
    message.__pydantic_fields_set__.update(_TOP_LEVEL_FIELDS[type(message)])
    payload = message.__pydantic_serializer__.to_json(message, exclude_unset=True)
    body = b'{"id":"' + message_id.encode() + b'",' + payload[1:]
    return Envelope(message_id, message.type, routes(message), body, message)


def errors_of(
    exc: PydanticValidationError, *, prefix: tuple[str | int, ...] = (), tagged: bool = False
) -> list[dict[str, Any]]:
    """Turn pydantic's errors into ``{"loc", "field", "message", "type"}`` entries.

    ``tagged``: the errors come from the discriminated union, whose locations carry the
    ``type`` tag (after the batch index, if any); the tag is dropped as it adds nothing.
    """
    out: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False, include_input=False):
        inner = tuple(err["loc"])
        index: tuple[str | int, ...] = ()
        if prefix and inner and isinstance(inner[0], int):
            index, inner = inner[:1], inner[1:]
        if tagged and inner and inner[0] in MODELS:
            inner = inner[1:]
        field_path = inner
        if err["type"].startswith("union_tag"):
            field_path = (*field_path, "type")
        out.append(
            {
                "loc": [*prefix, *index, *field_path],
                "field": ".".join(str(p) for p in field_path) or None,
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return out


def validate(data: object, kind: MessageType | None = None) -> AnyMessage:
    """Validate one message (``kind`` given: the ``type`` field may be left out)."""
    try:
        if kind is None:
            return MESSAGE_ADAPTER.validate_python(data)
        model = MODELS[kind]
        return model.model_validate(data)  # type: ignore[return-value]
    except PydanticValidationError as exc:
        errors = errors_of(exc, tagged=kind is None)
        raise ValidationError(_summary(errors), errors) from None


def validate_batch(data: object, max_batch: int = MAX_BATCH) -> list[AnyMessage]:
    """Validate a list of messages all-or-nothing; errors carry each message's index."""
    if not isinstance(data, list):
        raise ValidationError(
            "messages must be a list",
            [
                {
                    "loc": ["messages"],
                    "field": "messages",
                    "message": "must be a list",
                    "type": "list_type",
                }
            ],
        )
    if not data:
        raise ValidationError(
            "messages must hold at least one message",
            [{"loc": ["messages"], "field": "messages", "message": "empty", "type": "too_short"}],
        )
    if len(data) > max_batch:
        msg = f"a batch holds at most {max_batch} messages, got {len(data)}"
        raise ValidationError(
            msg, [{"loc": ["messages"], "field": "messages", "message": msg, "type": "too_long"}]
        )
    try:
        return BATCH_ADAPTER.validate_python(data)
    except PydanticValidationError as exc:
        errors = errors_of(exc, prefix=("messages",), tagged=True)
        for err in errors:
            err["index"] = err["loc"][1]
        raise ValidationError(_summary(errors), errors) from None


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['message']}{more}"
