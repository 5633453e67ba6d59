"""Access rules against real hubs: subscribe tokens, publish tokens, origins, limits, secrets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tests.conftest import RunningHub, connect, recv_json, send_json, wait_until, without_epoch
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from alphawire.errors import AuthError
from alphawire.settings import Settings
from alphawire.web.app import create_app

pytestmark = pytest.mark.anyio

# HMAC keys of 32+ bytes: PyJWT warns about shorter ones, and warnings are errors here.
SECRET = "alphawire-test-subscribe-secret-0123456789"
OTHER_SECRET = "some-other-secret-that-signs-nothing-valid"
PUBLISH_TOKEN = "test-token"  # what hub_factory configures

CASES = ("no_token", "bad_signature", "expired", "wrong_pattern", "right")

# Per-channel endpoint → (its channel, the patterns of a token that allows it).
CHANNEL_ENDPOINTS: dict[str, tuple[str, list[str]]] = {
    "/ws/unified": ("unified", ["unified"]),
    "/ws/signals": ("signals", ["sig*"]),
    "/ws/narrative": ("narrative", ["narrative"]),
    "/ws/market/SPY": ("market_SPY", ["market_*"]),
    "/ws/agents/MarketAgent": ("agent_marketagent", ["agent_MarketAgent"]),
}
WRONG_PATTERNS = ["market_QQQ"]  # a valid grant that allows none of the channels above

WS_CLOSE = {"no_token": 4001, "bad_signature": 4001, "expired": 4002, "wrong_pattern": 4003}
HTTP_ANSWER = {
    "no_token": (401, "unauthorized"),
    "bad_signature": (401, "unauthorized"),
    "expired": (401, "token_expired"),
    "wrong_pattern": (403, "forbidden"),
    "right": (200, None),
}

ALERT = {"alert_type": "dark_pool", "source": "dp", "symbol": "SPY", "content": "2M @ 598"}
PUBLISH_ENDPOINTS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/alerts", ALERT),
    ("/api/v1/signals", {"signal": {"symbol": "nvda", "action": "buy"}}),
    ("/api/v1/market/SPY", {"data": {"price": 1.5}}),
    ("/api/v1/agents/MarketAgent/insights", {"insight": {"regime": "risk_on"}}),
    ("/api/v1/narrative", {"narrative": {"headline": "x"}}),
    ("/api/v1/publish", {"messages": [{"type": "alert", **ALERT}]}),
]


def make_token(
    patterns: list[str], *, expires_in: float = 300.0, key: Any = SECRET, alg: str = "HS256"
) -> str:
    return jwt.encode({"exp": time.time() + expires_in, "channels": patterns}, key, algorithm=alg)


def token_for(case: str, patterns: list[str]) -> str | None:
    if case == "no_token":
        return None
    if case == "bad_signature":
        return make_token(patterns, key=OTHER_SECRET)
    if case == "expired":
        return make_token(patterns, expires_in=-60)
    if case == "wrong_pattern":
        return make_token(WRONG_PATTERNS)
    return make_token(patterns)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(claims: dict[str, Any], alg: str, key: bytes = b"") -> str:
    """A JWT built by hand (PyJWT refuses to sign HS256 with a PEM key, as an attacker would)."""
    head = _b64(orjson.dumps({"alg": alg, "typ": "JWT"}))
    body = _b64(orjson.dumps(claims))
    signing_input = f"{head}.{body}".encode()
    signature = hmac.new(key, signing_input, hashlib.sha256).digest() if alg == "HS256" else b""
    return f"{head}.{body}.{_b64(signature)}"


def token_hub(hub_factory: Any, **overrides: Any) -> RunningHub:
    hub: RunningHub = hub_factory(subscribe_auth="token", jwt_secret=SECRET, **overrides)
    return hub


async def first_answer(ws: ClientConnection) -> dict[str, Any] | tuple[int, str]:
    """The hub's first frame, or (code, reason) of the close it sent instead."""
    try:
        return await recv_json(ws)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "the hub dropped the connection without a close frame"
        return exc.rcvd.code, exc.rcvd.reason


async def close_of(ws: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """Read (and drop) frames until the hub closes the socket; its close code and reason."""
    try:
        while True:
            await recv_json(ws, timeout)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "the hub dropped the connection without a close frame"
        return exc.rcvd.code, exc.rcvd.reason


async def send_quietly(ws: ClientConnection, frame: Any) -> None:
    """Send a frame; the hub may already have closed the socket."""
    with contextlib.suppress(ConnectionClosed):
        await send_json(ws, frame)


async def stats(hub: RunningHub) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        data: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()
        return data


# -- subscribe tokens: the matrix ---------------------------------------------------------------


async def _open_channel_endpoint(
    hub: RunningHub, path: str, patterns: list[str], case: str, way: str
) -> dict[str, Any] | tuple[int, str]:
    token = token_for(case, patterns)
    query = f"?token={token}" if way == "query" and token is not None else ""
    ws = await connect(hub.ws + path + query)
    try:
        if way == "frame":
            await send_quietly(
                ws, {"action": "auth", "token": token} if token else {"action": "auth"}
            )
        return await first_answer(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize("way", ["query", "frame"])
@pytest.mark.parametrize("case", CASES)
async def test_channel_endpoints_enforce_subscribe_tokens(
    hub_factory: Any, case: str, way: str
) -> None:
    """Per-channel sockets: no/bad token 4001, expired 4002, channel not granted 4003, else ok."""
    hub = token_hub(hub_factory, auth_timeout=0.5)
    answers = await asyncio.gather(
        *(
            _open_channel_endpoint(hub, path, patterns, case, way)
            for path, (_, patterns) in CHANNEL_ENDPOINTS.items()
        )
    )
    for (path, (channel, _)), answer in zip(CHANNEL_ENDPOINTS.items(), answers, strict=True):
        if case == "right":
            assert isinstance(answer, dict), (path, answer)
            assert without_epoch(answer) == {"type": "subscribed", "channel": channel, "seq": 0}
            continue
        assert isinstance(answer, tuple), (path, answer)
        code, reason = answer
        assert code == WS_CLOSE[case], (path, answer)
        assert reason, path
        if case == "no_token" and way == "query":
            assert "no auth frame within 0.5s" in reason  # closed at the auth deadline
        if case == "wrong_pattern":
            assert channel in reason


@pytest.mark.parametrize("way", ["query", "frame"])
@pytest.mark.parametrize("case", CASES)
async def test_multiplex_endpoint_enforces_subscribe_tokens(
    hub_factory: Any, case: str, way: str
) -> None:
    """/ws: bad tokens close it (4001/4002); a channel the token excludes is an error frame only."""
    hub = token_hub(hub_factory, auth_timeout=0.5)
    token = token_for(case, ["unified", "market_QQQ"])
    query = f"?token={token}" if way == "query" and token is not None else ""
    ws = await connect(hub.ws + "/ws" + query)
    try:
        if way == "frame":
            await send_quietly(
                ws, {"action": "auth", "token": token} if token else {"action": "auth"}
            )
        await send_quietly(ws, {"action": "subscribe", "channels": ["unified", "market_QQQ"]})
        if case in ("no_token", "bad_signature", "expired"):
            code, reason = await close_of(ws)
            assert code == WS_CLOSE[case] and reason
            return
        first, second = await recv_json(ws), await recv_json(ws)
        if case == "wrong_pattern":
            assert first["type"] == "error" and first["code"] == "forbidden"
            assert first["channel"] == "unified" and "unified" in first["message"]
        else:
            assert without_epoch(first) == {"type": "subscribed", "channel": "unified", "seq": 0}
        assert without_epoch(second) == {"type": "subscribed", "channel": "market_QQQ", "seq": 0}
        await send_json(ws, {"action": "ping"})
        assert await recv_json(ws) == {"type": "pong"}  # the socket stays open
    finally:
        await ws.close()


@pytest.mark.parametrize("way", ["query", "header"])
@pytest.mark.parametrize("case", CASES)
async def test_history_enforces_subscribe_tokens(hub_factory: Any, case: str, way: str) -> None:
    """GET /history/{channel}: 401 unauthorized/token_expired, 403 forbidden, 200 when allowed."""
    hub = token_hub(hub_factory)
    status, code = HTTP_ANSWER[case]
    async with httpx.AsyncClient(base_url=hub.url) as http:
        for channel, patterns in CHANNEL_ENDPOINTS.values():
            token = token_for(case, patterns)
            params = {"token": token} if way == "query" and token else {}
            headers = {"Authorization": f"Bearer {token}"} if way == "header" and token else {}
            response = await http.get(f"/api/v1/history/{channel}", params=params, headers=headers)
            assert response.status_code == status, (channel, response.text)
            if code is None:
                assert response.json()["channel"] == channel
                continue
            error = response.json()["error"]
            assert error["code"] == code and error["message"], channel
            if status == 401:
                assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_publish_token_is_not_a_subscribe_token(hub_factory: Any) -> None:
    """The static publish token does not open a subscription (4001) nor read history (401)."""
    hub = token_hub(hub_factory)
    ws = await connect(hub.ws + f"/ws/unified?token={PUBLISH_TOKEN}")
    answer = await first_answer(ws)
    await ws.close()
    assert isinstance(answer, tuple) and answer[0] == 4001
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        response = await http.get("/api/v1/history/unified")
    assert response.status_code == 401


# -- publish tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["no_token", "wrong_token", "subscribe_jwt", "publish_token"])
async def test_only_the_publish_token_publishes(hub_factory: Any, who: str) -> None:
    """Every publish endpoint: 401 without the publish token (a subscribe JWT never publishes)."""
    hub = token_hub(hub_factory)
    bearer = {
        "no_token": None,
        "wrong_token": "not-the-publish-token",
        "subscribe_jwt": make_token(["*"]),
        "publish_token": PUBLISH_TOKEN,
    }[who]
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with httpx.AsyncClient(base_url=hub.url, headers=headers) as http:
        for path, body in PUBLISH_ENDPOINTS:
            response = await http.post(path, json=body)
            if who == "publish_token":
                assert response.status_code == 202, (path, response.text)
            else:
                assert response.status_code == 401, (path, response.text)
                assert response.json()["error"]["code"] == "unauthorized"
    published = (await stats(hub))["published_total"]
    assert published == (len(PUBLISH_ENDPOINTS) if who == "publish_token" else 0)


# -- token lifetime -----------------------------------------------------------------------------


async def test_token_expiring_while_connected_closes_with_4002(hub_factory: Any) -> None:
    """A socket whose token expires while it is open is closed with 4002 at the expiry."""
    hub = token_hub(hub_factory)
    ws = await connect(hub.ws + "/ws/unified?token=" + make_token(["unified"], expires_in=1.5))
    assert (await recv_json(ws))["type"] == "subscribed"
    await send_json(ws, {"action": "ping"})
    assert await recv_json(ws) == {"type": "pong"}
    code, reason = await close_of(ws)
    assert code == 4002 and "expired" in reason


async def test_refreshed_token_extends_the_connection(hub_factory: Any) -> None:
    """An auth frame with a fresh token is answered authenticated and moves the expiry."""
    hub = token_hub(hub_factory)
    first_expiry = time.time() + 1.5
    ws = await connect(hub.ws + "/ws/unified?token=" + make_token(["unified"], expires_in=1.5))
    assert (await recv_json(ws))["type"] == "subscribed"
    await send_json(ws, {"action": "auth", "token": make_token(["unified"], expires_in=3.5)})
    assert await recv_json(ws) == {"type": "authenticated"}
    await asyncio.sleep(max(0.0, first_expiry + 0.7 - time.time()))  # past the first expiry
    await send_json(ws, {"action": "ping"})
    assert await recv_json(ws) == {"type": "pong"}
    code, _ = await close_of(ws)  # the refreshed token's own expiry still applies
    assert code == 4002


# -- public-key tokens --------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_public_key_tokens_and_algorithm_confusion(
    hub_factory: Any, tmp_path: Path, alg: str
) -> None:
    """With a public key, its private key's tokens work; HS256 or "none" forgeries get 4001."""
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "jwt-public.pem"
    key_file.write_bytes(pem)
    hub = hub_factory(subscribe_auth="token", jwt_public_key_file=key_file)
    claims = {"exp": int(time.time()) + 300, "channels": ["unified"]}
    # The forger is sound: the same construction with a real HMAC key is a valid token.
    assert jwt.decode(forge(claims, "HS256", SECRET.encode()), SECRET, algorithms=["HS256"])

    good = jwt.encode(claims, private, algorithm=alg)
    ws = await connect(hub.ws + "/ws/unified?token=" + good)
    answer = await first_answer(ws)
    await ws.close()
    assert isinstance(answer, dict) and answer["type"] == "subscribed", answer

    for forged in (
        forge(claims, "HS256", pem),
        forge(claims, "HS256", pem.strip()),
        forge(claims, "none"),
    ):
        ws = await connect(hub.ws + "/ws/unified?token=" + forged)
        answer = await first_answer(ws)
        await ws.close()
        assert isinstance(answer, tuple) and answer[0] == 4001, answer


# -- defaults -----------------------------------------------------------------------------------


async def test_loopback_default_lets_anyone_subscribe(hub_factory: Any) -> None:
    """With default settings (loopback, subscribe_auth auto) no token is needed to read."""
    defaults = Settings()
    assert (defaults.host, defaults.subscribe_auth) == ("127.0.0.1", "auto")
    hub = hub_factory()
    ws = await connect(hub.ws + "/ws/unified")
    assert without_epoch(await recv_json(ws)) == {
        "type": "subscribed",
        "channel": "unified",
        "seq": 0,
    }
    await ws.close()
    ws = await connect(hub.ws + "/ws")
    await send_json(ws, {"action": "subscribe", "channels": ["market_SPY"]})
    assert (await recv_json(ws))["type"] == "subscribed"
    await ws.close()
    async with httpx.AsyncClient(base_url=hub.url) as http:
        assert (await http.get("/api/v1/history/unified")).status_code == 200


def test_public_interface_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    """On 0.0.0.0 with subscribe_auth auto and no JWT key, create_app fails naming the variable."""
    settings = Settings(
        host="0.0.0.0", subscribe_auth="auto", data_dir=tmp_path, publish_token=PUBLISH_TOKEN
    )
    with pytest.raises(AuthError, match="ALPHAWIRE_JWT_SECRET"):
        create_app(settings)


# -- origins ------------------------------------------------------------------------------------


async def _accepted(url: str, origin: str | None) -> bool:
    """True when the upgrade is accepted (and subscribed), False when refused with HTTP 403."""
    try:
        ws = await connect(url, origin=origin) if origin else await connect(url)
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return False
    try:
        assert (await recv_json(ws))["type"] == "subscribed"
    finally:
        await ws.close()
    return True


async def test_origin_allow_list(hub_factory: Any) -> None:
    """Cross-site origins are refused with 403; no Origin, same origin and allowed ones get in."""
    hub = hub_factory()
    url = hub.ws + "/ws/unified"
    assert not await _accepted(url, "http://evil.example")
    assert not await _accepted(url, "null")
    assert not await _accepted(url, "http://127.0.0.1:1")  # another port is another origin
    assert await _accepted(url, None)
    assert await _accepted(url, hub.url)
    assert not await _accepted(url, "http://dash.example")

    listed = hub_factory(allowed_origins=("http://dash.example",))
    url = listed.ws + "/ws/unified"
    assert await _accepted(url, "http://dash.example")
    assert not await _accepted(url, "http://evil.example")


# -- limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["max_connections", "max_connections_per_ip"])
async def test_connection_limits_close_with_1013(hub_factory: Any, limit: str) -> None:
    """Over a connection limit (total or per IP) a socket is closed with 1013; freed slots work."""
    allowed = 3 if limit == "max_connections" else 2
    hub = hub_factory(**{limit: allowed})
    sockets = [await connect(hub.ws + "/ws/unified") for _ in range(allowed)]
    try:
        for ws in sockets:
            assert (await recv_json(ws))["type"] == "subscribed"
        extra = await connect(hub.ws + "/ws/unified")
        code, reason = await close_of(extra)
        assert code == 1013 and "too many connections" in reason
        await sockets.pop().close()
        await _wait_connections(hub, allowed - 1)  # the slot is free once the hub saw the close
        again = await connect(hub.ws + "/ws/unified")
        sockets.append(again)
        assert (await recv_json(again))["type"] == "subscribed"
    finally:
        for ws in sockets:
            await ws.close()


async def _wait_connections(hub: RunningHub, count: int) -> None:
    deadline = time.monotonic() + 10
    while (await stats(hub))["total_connections"] != count:
        assert time.monotonic() < deadline, "connection count did not settle"
        await asyncio.sleep(0.02)


async def test_channel_limit_per_connection(hub_factory: Any) -> None:
    """Past max_channels_per_connection a channel gets too_many_channels; freed slots are reused."""
    hub = hub_factory(max_channels_per_connection=2)
    ws = await connect(hub.ws + "/ws")
    try:
        await send_json(
            ws, {"action": "subscribe", "channels": ["unified", "signals", "narrative"]}
        )
        assert (await recv_json(ws))["channel"] == "unified"
        assert (await recv_json(ws))["channel"] == "signals"
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "too_many_channels"
        assert error["channel"] == "narrative"
        await send_json(ws, {"action": "subscribe", "channels": ["signals"]})  # already taken
        assert (await recv_json(ws))["type"] == "subscribed"
        await send_json(ws, {"action": "unsubscribe", "channels": ["unified"]})
        assert await recv_json(ws) == {"type": "unsubscribed", "channel": "unified"}
        await send_json(ws, {"action": "subscribe", "channels": ["narrative"]})
        answer = await recv_json(ws)
        assert answer["type"] == "subscribed" and answer["channel"] == "narrative"
    finally:
        await ws.close()


async def test_client_frame_flood_closes_with_4029(hub_factory: Any) -> None:
    """A client sending frames faster than its rate and burst is closed with 4029."""
    hub = hub_factory(client_frames_per_second=5, client_frame_burst=5)
    ws = await connect(hub.ws + "/ws")
    for _ in range(20):
        await send_quietly(ws, {"action": "ping"})
    code, reason = await close_of(ws)
    assert code == 4029 and "frames per second" in reason


# -- secrets never leak -------------------------------------------------------------------------


def _reaches_root(logger: logging.Logger) -> bool:
    node: logging.Logger | None = logger
    while node is not None:
        if not node.propagate:
            return False
        node = node.parent
    return True


@contextlib.contextmanager
def capture_logs(caplog: pytest.LogCaptureFixture, names: tuple[str, ...]) -> Iterator[None]:
    """caplog at DEBUG for ``names``; loggers that stop propagating (uvicorn's) get its handler."""
    attached = []
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if not _reaches_root(logger):
            logger.addHandler(caplog.handler)
            attached.append(logger)
    try:
        yield
    finally:
        for logger in attached:
            logger.removeHandler(caplog.handler)


async def test_secrets_never_leak(hub_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    """No JWT, JWT secret or publish token appears in logs, stats, health or error answers."""
    hub = token_hub(hub_factory)
    subscribe_jwt = make_token(["unified"])
    expired_jwt = make_token(["unified"], expires_in=-60)
    forged_jwt = make_token(["unified"], key=OTHER_SECRET)
    secrets = {
        "subscribe JWT": subscribe_jwt,
        "expired JWT": expired_jwt,
        "JWT with a bad signature": forged_jwt,
        "JWT secret": SECRET,
        "publish token": PUBLISH_TOKEN,
    }
    answers: list[str] = []  # every error body and close reason the hub sent
    # Set after the hub started: uvicorn sets its loggers' levels when configured.
    with capture_logs(caplog, ("uvicorn.error", "uvicorn.access", "alphawire")):
        ws = await connect(hub.ws + "/ws/unified?token=" + subscribe_jwt)
        assert (await recv_json(ws))["type"] == "subscribed"
        await send_json(ws, {"action": "auth", "token": subscribe_jwt})
        assert await recv_json(ws) == {"type": "authenticated"}
        for path in (
            "/ws/unified?token=" + expired_jwt,
            "/ws/unified?token=" + forged_jwt,
            "/ws/signals?token=" + subscribe_jwt,
            "/ws/unified?token=" + PUBLISH_TOKEN,
        ):
            refused = await connect(hub.ws + path)
            answer = await first_answer(refused)
            assert isinstance(answer, tuple), answer
            answers.append(answer[1])
        refused = await connect(hub.ws + "/ws")
        await send_json(refused, {"action": "auth", "token": forged_jwt})
        answers.append((await close_of(refused))[1])
        await ws.close()

        async with httpx.AsyncClient(base_url=hub.url) as http:
            for params, headers in (
                ({"token": subscribe_jwt}, {}),
                ({}, {"Authorization": f"Bearer {subscribe_jwt}"}),
                ({"token": expired_jwt}, {}),
                ({"token": forged_jwt}, {}),
                ({}, {"Authorization": f"Bearer {PUBLISH_TOKEN}"}),
            ):
                response = await http.get("/api/v1/history/unified", params=params, headers=headers)
                answers.append(response.text)
            for bearer, body in (
                (subscribe_jwt, ALERT),
                (SECRET, ALERT),
                (PUBLISH_TOKEN + "x", ALERT),
                (PUBLISH_TOKEN, {"alert_type": 1}),
                (PUBLISH_TOKEN, ALERT),
            ):
                response = await http.post(
                    "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {bearer}"}
                )
                answers.append(response.text)
            stats_text = (await http.get("/api/v1/ws/stats")).text
            health_text = (await http.get("/api/v1/health")).text
        await _wait_connections(hub, 0)

    messages = [record.getMessage() for record in caplog.records]
    assert any("[redacted]" in m for m in messages), "no redacted log line: capture is vacuous"
    assert any("/ws/unified" in m for m in messages)
    for what, secret in secrets.items():
        for message in messages:
            assert secret not in message, f"{what} in a log line: {message[:200]}"
        for text in (*answers, stats_text, health_text):
            assert secret not in text, f"{what} in an answer: {text[:200]}"


def _raw_upgrade(port: int, host: str, path: str = "/api/v1/ws/unified") -> bytes:
    """The status line of a raw WebSocket upgrade sent with ``host`` as its Host header."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


async def test_host_allow_list_guards_websockets_and_http(hub_factory: Any) -> None:
    """DNS rebinding: bound to loopback, only loopback Host names are served, on the WebSocket
    endpoints (refused with 403 before the handshake) as on HTTP (400)."""
    hub = hub_factory()
    port = int(hub.url.rsplit(":", 1)[1])
    for path in ("/api/v1/ws/unified", "/api/v1/ws/market/SPY", "/api/v1/ws"):
        assert b" 403 " in _raw_upgrade(port, f"evil.example:{port}", path)
        assert b" 101 " in _raw_upgrade(port, f"localhost:{port}", path)
    assert b" 101 " in _raw_upgrade(port, f"127.0.0.1:{port}")
    assert b" 101 " in _raw_upgrade(port, f"[::1]:{port}")
    assert b" 403 " in _raw_upgrade(port, "")
    async with httpx.AsyncClient() as client:
        bad = await client.get(hub.url + "/api/v1/health", headers={"Host": "evil.example"})
        good = await client.get(hub.url + "/api/v1/health")
    assert bad.status_code == 400 and good.status_code == 200

    listed = hub_factory(allowed_hosts=("hub.example", "*.desk.example"))
    port = int(listed.url.rsplit(":", 1)[1])
    assert b" 101 " in _raw_upgrade(port, "hub.example")
    assert b" 101 " in _raw_upgrade(port, f"eu.desk.example:{port}")
    assert b" 403 " in _raw_upgrade(port, f"localhost:{port}")


async def test_a_client_closing_before_its_auth_frame_is_refused_quietly(
    hub_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal (no auth frame) races the client's own close frame: the hub lets the
    client's close win, with no "Exception in ASGI application" and no leaked connection."""
    hub = token_hub(hub_factory)
    port = int(hub.url.rsplit(":", 1)[1])
    with capture_logs(caplog, ("uvicorn", "uvicorn.error", "alphawire")):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(
                    (
                        f"GET /api/v1/ws/unified HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n"
                    ).encode()
                )
                data = b""
                while b"\r\n\r\n" not in data:
                    data += s.recv(4096)
                assert b" 101 " in data.split(b"\r\n", 1)[0]
                # A masked close frame (1000) as soon as the handshake is done.
                s.sendall(bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]))
                while s.recv(4096):
                    pass
        await wait_until(lambda: hub.node.registry.connection_count() == 0)
    assert "Exception in ASGI application" not in caplog.text
    assert "InvalidState" not in caplog.text
