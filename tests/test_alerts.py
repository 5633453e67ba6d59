"""The AlertManager end to end: a real hub, a fake Discord that behaves as Discord documents."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import RunningHub, connect, free_socket, recv_json, start_hub, wait_healthy
from tests.fake_discord import FakeDiscord, payload_problems

from alphawire.alerting.manager import AlertManager, RetryPolicy
from alphawire.alerting.outbox import OutboxFull
from alphawire.alerting.routes import Route, RouteTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    # Discord's per-webhook shape (5 requests per window) with the window scaled down to
    # 50 ms so that a thousand alerts take seconds, not minutes.
    with FakeDiscord(rate_limit=5, rate_period=0.05) as fake:
        yield fake


def routes_file(tmp_path: Path, *routes: tuple[str, str, str]) -> Path:
    """A route table: (name, webhook url, extra TOML lines)."""
    text = ""
    for name, url, extra in routes:
        text += f'[[routes]]\nname = "{name}"\nwebhook_url = "{url}"\ncooldown = 0\n{extra}\n'
    path = tmp_path / "routes.toml"
    path.write_text(text)
    return path


async def wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def contents(fake: FakeDiscord, webhook: str) -> list[str]:
    return [m["content"] for m in fake.messages(webhook)]


async def post_alerts(hub: RunningHub, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers(), timeout=30) as http:
        response = await http.post("/api/v1/publish", json={"messages": batch})
    assert response.status_code == 202, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def alert(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "alert",
        "alert_type": "dark_pool",
        "source": "t",
        "content": f"alert #{i}",
        **extra,
    }


async def test_burst_of_1000_reaches_discord_complete_in_order_with_few_429s(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """1,000 alerts in one burst all reach the webhook, in order, paced to avoid 429s."""
    url = discord.add_webhook("111", "tok-a")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    ws = await connect(hub.ws + "/ws/unified")
    await recv_json(ws)
    await post_alerts(hub, [alert(i) for i in range(1000)])
    hub_seen = [(await recv_json(ws))["content"] for _ in range(1000)]
    await ws.close()
    assert hub_seen == [f"alert #{i}" for i in range(1000)]
    await wait_for(lambda: len(discord.messages("111")) >= 1000, timeout=120)
    assert contents(discord, "111") == [f"alert #{i}" for i in range(1000)]
    statuses = discord.statuses("111")
    assert statuses.count(429) <= 10, f"{statuses.count(429)} 429s"
    assert all(r.query.get("wait") == "true" for r in discord.requests)
    assert all(r.headers["user-agent"].startswith("DiscordBot (") for r in discord.requests)


async def test_hub_sees_every_alert_while_discord_is_down_and_nothing_is_lost(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """During a Discord outage the hub gets every alert at once; Discord gets them all after."""
    url = discord.add_webhook("222", "tok-b")
    hub = hub_factory(
        alert_routes=routes_file(tmp_path, ("desk", url, "")),
        alert_retry_base=0.05,
        alert_retry_cap=0.5,
    )
    discord.fail_for(3.0, status=503)
    discord.html_error_next(3)
    ws = await connect(hub.ws + "/ws/unified")
    await recv_json(ws)
    await post_alerts(hub, [alert(i) for i in range(100)])
    assert [(await recv_json(ws))["content"] for _ in range(100)] == [
        f"alert #{i}" for i in range(100)
    ]
    await ws.close()
    assert len(discord.messages("222")) == 0
    await wait_for(lambda: len(discord.messages("222")) >= 100)
    assert contents(discord, "222") == [f"alert #{i}" for i in range(100)]
    # The last delivery is recorded just after Discord's answer reaches the hub.
    await wait_for(lambda: hub.node.alerts.stats()["discord:desk"]["sent"] == 100)
    stats = hub.node.alerts.stats()["discord:desk"]
    assert stats["retried"] >= 1
    assert stats["dead"] == 0


async def test_oversized_alert_arrives_repaired(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """An alert over Discord's limits is split and truncated into messages Discord accepts."""
    url = discord.add_webhook("333", "tok-c")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    embed = {
        "title": "T" * 400,
        "description": "D" * 5000,
        "color": 99_999_999,
        "fields": [{"name": f"f{i}" * 100, "value": "v" * 2000} for i in range(40)],
    }
    await post_alerts(hub, [alert(0, content="x" * 5000, embed=embed)])
    await wait_for(lambda: len(discord.messages("333")) >= 3)
    assert set(discord.statuses("333")) == {200}
    for request in discord.requests:
        assert payload_problems(request.body) == []
    sent = "".join(m["content"] for m in discord.messages("333"))
    assert sent.count("x") == 5000


async def test_unknown_webhook_is_disabled_after_one_try(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """A 404 Unknown Webhook disables the route after one request and holds its alerts
    (none dead-lettered, the webhook's token shown nowhere); other routes carry on."""
    good = discord.add_webhook("444", "tok-d")
    gone = discord.url("999", "whatever")
    hub = hub_factory(
        alert_routes=routes_file(tmp_path, ("gone", gone, "continue = true"), ("good", good, ""))
    )
    await post_alerts(hub, [alert(i) for i in range(5)])
    await wait_for(lambda: len(discord.messages("444")) >= 5)
    await asyncio.sleep(0.3)
    assert discord.statuses("999") == [404]
    async with httpx.AsyncClient(base_url=hub.url) as http:
        stats = (await http.get("/api/v1/ws/stats")).json()["alerts"]
        dead = (await http.get("/api/v1/alerts/dead")).json()["dead"]
    assert stats["discord:gone"]["disabled"].startswith("disabled")
    assert stats["discord:gone"]["held"] == 5
    assert stats["discord:gone"]["dead_total"] == 0
    assert "whatever" not in str(stats)
    assert dead == []


async def test_held_alerts_go_once_the_webhook_is_fixed_and_the_route_enabled(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """Alerts held by a disabled webhook are delivered once it exists and the route is
    enabled with `alphawire alerts enable`."""
    url = discord.url("555", "tok-e")  # not registered yet: 404
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    (result,) = await post_alerts(hub, [alert(1)])
    await wait_for(lambda: discord.statuses("555") == [404])
    discord.add_webhook("555", "tok-e")
    env = {**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": hub.token}
    cli = [sys.executable, "-m", "alphawire", "alerts"]
    enable = await asyncio.to_thread(
        subprocess.run,
        [*cli, "enable", "desk", "--url", hub.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enable.returncode == 0, enable.stderr
    await wait_for(lambda: len(discord.messages("555")) == 1)
    await wait_for(lambda: hub.node.alerts.stats()["discord:desk"]["sent"] == 1)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        state = (await http.get(f"/api/v1/alerts/{result['id']}")).json()
    desk = next(d for d in state["deliveries"] if d["destination"] == "discord:desk")
    assert desk["state"] == "sent"
    assert desk["message_id"] == discord.messages("555")[0]["id"]


async def test_dead_letter_replay(hub_factory: Any, discord: FakeDiscord, tmp_path: Path) -> None:
    """An alert Discord refused (400) is dead-lettered, listed by `alerts dead`, and
    delivered again by `alerts replay`."""
    url = discord.add_webhook("556", "tok-e")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    discord.fail_next(1, status=400)
    (result,) = await post_alerts(hub, [alert(1)])
    await wait_for(lambda: hub.node.alerts.stats()["discord:desk"]["dead_total"] == 1)
    env = {**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": hub.token}
    cli = [sys.executable, "-m", "alphawire", "alerts"]
    listed = await asyncio.to_thread(
        subprocess.run,
        [*cli, "dead", "--url", hub.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result["id"] in listed.stdout
    replay = await asyncio.to_thread(
        subprocess.run,
        [*cli, "replay", result["id"], "--url", hub.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    await wait_for(lambda: len(discord.messages("556")) == 1)


async def test_dedup_suppresses_repeats_within_the_cooldown(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """The same alert twice within a route's cooldown reaches Discord once; both reach the hub."""
    url = discord.add_webhook("666", "tok-f")
    path = tmp_path / "routes.toml"
    path.write_text(f'[[routes]]\nname = "desk"\nwebhook_url = "{url}"\ncooldown = 600\n')
    hub = hub_factory(alert_routes=path)
    results = await post_alerts(hub, [alert(1), alert(1), alert(2), alert(1, dedup_key="custom")])
    assert results[1]["suppressed"] == ["discord:desk"]
    assert [bool(r["suppressed"]) for r in results] == [False, True, False, False]
    await wait_for(lambda: len(discord.messages("666")) >= 3)
    await asyncio.sleep(0.2)
    assert contents(discord, "666") == ["alert #1", "alert #2", "alert #1"]
    async with httpx.AsyncClient(base_url=hub.url) as http:
        stats = (await http.get("/api/v1/ws/stats")).json()
    assert stats["alerts"]["discord:desk"]["suppressed"] == 1
    assert stats["published"]["alert"] == 4


async def test_alert_log_and_per_destination_state(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """GET /api/v1/alerts filters the log; GET /api/v1/alerts/{id} shows each destination's state."""
    url = discord.add_webhook("777", "tok-g")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    await post_alerts(
        hub,
        [
            alert(1, symbol="spy"),
            alert(2, symbol="QQQ"),
            alert(3, symbol="SPY", alert_type="gamma"),
        ],
    )
    await wait_for(lambda: len(discord.messages("777")) >= 3)
    # Discord has them; the hub records each answer just after it arrives.
    await wait_for(lambda: hub.node.alerts.stats()["discord:desk"]["sent"] == 3)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        spy = (await http.get("/api/v1/alerts", params={"symbol": "spy"})).json()["alerts"]
        gamma = (await http.get("/api/v1/alerts", params={"type": "gamma"})).json()["alerts"]
        one = (await http.get(f"/api/v1/alerts/{spy[0]['id']}")).json()
        missing = await http.get("/api/v1/alerts/NOPE")
        metrics = (await http.get("/metrics")).text
    assert [a["content"] for a in spy] == ["alert #3", "alert #1"]
    assert [a["content"] for a in gamma] == ["alert #3"]
    states = {d["destination"]: d["state"] for d in one["deliveries"]}
    assert states == {"hub": "sent", "discord:desk": "sent"}
    assert missing.status_code == 404
    assert 'alphawire_alerts_sent_total{destination="discord:desk"} 3.0' in metrics
    assert "tok-g" not in metrics


async def test_alerts_test_command_reaches_every_route(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """`alphawire alerts test` sends one test alert through every route, match rules aside."""
    a = discord.add_webhook("801", "tok-h")
    b = discord.add_webhook("802", "tok-i")
    hub = hub_factory(
        alert_routes=routes_file(
            tmp_path, ("a", a, 'match = { alert_type = ["never"] }'), ("b", b, "")
        )
    )
    env = {**os.environ, "ALPHAWIRE_PUBLISH_TOKEN": hub.token}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alphawire", "alerts", "test", "--url", hub.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "discord:a" in done.stdout
    assert "sent" in done.stdout
    assert len(discord.messages("801")) == 1
    assert len(discord.messages("802")) == 1


async def test_send_discord_returns_before_discord_answers(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """The synchronous API returns at once with the alert durable, while Discord is slow."""
    url = discord.add_webhook("901", "tok-j")
    # Discord answers nothing until released: every send must return without its answer.
    discord.hold()
    manager = AlertManager(
        tmp_path / "alerts.sqlite3", routes=RouteTable((Route("desk", url, cooldown=0),))
    )
    try:
        receipts = [
            manager.send_discord(f"m{i}", alert_type="squeeze", source="monitor", symbol="GME")
            for i in range(20)
        ]
        assert len(discord.messages("901")) == 0  # none delivered yet: nobody waited for Discord
        stored = manager.outbox.get(receipts[0].id)
        assert stored is not None
        assert stored["deliveries"][0]["state"] == "pending"
        discord.release()
        await wait_for(lambda: len(discord.messages("901")) == 20)
        assert contents(discord, "901") == [f"m{i}" for i in range(20)]
    finally:
        discord.release()  # a failed assertion above must not leave the delivery held
        await asyncio.to_thread(manager.close)


async def test_coalescing_route_sends_a_burst_as_few_messages_in_order(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """A route with ``coalesce`` merges a burst into messages within Discord's limits, in order."""
    url = discord.add_webhook("911", "tok-k")
    routes = RouteTable((Route("desk", url, cooldown=0, coalesce=0.5),))
    manager = AlertManager(tmp_path / "alerts.sqlite3", routes=routes)
    await manager.start()
    try:
        receipts = [
            await manager.asend_discord(
                f"alert #{i}", {"title": f"t{i}"}, alert_type="gex", source="monitor"
            )
            for i in range(25)
        ]
        titles = lambda: [e["title"] for m in discord.messages("911") for e in m["embeds"]]  # noqa: E731
        await wait_for(lambda: len(titles()) >= 25)
        await wait_for(lambda: manager.stats()["discord:desk"]["sent"] == 25)
        messages = discord.messages("911")
        assert titles() == [f"t{i}" for i in range(25)]
        assert "\n".join(m["content"] for m in messages) == "\n".join(
            f"alert #{i}" for i in range(25)
        )
        assert len(messages) < 25
        assert all(len(m["embeds"]) <= 10 for m in messages)
        assert set(discord.statuses("911")) == {200}
        # Each alert's delivery records the id of the message that carried it.
        carried_by = {e["title"]: m["id"] for m in messages for e in m["embeds"]}
        for i, receipt in enumerate(receipts):
            stored = manager.outbox.get(receipt.id)
            assert stored is not None
            (delivery,) = stored["deliveries"]
            assert delivery["state"] == "sent"
            assert delivery["message_id"] == carried_by[f"t{i}"]
    finally:
        await manager.stop()
        manager.outbox.close()


async def test_a_refused_merged_message_is_resent_one_alert_at_a_time(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """When Discord refuses a merged message, each alert is tried alone: none is dead-lettered."""
    url = discord.add_webhook("912", "tok-l")
    routes = RouteTable((Route("desk", url, cooldown=0, coalesce=0.3),))
    manager = AlertManager(tmp_path / "alerts.sqlite3", routes=routes)
    discord.fail_next(1, status=400)
    await manager.start()
    try:
        for i in range(5):
            await manager.asend_discord(f"alert #{i}", alert_type="gex", source="monitor")
        await wait_for(lambda: manager.stats()["discord:desk"]["sent"] == 5)
        assert contents(discord, "912") == [f"alert #{i}" for i in range(5)]
        assert discord.statuses("912") == [400, 200, 200, 200, 200, 200]
        assert manager.stats()["discord:desk"]["dead"] == 0
    finally:
        await manager.stop()
        manager.outbox.close()


async def test_bridge_keeps_alerts_while_the_hub_is_down(tmp_path: Path) -> None:
    """A monitor's bridge holds alerts on disk while the hub is down and delivers them after."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    bridge = AlertManager(
        tmp_path / "bridge.sqlite3",
        hub_url=f"http://127.0.0.1:{port}",
        token="bridge-token",
        policy=RetryPolicy(base=0.05, cap=0.3),
        max_pending=50,
    )
    hub = None
    try:
        for i in range(50):
            bridge.send_discord(f"b{i}", alert_type="macro", source="fed_watch")
        with pytest.raises(OutboxFull):  # the bound: the 51st undelivered alert is refused
            bridge.send_discord("b50", alert_type="macro", source="fed_watch")
        from alphawire.settings import Settings

        settings = Settings(data_dir=tmp_path / "hub", publish_token="bridge-token")
        hub = start_hub(settings, port)
        await wait_for(lambda: bridge.stats()["hub"]["pending"] == 0, timeout=60)
        async with httpx.AsyncClient(base_url=hub.url) as http:
            log = (await http.get("/api/v1/alerts", params={"limit": 1000})).json()["alerts"]
        contents_seen = [a["content"] for a in reversed(log)]
        assert contents_seen == [f"b{i}" for i in range(50)]
    finally:
        await asyncio.to_thread(bridge.close)
        if hub is not None:
            hub.stop()


def _serve(port: int, data_dir: Path, routes: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ALPHAWIRE_PUBLISH_TOKEN": "kill-token",
        "ALPHAWIRE_ALERT_ROUTES": str(routes),
        "ALPHAWIRE_ALERT_RETRY_BASE": "0.05",
        "ALPHAWIRE_ALERT_RETRY_CAP": "0.5",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphawire",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        env=env,
    )


async def test_sigkill_mid_delivery_then_restart_delivers_every_accepted_alert(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    """A hub killed with SIGKILL mid-delivery and restarted delivers every alert it accepted."""
    url = discord.add_webhook("1001", "tok-k")
    discord.delay = 0.02
    routes = routes_file(tmp_path, ("desk", url, ""))
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(port, tmp_path / "data", routes)
    try:
        await asyncio.to_thread(wait_healthy, proc, base, 300)
        headers = {"Authorization": "Bearer kill-token"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            response = await http.post(
                "/api/v1/publish", json={"messages": [alert(i) for i in range(300)]}
            )
            assert response.status_code == 202
        await wait_for(lambda: len(discord.messages("1001")) >= 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = len(discord.messages("1001"))
        assert killed_at < 300, "the kill came too late to test anything"
        proc = _serve(port, tmp_path / "data", routes)
        await asyncio.to_thread(wait_healthy, proc, base, 300)
        await wait_for(
            lambda: len({m["content"] for m in discord.messages("1001")}) == 300, timeout=120
        )
    finally:
        proc.terminate()
        proc.wait(15)
    seen = contents(discord, "1001")
    first_seen = list(dict.fromkeys(seen))
    assert first_seen == [f"alert #{i}" for i in range(300)]
    # At-least-once: at most the message in flight at the kill is repeated.
    assert len(seen) - len(first_seen) <= 1


async def test_full_outbox_refuses_whole_batches_with_503(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """Past the outbox bound, alerts get 503 outbox_full and a mixed batch publishes nothing."""
    url = discord.add_webhook("1101", "tok-l")
    discord.fail_for(60.0, status=503)  # Discord down: deliveries stay pending
    hub = hub_factory(
        alert_routes=routes_file(tmp_path, ("desk", url, "")),
        alert_max_pending=3,
        alert_retry_base=5,
    )
    await post_alerts(hub, [alert(i) for i in range(3)])
    tick = {"type": "market_data", "symbol": "SPY", "data": {"price": 1}}
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        full = await http.post("/api/v1/publish", json={"messages": [tick, alert(9)]})
        single = await http.post(
            "/api/v1/alerts", json={"alert_type": "x", "source": "y", "content": "z"}
        )
        ticks_only = await http.post("/api/v1/publish", json={"messages": [tick]})
        stats = (await http.get("/api/v1/ws/stats")).json()
    assert full.status_code == 503
    assert full.json()["error"]["code"] == "outbox_full"
    assert "limit 3" in full.json()["error"]["message"]
    assert single.status_code == 503
    assert ticks_only.status_code == 202  # only alerts are bounded by the outbox
    assert stats["published"]["market_data"] == 1
    assert stats["published"]["alert"] == 3


async def test_a_retried_alert_gets_the_first_publish_result(
    hub_factory: Any, discord: FakeDiscord, tmp_path: Path
) -> None:
    """An alert sent again with its idempotency key is answered with the first one's id, seq
    and destinations, over both POST /alerts and POST /publish, and published once."""
    url = discord.add_webhook("1201", "tok-m")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    body = {"alert_type": "dark_pool", "source": "t", "content": "once", "idempotency_key": "k-1"}
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
        first = (await http.post("/api/v1/alerts", json=body)).json()
        again = (await http.post("/api/v1/alerts", json=body)).json()
    (batch,) = await post_alerts(hub, [{"type": "alert", **body}])
    assert first["destinations"] == ["hub", "discord:desk"]
    assert first["seq"]
    for retry in (again, batch):
        assert retry["duplicate"] is True
        assert {k: retry[k] for k in ("id", "seq", "destinations", "channels", "suppressed")} == {
            k: first[k] for k in ("id", "seq", "destinations", "channels", "suppressed")
        }
    await wait_for(lambda: len(discord.messages("1201")) >= 1)
    assert contents(discord, "1201") == ["once"]
