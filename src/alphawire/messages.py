"""The five kinds of message, their validation, and the channels each is routed to.

Field names are the wire format the original system's producers and consumers already use;
fields may be added but never renamed. Every delivered message also carries ``id`` (unique,
time-sortable), ``channel`` (the channel it was delivered on) and ``seq`` (per-channel,
strictly increasing by 1 from 1); the hub adds those, producers never send them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

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
# Sizes and volumes count shares (or contracts, or coins): never negative. A whole number is
# an integer on the wire (1200, also when sent as 1200.0); a fraction is kept for markets that
# trade fractions. Left to right, with the bound on each member, all inside pydantic-core (a
# bound on the union itself is a Python call per value: +1 us per field); the two members'
# errors are folded into one by errors_of.
_SIZE_MEMBERS: Final = ("constrained-int", "constrained-float")
Size = Annotated[
    Annotated[int, Field(ge=0)] | Annotated[float, Field(ge=0, allow_inf_nan=False)],
    Field(union_mode="left_to_right"),
]
SIZE_FIELDS: Final = ("bid_size", "ask_size", "last_size", "volume")
# What makes an embed show something on Discord (the rest, colour or timestamp, does not).
_EMBED_VISIBLE: Final = ("title", "description", "fields", "author", "footer", "image", "thumbnail")
TIMESTAMP_EXAMPLE: Final = '"2026-01-05T14:30:00Z" (UTC) or "2026-01-05T09:30:00-05:00"'


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
    bid_size: Size | None = None
    ask_size: Size | None = None
    last_size: Size | None = None
    volume: Size | None = None
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

    @model_validator(mode="after")
    def _says_something(self) -> Alert:
        # Discord refuses a message with nothing in it, and so does the hub: an alert with
        # neither text nor embed is a producer's mistake, not something to deliver.
        embed = self.embed or {}
        if not self.content.strip() and not any(embed.get(key) for key in _EMBED_VISIBLE):
            raise PydanticCustomError(
                "alert_empty",
                'an alert needs "content" (its text) or "embed" (a Discord embed object with '
                "a title, description, fields, author, footer or image); both are empty",
            )
        return self


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
    exc: PydanticValidationError,
    *,
    prefix: tuple[str | int, ...] = (),
    tagged: bool = False,
    kind: MessageType | None = None,
) -> list[dict[str, Any]]:
    """Turn pydantic's errors into ``{"loc", "field", "message", "type"}`` entries.

    ``tagged``: the errors come from the discriminated union, whose locations carry the
    ``type`` tag (after the batch index, if any); the tag is dropped as it adds nothing.
    Messages are written for the producer: a misspelt field gets "did you mean", a message
    without ``type`` the list of types, a bad timestamp an example that is accepted.
    """
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False, include_input=False):
        inner = tuple(err["loc"])
        if inner and inner[-1] in _SIZE_MEMBERS:  # one error per size, not one per member
            inner = inner[:-1]
            if (inner, err["type"]) in seen:
                continue
            seen.add((inner, err["type"]))
        index: tuple[str | int, ...] = ()
        if prefix and inner and isinstance(inner[0], int):
            index, inner = inner[:1], inner[1:]
        model_kind = kind
        if tagged and inner and inner[0] in MODELS:
            model_kind = inner[0]  # type: ignore[assignment]
            inner = inner[1:]
        field_path = inner
        if err["type"].startswith("union_tag"):
            field_path = (*field_path, "type")
        if err["type"] == "alert_empty":
            field_path = ("content",)
        out.append(
            {
                "loc": [*prefix, *index, *field_path],
                "field": ".".join(str(p) for p in field_path) or None,
                "message": _explain(err, field_path, model_kind),
                "type": err["type"],
            }
        )
    return out


def _explain(err: Any, field_path: tuple[Any, ...], kind: str | None) -> str:
    """The producer-facing text of one pydantic error."""
    code, text = err["type"], err["msg"]
    ctx = err.get("ctx") or {}
    name = str(field_path[-1]) if field_path else ""
    types = ", ".join(MESSAGE_TYPES)
    if code == "union_tag_not_found":
        return f'each message needs "type": one of {types}'
    if code == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        return f'"type" must be one of {types}, not {tag[:40]!r}' + _near(tag, MESSAGE_TYPES)
    if code == "extra_forbidden" and len(field_path) == 1 and kind in MODELS:
        known = [f for f in MODELS[kind].model_fields if f != "type"]
        hint = _near(name, known) or f" ({kind} takes {', '.join(known)})"
        return f"unknown field {name[:64]!r}" + hint
    if name == "timestamp" and code.startswith(("datetime", "date")):
        return f"{text}; send ISO-8601, e.g. {TIMESTAMP_EXAMPLE}"
    if name in SIZE_FIELDS and code == "greater_than_equal":
        return f"{text}: {name} counts shares (or contracts), never negative"
    return str(text)


def _near(word: str, options: Any) -> str:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def validate(data: object, kind: MessageType | None = None) -> AnyMessage:
    """Validate one message (``kind`` given: the ``type`` field may be left out)."""
    try:
        if kind is None:
            return MESSAGE_ADAPTER.validate_python(data)
        model = MODELS[kind]
        return model.model_validate(data)  # type: ignore[return-value]
    except PydanticValidationError as exc:
        errors = errors_of(exc, tagged=kind is None, kind=kind)
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
        raise ValidationError(_summary(errors, single=len(data) == 1), errors) from None


def _summary(errors: list[dict[str, Any]], *, single: bool = False) -> str:
    """One line for the whole refusal: the most telling error, and how many more there are.

    A misspelt field (with its "did you mean") is told first: the "field required" it
    usually comes with says less. In a batch of one, the location leaves out the internal
    ``messages.0.`` (``errors`` still give the ``index``).
    """
    first = next((e for e in errors if "did you mean" in e["message"]), errors[0])
    loc = first["loc"][2:] if single and first["loc"][:1] == ["messages"] else first["loc"]
    where = ".".join(str(p) for p in loc) or "message"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['message']}{more}"
