"""Hypothesis-driven robustness against real hubs: random frames, bodies and paths break nothing.

Each test starts one hub and runs every Hypothesis example against it. WebSocket examples
share one event loop (an ``asyncio.Runner``), so a socket outlives the example that opened it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.conftest import RunningHub, connect, recv_json, send_json
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from alphawire import channels, protocol
from alphawire.errors import ChannelError
from alphawire.messages import MESSAGE_TYPES

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LIMIT = 64 * 1024  # the hub's client frame limit (Settings.max_frame_bytes)
SECRET = "alphawire-test-subscribe-secret-0123456789"
EPOCH = "<the hub's epoch>"  # replaced by the real epoch when a frame is sent
ERROR_CODES = {getattr(protocol, n) for n in dir(protocol) if n.startswith("ERR_")}
SUBSCRIBE_ERRORS = {
    protocol.ERR_INVALID_FRAME,
    protocol.ERR_INVALID_RECOVERY,
    protocol.ERR_INVALID_CHANNEL,
    protocol.ERR_TOO_MANY_CHANNELS,
    protocol.ERR_FORBIDDEN,
}
PUBLISH_PATHS = (
    "/api/v1/alerts",
    "/api/v1/signals",
    "/api/v1/market/SPY",
    "/api/v1/agents/MarketAgent/insights",
    "/api/v1/narrative",
    "/api/v1/publish",
)
MESSAGE_FIELDS = (
    "type",
    "alert_type",
    "source",
    "symbol",
    "content",
    "embed",
    "severity",
    "signal",
    "data",
    "agent",
    "insight",
    "narrative",
    "timestamp",
    "idempotency_key",
    "id",
    "seq",
)

# -- strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
channel_names = st.one_of(
    st.sampled_from(
        [
            "unified",
            "signals",
            "narrative",
            "market_SPY",
            "market_spy",
            "MARKET_qqq",
            "market_BRK.B",
            "agent_MarketAgent",
            "agent_9x",
            "market_",
            "market_bad symbol",
            "bogus",
            "",
        ]
    ),
    st.text(max_size=30),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-^=_ ", min_size=1, max_size=22).map(
        lambda s: "market_" + s
    ),
    st.text(max_size=70).map(lambda s: "agent_" + s),
)
request_frames = st.fixed_dictionaries(
    {"action": st.one_of(st.sampled_from(protocol.ACTIONS), st.text(max_size=12), json_values)},
    optional={
        "channels": st.one_of(
            channel_names, st.lists(st.one_of(channel_names, json_values), max_size=5), json_values
        ),
        "since": st.one_of(
            json_values,
            st.dictionaries(
                channel_names, st.one_of(st.integers(-2, 5), st.integers(), json_values), max_size=3
            ),
        ),
        "epoch": st.one_of(st.just(EPOCH), st.none(), st.text(max_size=20), json_values),
        "token": st.one_of(st.text(max_size=40), json_values),
    },
)
utf8_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=100)
# Frames as (kind, payload): "text" is sent as is, "json" is encoded (big ints, NaN and all).
client_frames = st.one_of(
    st.tuples(st.just("text"), utf8_text),
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("json"), request_frames),
    st.tuples(st.just("json"), request_frames),
    st.tuples(st.just("binary"), st.binary(max_size=40)),
    st.tuples(
        st.just("big"), st.tuples(st.integers(LIMIT - 300, LIMIT + 300), st.sampled_from("xé€"))
    ),
)


def big_frame(size: int, char: str) -> str:
    """A ping frame of about ``size`` bytes of UTF-8, padded with ``char``."""
    head, tail = '{"action":"ping","pad":"', '"}'
    count = max(0, size - len(head) - len(tail)) // len(char.encode())
    return head + char * count + tail


# -- helpers ------------------------------------------------------------------------------------


async def _task_count() -> int:
    return len(asyncio.all_tasks())


async def _poll(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    """Wait until ``check`` is true; a hang guard, not a speed limit."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not reached within {timeout}s"
        await asyncio.sleep(0.02)


async def _stats(hub: RunningHub) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        data: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()
        return data


async def assert_no_leaks(hub: RunningHub, baseline_tasks: int) -> None:
    """Health is 200, no connection is left, and the hub's loop has no more tasks than before."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        assert (await http.get("/api/v1/health")).status_code == 200

    async def no_connections() -> bool:
        return bool((await _stats(hub))["total_connections"] == 0)

    async def tasks_back() -> bool:
        return await hub.acall(_task_count()) <= baseline_tasks

    await _poll(no_connections, "total_connections == 0")
    await _poll(tasks_back, f"task count back to {baseline_tasks}")


def is_data_frame(frame: dict[str, Any]) -> bool:
    """A channel message (live, snapshot or replayed) or a skipped notice, not an answer."""
    return isinstance(frame.get("seq"), int) and (
        frame.get("type") in MESSAGE_TYPES or frame.get("type") == "skipped"
    )


def is_canonical(channel: object) -> bool:
    try:
        return channels.normalize_channel(channel) == channel
    except ChannelError:
        return False


def expected_kind(text: str) -> str:
    """How the hub must treat a text frame, judged with the hub's own JSON parser."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "invalid_json"
    if not isinstance(frame, dict):
        return "invalid_frame"
    action = frame.get("action")
    if action is None:
        return "invalid_frame"
    if action == "auth":
        return "auth_token" if isinstance(frame.get("token"), str) else "invalid_frame"
    if action in ("ping", "subscribe", "unsubscribe"):
        return str(action)
    return "unknown_action"


def check_answers(kind: str, answers: list[dict[str, Any]]) -> None:
    """The answers to one frame are the documented ones for its kind."""
    for answer in answers:
        if answer.get("type") == "error":
            assert answer["code"] in ERROR_CODES and isinstance(answer["message"], str), answer
    if kind in ("invalid_json", "invalid_frame", "unknown_action"):
        assert len(answers) == 1 and answers[0]["type"] == "error", answers
        assert answers[0]["code"] == kind, answers
    elif kind == "ping":
        assert answers == [{"type": "pong"}]
    elif kind == "auth_token":
        # An open hub reads no tokens and says so.
        assert answers == [{"type": "authenticated", "required": False}]
    elif kind in ("subscribe", "unsubscribe"):
        assert answers, "a subscribe or unsubscribe frame is always answered"
        ok = {"subscribe": {"subscribed", "recovery"}, "unsubscribe": {"unsubscribed"}}[kind]
        for answer in answers:
            if answer["type"] == "error":
                assert answer["code"] in SUBSCRIBE_ERRORS, answer
            else:
                assert answer["type"] in ok and is_canonical(answer["channel"]), answer
    else:  # pragma: no cover - every kind is listed above
        raise AssertionError(kind)


class FrameFuzzer:
    """One /ws socket fed random frames; reopened whenever the hub closes it."""

    def __init__(self, hub: RunningHub, epoch: str) -> None:
        self.hub = hub
        self.epoch = epoch
        self.ws: ClientConnection | None = None
        self.closes: list[int] = []
        self.seen: set[str] = set()  # answer types, "snapshot" and "replay", seen in the run

    async def socket(self) -> ClientConnection:
        if self.ws is None:
            self.ws = await connect(self.hub.ws + "/ws")
        return self.ws

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    def text_of(self, kind: str, payload: Any) -> str | bytes:
        if kind == "binary":
            return bytes(payload)
        if kind == "big":
            return big_frame(*payload)
        if kind == "json":
            if isinstance(payload, dict) and payload.get("epoch") == EPOCH:
                payload = {**payload, "epoch": self.epoch}
            return json.dumps(payload)
        return str(payload)

    async def exchange(self, kind: str, payload: Any) -> None:
        """Send one frame (then a ping unless it must close); check the answers or the close."""
        data = self.text_of(kind, payload)
        if isinstance(data, bytes):
            expected_close: int | None = protocol.CLOSE_UNSUPPORTED_DATA
            meaning = "binary"
        elif len(data.encode()) > LIMIT:
            expected_close, meaning = protocol.CLOSE_MESSAGE_TOO_BIG, "too_big"
        else:
            meaning = expected_kind(data)
            expected_close = None  # an open hub acknowledges auth frames without reading them
        ws = await self.socket()
        pongs = 2 if meaning == "ping" else 1
        answers: list[dict[str, Any]] = []
        try:
            await ws.send(data)
            if meaning not in ("binary", "too_big"):
                # No frame follows one that must close the socket: uvicorn drops a socket it
                # failed for a protocol error at once, and data still arriving then resets the
                # TCP connection, which can destroy the close frame before the client reads it.
                await send_json(ws, {"action": "ping"})
            while pongs:
                frame = await recv_json(ws)
                if is_data_frame(frame):
                    assert is_canonical(frame["channel"]), frame
                    self.seen.add("snapshot" if frame.get("snapshot") else "replay")
                    continue
                answers.append(frame)
                self.seen.add(frame["type"])
                if frame == {"type": "pong"}:
                    pongs -= 1
        except ConnectionClosed as exc:
            self.ws = None
            assert exc.rcvd is not None, f"dropped without a close frame after {data[:200]!r}"
            code = exc.rcvd.code
            self.closes.append(code)
            assert code in (expected_close, protocol.CLOSE_RATE_LIMITED), (code, data[:200])
            return
        assert expected_close is None or meaning == "auth_token", (meaning, answers)
        check_answers(meaning, answers[:-1])


def test_random_client_frames_get_documented_answers(hub_factory: Any) -> None:
    """Random client frames on /ws get documented answers or closes, and nothing leaks."""
    hub: RunningHub = hub_factory(client_frames_per_second=10_000, client_frame_burst=10_000)
    baseline = hub.call(_task_count())
    with httpx.Client(base_url=hub.url, headers=hub.headers()) as http:
        ticks = [
            {"type": "market_data", "symbol": symbol, "data": {"price": price}}
            for symbol in ("SPY", "QQQ")
            for price in (1, 2)
        ]
        alert = {"type": "alert", "alert_type": "x", "source": "s", "content": "c"}
        response = http.post("/api/v1/publish", json={"messages": [*ticks, alert]})
        assert response.status_code == 202  # market snapshots and replays to be had
        epoch = http.get("/api/v1/health").json()["epoch"]
    fuzzer = FrameFuzzer(hub, epoch)
    with asyncio.Runner() as runner:

        @settings(FUZZ, max_examples=300)
        @given(frame=client_frames)
        @example(frame=("big", (LIMIT, "x")))
        @example(frame=("big", (LIMIT + 1, "x")))
        @example(frame=("big", (LIMIT + 2, "é")))
        @example(frame=("json", {"action": "subscribe", "channels": ["market_spy"]}))
        @example(frame=("json", {"action": "unsubscribe", "channels": "market_SPY"}))
        @example(
            frame=("json", {"action": "subscribe", "channels": "unified", "since": {"UNIFIED": 5}})
        )
        @example(
            frame=(
                "json",
                {
                    "action": "subscribe",
                    "channels": ["signals", "market_QQQ"],
                    "since": {"market_qqq": 0, "signals": 0},
                    "epoch": EPOCH,
                },
            )
        )
        @example(frame=("json", {"action": "auth", "token": "x"}))
        @example(frame=("binary", b"\x00"))
        def exchange(frame: tuple[str, Any]) -> None:
            runner.run(fuzzer.exchange(*frame))

        exchange()
        runner.run(fuzzer.close())
        runner.run(assert_no_leaks(hub, baseline))
    assert set(fuzzer.closes) <= {1003, 1009, 4029}  # an open hub never closes for auth
    assert {1003, 1009} <= set(fuzzer.closes)  # the explicit examples were closed
    expected_seen = {
        "pong",
        "error",
        "subscribed",
        "unsubscribed",
        "recovery",
        "snapshot",
        "replay",
    }
    assert expected_seen <= fuzzer.seen, f"never seen: {expected_seen - fuzzer.seen}"


# -- out-of-order frames ------------------------------------------------------------------------

ORDER_CHANNELS = (
    "unified",
    "signals",
    "narrative",
    "market_SPY",
    "market_spy",
    "agent_MarketAgent",
    "agent_marketagent",
)
channel_lists = st.lists(st.sampled_from(ORDER_CHANNELS), min_size=1, max_size=3)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("subscribe"),
            channel_lists,
            st.dictionaries(st.sampled_from(ORDER_CHANNELS), st.integers(0, 3), max_size=2),
            st.booleans(),
        ),
        st.tuples(st.just("unsubscribe"), channel_lists),
        st.tuples(st.just("ping")),
        st.tuples(st.just("auth")),
        st.tuples(st.just("auth_without_token")),
    ),
    max_size=12,
)


def _token(seconds: float = 300) -> str:
    return jwt.encode({"exp": time.time() + seconds, "channels": ["*"]}, SECRET, "HS256")


async def _run_operations(hub: RunningHub, epoch: str, ops: list[tuple[Any, ...]]) -> None:
    """Play ``ops`` on one socket and compare every answer with a model of the protocol."""
    subscribed: set[str] = set()
    expected: list[tuple[Any, ...]] = []  # ("subscribed", channel, recovered key expected), ...
    ws = await connect(hub.ws + "/ws?token=" + _token())
    try:
        for op in ops:
            if op[0] == "subscribe":
                _, names, since, with_epoch = op
                frame: dict[str, Any] = {"action": "subscribe", "channels": names, "since": since}
                if with_epoch:
                    frame["epoch"] = epoch
                since_of = {channels.normalize_channel(k) for k in since}
                for name in names:
                    channel = channels.normalize_channel(name)
                    recovering = channel in since_of and channel not in subscribed
                    expected.append(("subscribed", channel, recovering))
                    subscribed.add(channel)
            elif op[0] == "unsubscribe":
                frame = {"action": "unsubscribe", "channels": op[1]}
                for name in op[1]:
                    channel = channels.normalize_channel(name)
                    expected.append(("unsubscribed", channel))
                    subscribed.discard(channel)
            elif op[0] == "ping":
                frame = {"action": "ping"}
                expected.append(("pong",))
            elif op[0] == "auth":
                frame = {"action": "auth", "token": _token()}
                expected.append(("authenticated",))
            else:
                frame = {"action": "auth"}
                expected.append(("error", protocol.ERR_INVALID_FRAME))
            await send_json(ws, frame)
        await send_json(ws, {"action": "ping"})
        expected.append(("pong",))
        got: list[tuple[Any, ...]] = []
        last_subscribed: dict[str, Any] = {}
        while len(got) < len(expected):
            answer = await recv_json(ws)
            kind = answer["type"]
            if is_data_frame(answer):
                continue
            if kind == "recovery":  # follows the subscribed frame of a gap that cannot be filled
                assert last_subscribed.get("channel") == answer["channel"], answer
                assert last_subscribed.get("recovered") is False, (last_subscribed, answer)
                continue
            if kind == "subscribed":
                last_subscribed = answer
                got.append((kind, answer["channel"], "recovered" in answer))
            elif kind == "unsubscribed":
                got.append((kind, answer["channel"]))
            elif kind == "error":
                got.append((kind, answer["code"]))
            else:
                got.append((kind,))
        assert got == expected

        async def registry_matches() -> bool:
            current = await _stats(hub)
            wanted = dict.fromkeys(sorted(subscribed), 1)
            return bool(current["total_connections"] == 1 and current["channels"] == wanted)

        await _poll(registry_matches, f"registry holds exactly {sorted(subscribed)}")
    finally:
        await ws.close()


def test_out_of_order_frames_get_documented_answers(hub_factory: Any) -> None:
    """Unsubscribe first, double subscribes, stray since, repeated auth: answered as documented."""
    hub: RunningHub = hub_factory(subscribe_auth="token", jwt_secret=SECRET)
    baseline = hub.call(_task_count())
    with httpx.Client(base_url=hub.url) as http:
        epoch = http.get("/api/v1/health").json()["epoch"]
    with asyncio.Runner() as runner:

        @settings(FUZZ, max_examples=60)
        @given(ops=operations)
        @example(ops=[("unsubscribe", ["unified"]), ("subscribe", ["unified"], {}, False)])
        @example(ops=[("subscribe", ["market_SPY", "market_spy"], {"signals": 2}, True)])
        @example(ops=[("auth",), ("auth",), ("subscribe", ["signals"], {"signals": 3}, False)])
        def play(ops: list[tuple[Any, ...]]) -> None:
            runner.run(_run_operations(hub, epoch, ops))

        play()
        runner.run(assert_no_leaks(hub, baseline))


@pytest.mark.anyio
async def test_auth_frames_on_an_open_hub(hub_factory: Any) -> None:
    """On an open hub, auth frames without a token get an error; with any token, authenticated."""
    hub: RunningHub = hub_factory()
    ws = await connect(hub.ws + "/ws")
    await send_json(ws, {"action": "auth"})
    answer = await recv_json(ws)
    assert answer["type"] == "error" and answer["code"] == protocol.ERR_INVALID_FRAME
    await send_json(ws, {"action": "subscribe", "channels": ["unified"]})
    assert (await recv_json(ws))["type"] == "subscribed"
    for token in (_token(), "not-a-jwt"):
        await send_json(ws, {"action": "auth", "token": token})
        assert await recv_json(ws) == {"type": "authenticated", "required": False}
    await send_json(ws, {"action": "ping"})
    assert await recv_json(ws) == {"type": "pong"}
    await ws.close()
    async with httpx.AsyncClient(base_url=hub.url) as http:
        assert (await http.get("/api/v1/health")).status_code == 200


# -- query strings of per-channel sockets -------------------------------------------------------


async def _open_with_query(hub: RunningHub, query: dict[str, str]) -> None:
    ws = await connect(hub.ws + "/ws/unified?" + urlencode(query))
    try:
        answer = await recv_json(ws)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, f"dropped without a close frame for {query}"
        assert exc.rcvd.code == protocol.CLOSE_POLICY_VIOLATION, (exc.rcvd, query)
        return
    finally:
        await ws.close()
    assert answer["type"] == "subscribed" and answer["channel"] == "unified", answer


def test_random_since_and_epoch_queries_are_answered(hub_factory: Any) -> None:
    """?since=&epoch= of any value get subscribed or a 1008 close, never a dropped socket."""
    hub: RunningHub = hub_factory()
    baseline = hub.call(_task_count())
    with asyncio.Runner() as runner:

        @settings(FUZZ, max_examples=60)
        @given(
            since=st.one_of(st.text(max_size=30), st.integers(0, 2**80).map(str)),
            epoch=st.one_of(st.none(), st.text(max_size=20)),
        )
        @example(since="7", epoch=None)
        @example(since="²", epoch=None)  # a digit to str.isdigit, not to int()
        @example(since="1" * 5000, epoch=None)  # over int()'s 4300-digit limit
        @example(since=str(2**64), epoch="x")  # over what the recovery frame can encode
        def open_socket(since: str, epoch: str | None) -> None:
            query = {"since": since} if epoch is None else {"since": since, "epoch": epoch}
            runner.run(_open_with_query(hub, query))

        open_socket()
        runner.run(assert_no_leaks(hub, baseline))


# -- HTTP ---------------------------------------------------------------------------------------

message_like = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(
            json_values,
            st.sampled_from(
                [
                    *MESSAGE_TYPES,
                    "SPY",
                    "brk.b",
                    "MarketAgent",
                    "2026-03-01T09:30:00-05:00",
                    "buy",
                ]
            ),
            st.dictionaries(st.sampled_from(["price", "symbol", "action", "bid"]), json_values),
        )
        for name in MESSAGE_FIELDS
    },
)
http_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    message_like.map(lambda v: json.dumps(v).encode()),
    st.lists(message_like, max_size=4).map(lambda v: json.dumps({"messages": v}).encode()),
    st.dictionaries(st.sampled_from(["messages", "extra"]), json_values, max_size=2).map(
        lambda v: json.dumps(v).encode()
    ),
    st.integers(1500, 2600).map(lambda n: b'{"pad":"' + b"x" * n + b'"}'),
)


def assert_error_body(response: httpx.Response) -> None:
    """A non-2xx answer of the hub is {"error": {"code", "message"}}."""
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), response.text


def test_random_publish_bodies_are_answered_without_500(hub_factory: Any) -> None:
    """Random bodies to every publish endpoint get 202, 400, 413 or 422, never a 500."""
    hub: RunningHub = hub_factory(max_request_bytes=2048)
    with httpx.Client(base_url=hub.url, headers=hub.headers(), timeout=10) as http:

        @settings(FUZZ, max_examples=250)
        @given(path=st.sampled_from(PUBLISH_PATHS), body=http_bodies)
        @example(path="/api/v1/publish", body=b'{"messages": []}')
        @example(path="/api/v1/alerts", body=b"   ")
        @example(path="/api/v1/alerts", body=b'{"a": 1e999}')
        @example(path="/api/v1/narrative", body=b'{"narrative": {}, "n": 123456789012345678901}')
        def post(path: str, body: bytes) -> None:
            response = http.post(path, content=body, headers={"content-type": "application/json"})
            assert response.status_code in (202, 400, 413, 422), (response.status_code, body[:200])
            if response.status_code != 202:
                assert_error_body(response)

        post()
        assert http.get("/api/v1/health").status_code == 200


def test_random_path_segments_and_parameters_are_answered_without_500(hub_factory: Any) -> None:
    """Random symbols, channels, since and limit values get 2xx, 307, 404 or 422, never a 500."""
    hub: RunningHub = hub_factory()
    params = st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 2000).map(str))
    with httpx.Client(base_url=hub.url, headers=hub.headers(), timeout=10) as http:

        @settings(FUZZ, max_examples=150)
        @given(segment=st.text(min_size=1, max_size=30), since=params, limit=params)
        @example(segment="market_SPY", since="²", limit=None)  # str.isdigit, yet not an int
        @example(segment="unified", since=None, limit="²")
        @example(segment="unified", since="1" * 5000, limit=None)  # over int()'s digit limit
        @example(segment="unified", since="3", limit="1000")
        def request(segment: str, since: str | None, limit: str | None) -> None:
            quoted = quote(segment, safe="")
            response = http.post(f"/api/v1/market/{quoted}", json={"data": {"price": 1.0}})
            # 307: a segment ending in an encoded "/" gets Starlette's trailing-slash redirect.
            assert response.status_code in (202, 307, 404, 405, 422), (segment, response.text)
            if response.status_code == 422:
                assert_error_body(response)
            query = {k: v for k, v in (("since", since), ("limit", limit)) if v is not None}
            response = http.get(f"/api/v1/history/{quoted}", params=query)
            assert response.status_code in (200, 307, 404, 422), (segment, query, response.text)
            if response.status_code == 422:
                assert_error_body(response)

        request()
        assert http.get("/api/v1/health").status_code == 200
