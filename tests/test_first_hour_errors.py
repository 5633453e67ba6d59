"""Errors a new user meets say what was wrong and what to do (issue #15), over real HTTP and
WebSocket against a real hub, and from the real ``alphawire publish`` command."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import RunningHub, connect, recv_json
from tests.test_cli import acli, env  # noqa: F401  (the CLI's clean environment fixture)

from alphawire import messages
from alphawire.sources.intake import quote_message
from alphawire.sources.records import Quote
from alphawire.sources.sim import MarketSimulation, simulation_start

pytestmark = pytest.mark.anyio

# A WebSocket handshake as a browser or websockets would send it, made with a plain HTTP client
# so that the refusal's status and body can be read.
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def post(hub: RunningHub, path: str, body: Any, method: str = "POST") -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers(), timeout=10) as http:
        return await http.request(method, path, json=body)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an answer, checking the one shape on the way."""
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


# -- one shape everywhere ----------------------------------------------------------------------


async def test_unknown_route_answers_the_error_shape_with_a_suggestion(hub: RunningHub) -> None:
    """An unknown path is a 404 in the {"error": ...} shape, suggesting the nearest endpoint."""
    response = await post(hub, "/api/v1/ws/stat", None, method="GET")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "no endpoint GET /api/v1/ws/stat" in error["message"]
    assert "did you mean /api/v1/ws/stats?" in error["message"]
    assert "detail" not in response.text


async def test_wrong_method_answers_the_error_shape_naming_the_allowed_one(
    hub: RunningHub,
) -> None:
    """A method a route does not take is a 405 in the error shape naming the allowed method."""
    response = await post(hub, "/api/v1/health", {})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    error = error_of(response)
    assert error == {
        "code": "method_not_allowed",
        "message": "POST is not allowed on /api/v1/health; allowed: GET",
    }


async def test_refused_host_answers_the_error_shape(hub: RunningHub) -> None:
    """A Host the hub does not serve (the DNS-rebinding guard) is a 400 in the error shape;
    an allowed one reaches the API."""
    async with httpx.AsyncClient(base_url=hub.url, timeout=10) as http:
        bad = await http.get("/api/v1/health", headers={"Host": "evil.example"})
        good = await http.get("/api/v1/health")
    assert bad.status_code == 400
    error = error_of(bad)
    assert error["code"] == "invalid_host"
    assert "'evil.example'" in error["message"] and "--allowed-hosts" in error["message"]
    assert good.status_code == 200 and good.json()["status"] == "ok"


def test_unexpected_failure_answers_the_error_shape(hub: RunningHub) -> None:
    """A bug in a route answers 500 in the error shape (no traceback), and is logged."""

    async def boom() -> None:
        raise RuntimeError("bug")

    app = hub.server.config.app.app  # the FastAPI app inside the gateway
    app.add_api_route("/api/v1/boom", boom, include_in_schema=False)
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        answer = http.get("/api/v1/boom")
    assert answer.status_code == 500
    error = error_of(answer)
    assert error["code"] == "internal_error"
    assert "GET /api/v1/boom" in error["message"] and "Traceback" not in answer.text


def test_mistyped_websocket_path_is_a_404_naming_the_endpoints(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    """A WebSocket handshake on /api/v1/ws/signal gets HTTP 404 (not a bare 403) with a body
    naming the valid endpoints and the nearest one, and is logged as a 404."""
    with caplog.at_level(logging.WARNING, logger="alphawire.http"), httpx.Client() as http:
        answer = http.get(hub.url + "/api/v1/ws/signal", headers=UPGRADE)
    assert answer.status_code == 404
    error = error_of(answer)
    assert error["code"] == "not_found"
    assert "did you mean /api/v1/ws/signals?" in error["message"]
    assert "/api/v1/ws/market/{symbol}" in error["endpoints"]
    assert "/api/v1/ws/unified" in error["endpoints"]
    assert any("unknown path '/api/v1/ws/signal': 404" in r.getMessage() for r in caplog.records)


def test_origin_refusal_stays_a_403(hub: RunningHub) -> None:
    """A real endpoint with a foreign Origin is still refused with 403: the two are told apart."""
    with httpx.Client() as http:
        answer = http.get(
            hub.url + "/api/v1/ws/signals",
            headers={**UPGRADE, "Origin": "https://evil.example"},
        )
    assert answer.status_code == 403


# -- validation in the user's language --------------------------------------------------------


async def test_misspelt_field_gets_did_you_mean(hub: RunningHub) -> None:
    """`alert_typ` is refused with "did you mean 'alert_type'?" as the headline."""
    response = await post(
        hub, "/api/v1/alerts", {"alert_typ": "dark_pool", "source": "me", "content": "x"}
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["message"].startswith(
        "alert_typ: unknown field 'alert_typ'; did you mean 'alert_type'?"
    )
    assert {e["field"] for e in error["errors"]} == {"alert_typ", "alert_type"}


async def test_batch_item_without_type_names_the_types(hub: RunningHub) -> None:
    """A batch item with no `type` is told every message needs one, with the list of types."""
    response = await post(
        hub,
        "/api/v1/publish",
        {"messages": [{"type": "narrative", "narrative": {}}, {"alert_type": "x", "source": "s"}]},
    )
    assert response.status_code == 422
    error = error_of(response)
    expected = (
        'each message needs "type": one of alert, signal, market_data, agent_insight, narrative'
    )
    assert error["message"] == f"messages.1.type: {expected}"
    assert error["errors"] == [
        {
            "loc": ["messages", 1, "type"],
            "field": "type",
            "message": expected,
            "type": "union_tag_not_found",
            "index": 1,
        }
    ]


async def test_misspelt_type_gets_did_you_mean(hub: RunningHub) -> None:
    """`"type": "alrt"` is told the valid types and the nearest one."""
    response = await post(hub, "/api/v1/publish", {"messages": [{"type": "alrt"}]})
    assert "did you mean 'alert'?" in error_of(response)["message"]


async def test_bad_timestamp_shows_an_accepted_example(hub: RunningHub) -> None:
    """A timestamp that is not ISO-8601 gets an example the hub accepts, which then works."""
    body = {"narrative": {"h": 1}, "timestamp": "yesterday"}
    error = error_of(await post(hub, "/api/v1/narrative", body))
    assert error["message"].startswith("timestamp: ")
    example = error["message"].split("e.g. ", 1)[1].split('"')[1]
    assert example == "2026-01-05T14:30:00Z"
    accepted = await post(hub, "/api/v1/narrative", {**body, "timestamp": example})
    assert accepted.status_code == 202


@pytest.mark.parametrize("field", ["volume", "bid_size", "ask_size", "last_size"])
async def test_negative_volume_or_size_is_refused(hub: RunningHub, field: str) -> None:
    """A negative volume or size is refused naming the field; nothing is published."""
    response = await post(hub, "/api/v1/market/SPY", {"data": {"price": 1.0, field: -100}})
    assert response.status_code == 422
    error = error_of(response)
    assert error["errors"][0]["field"] == f"data.{field}"
    assert "never negative" in error["message"]
    stats = (await post(hub, "/api/v1/ws/stats", None, method="GET")).json()
    assert stats["published_total"] == 0


async def test_whole_share_sizes_arrive_as_integers(hub: RunningHub) -> None:
    """Whole-number sizes and volumes are delivered as integers (1200, not 1200.0, also when
    sent as 7.0); a fractional size (a market that trades fractions) is kept as it was sent."""
    async with await connect(hub.ws + "/ws/market/BTC-USD") as ws:
        await recv_json(ws)
        data = {"price": 1.5, "bid_size": 300, "ask_size": 0, "last_size": 7.0, "volume": 1200}
        assert (await post(hub, "/api/v1/market/BTC-USD", {"data": data})).status_code == 202
        frame = await recv_json(ws)
        fractional = {"price": 1.5, "last_size": 0.25}
        assert (await post(hub, "/api/v1/market/BTC-USD", {"data": fractional})).status_code == 202
        second = await recv_json(ws)
    for key in ("bid_size", "ask_size", "last_size", "volume"):
        assert type(frame["data"][key]) is int, key
    assert frame["data"]["volume"] == 1200 and frame["data"]["last_size"] == 7
    assert second["data"]["last_size"] == 0.25


def test_simulated_ticks_carry_integer_sizes() -> None:
    """The demo's simulated quotes carry whole-share sizes and volume as integers on the wire."""
    start = simulation_start(None, datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    sim = MarketSimulation(("SPY",), seed=3, start=start)
    quotes = [r for r in sim.advance_to(start + timedelta(minutes=2)) if isinstance(r, Quote)]
    assert len(quotes) >= 50
    for quote in quotes[:50]:
        message = quote_message(quote)
        model = messages.validate({"symbol": "SPY", "data": message["data"]}, "market_data")
        wire = orjson.loads(messages.seal(model).body)["data"]
        for key in ("bid_size", "ask_size", "last_size", "volume"):
            assert type(wire[key]) is int and wire[key] >= 0, (key, wire[key])
        assert wire["simulated"] is True


async def test_alert_with_neither_content_nor_embed_is_refused(hub: RunningHub) -> None:
    """An alert without content or embed is a 422 naming both fields; nothing is accepted."""
    for body in (
        {"alert_type": "x", "source": "s"},
        {"alert_type": "x", "source": "s", "content": "   ", "embed": None},
        {"alert_type": "x", "source": "s", "embed": {"color": 5, "title": ""}},
    ):
        response = await post(hub, "/api/v1/alerts", body)
        assert response.status_code == 422
        error = error_of(response)
        assert '"content"' in error["message"] and '"embed"' in error["message"]
        assert error["errors"][0]["field"] == "content"
    ok = await post(
        hub, "/api/v1/alerts", {"alert_type": "x", "source": "s", "embed": {"title": "t"}}
    )
    assert ok.status_code == 202
    assert hub.node.alerts.outbox.log() == [
        {**hub.node.alerts.outbox.log()[0], "embed": {"title": "t"}}
    ]


async def test_cli_publish_error_has_no_internal_prefix(
    hub: RunningHub,
    env: dict[str, str],  # noqa: F811
) -> None:
    """`alphawire publish alert` without alert_type says `alert_type: ...`, not
    `messages.0.alert_type`, and a misspelt key gets "did you mean"."""
    done = await acli(
        "publish",
        "alert",
        "source=cli",
        "content=x",
        "--url",
        hub.url,
        "--token",
        hub.token,
        env=env,
    )
    assert done.returncode == 1
    assert "hub answered 422: alert_type: Field required\n" in done.stderr
    assert "messages.0." not in done.stderr.split("\n")[0]
    done = await acli(
        "publish",
        "alert",
        "alert_typ=dp",
        "source=cli",
        "content=x",
        "--url",
        hub.url,
        "--token",
        hub.token,
        env=env,
    )
    assert "did you mean 'alert_type'?" in done.stderr


def test_validation_benchmark_runs_against_a_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m bench.validation --baseline REV` times the current and a git revision's
    messages.py side by side (a smoke run: no timing is asserted)."""
    from bench.validation import main

    main(["--number", "50", "--runs", "1", "--baseline", "HEAD"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["messages.py", "tick"]
    assert [line.split()[0] for line in lines[1:]] == ["current", "HEAD"]
    assert all(float(x) > 0 for line in lines[1:] for x in line.split()[1:])
