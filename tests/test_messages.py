"""Message validation, routing and sealing (id, timestamp, one serialisation)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphawire import messages
from alphawire.errors import ValidationError
from alphawire.ids import IdGenerator


@pytest.mark.parametrize(
    ("data", "channels"),
    [
        ({"type": "alert", "alert_type": "a", "source": "s", "content": "c"}, ("unified",)),
        ({"type": "signal", "signal": {"symbol": "x"}}, ("signals", "unified")),
        ({"type": "market_data", "symbol": "spy", "data": {}}, ("market_SPY",)),
        (
            {"type": "agent_insight", "agent": "DarkPoolAgent", "insight": {}},
            ("agent_darkpoolagent",),
        ),
        ({"type": "narrative", "narrative": {}}, ("narrative",)),
    ],
)
def test_routing(data: dict[str, Any], channels: tuple[str, ...]) -> None:
    """Each kind of message goes to the channels the routing table names."""
    assert messages.routes(messages.validate(data)) == channels


def test_seal_sets_id_and_timestamp_and_keeps_extra_keys() -> None:
    """Sealing adds a 26-char id and a UTC timestamp; nested extra keys survive; unset typed keys do not appear."""
    env = messages.seal(
        messages.validate(
            {"type": "signal", "signal": {"symbol": "spy", "custom": [1, 2], "stop": None}}
        )
    )
    body = orjson.loads(env.body)
    assert body["id"] == env.id and len(env.id) == 26
    assert body["signal"] == {"symbol": "SPY", "custom": [1, 2], "stop": None}
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None


def test_ids_sort_in_creation_order() -> None:
    """Ids made in sequence, even within one millisecond, sort in that order and never repeat."""
    gen = IdGenerator()
    ids = [gen.new() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def _decode(ulid: str) -> int:
    digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for ch in ulid:
        value = value * 32 + digits.index(ch)
    return value


def test_ids_carry_the_creation_millisecond_and_count_up_within_it() -> None:
    """An id decodes (Crockford base32, 26 digits) to its creation time in ms and 80 bits that
    count up by one within a millisecond."""
    gen = IdGenerator()
    before = time.time_ns() // 1_000_000
    ids = [gen.new() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    values = [_decode(i) for i in ids]
    assert all(len(i) == 26 for i in ids)
    assert all(before <= v >> 80 <= after for v in values)
    same_ms = [(a, b) for a, b in itertools.pairwise(values) if a >> 80 == b >> 80]
    assert same_ms, "2000 ids in a row never shared a millisecond"
    assert all(b == a + 1 for a, b in same_ms)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected(bad: float) -> None:
    """NaN and infinity cannot be carried by JSON and are rejected by name."""
    with pytest.raises(ValidationError, match="finite"):
        messages.validate({"type": "market_data", "symbol": "SPY", "data": {"price": bad}})


def test_typed_validation_accepts_missing_type() -> None:
    """Typed endpoints may leave ``type`` out; a wrong ``type`` is named."""
    assert messages.validate({"narrative": {}}, "narrative").type == "narrative"
    with pytest.raises(ValidationError) as info:
        messages.validate({"type": "alert", "narrative": {}}, "narrative")
    assert info.value.errors[0]["field"] == "type"


def test_timestamp_is_normalised_to_utc() -> None:
    """An offset timestamp becomes UTC; a naive one is taken as UTC."""
    m = messages.validate(
        {"type": "narrative", "narrative": {}, "timestamp": "2026-01-02T03:04:05+02:00"}
    )
    assert m.timestamp == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    m = messages.validate(
        {"type": "narrative", "narrative": {}, "timestamp": "2026-01-02T03:04:05"}
    )
    assert m.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_json_schemas_exist_for_every_model() -> None:
    """Every message model yields a JSON Schema with its required fields."""
    for model in messages.MODEL_TYPES:
        schema = model.model_json_schema()
        assert schema["type"] == "object"
    assert "alert_type" in messages.Alert.model_json_schema()["required"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_arbitrary_objects_never_crash_validation(data: dict[str, Any]) -> None:
    """Any JSON object either validates or raises ValidationError with at least one located error."""
    for kind in (None, *messages.MESSAGE_TYPES):
        try:
            m = messages.validate(data, kind)  # type: ignore[arg-type]
        except ValidationError as exc:
            assert exc.errors
            assert all("loc" in e and "message" in e for e in exc.errors)
        else:
            orjson.loads(messages.seal(m).body)


@given(st.lists(json_values, max_size=5))
def test_arbitrary_batches_never_crash_validation(data: list[Any]) -> None:
    """Any JSON list is validated all-or-nothing; each error names its index."""
    try:
        messages.validate_batch(data)
    except ValidationError as exc:
        assert exc.errors
        if data:
            assert all("index" in e for e in exc.errors)
