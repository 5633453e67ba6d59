"""Discord messages worth reading (issue #15): a real hub delivering to the fake Discord, which
validates every payload against Discord's OpenAPI spec and documented rules."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import RunningHub
from tests.fake_discord import FakeDiscord, payload_problems
from tests.test_alerts import post_alerts, routes_file, wait_for
from tests.test_cli import acli, run_cli

from alphawire.alerting.embeds import SEVERITY_COLORS
from alphawire.alerting.routes import RouteTable
from alphawire.errors import ValidationError
from alphawire.settings import Settings

pytestmark = pytest.mark.anyio

ALERT = {
    "type": "alert",
    "alert_type": "dark_pool",
    "source": "dp_checker",
    "symbol": "SPY",
    "severity": "high",
    "content": "2M SPY @ 598.10",
    "timestamp": "2026-01-05T14:30:00Z",
}


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord(rate_limit=5, rate_period=0.05) as fake:
        yield fake


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWIRE_")}
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return clean


def valid(fake: FakeDiscord) -> None:
    """Every request Discord got is a body Discord accepts."""
    assert fake.requests
    for request in fake.requests:
        assert payload_problems(request.body) == [], request.body


async def state_of(hub: RunningHub, alert_id: str, destination: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        found = (await http.get(f"/api/v1/alerts/{alert_id}")).json()
    row: dict[str, Any] = next(d for d in found["deliveries"] if d["destination"] == destination)
    return row


async def alert_stats(hub: RunningHub) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        stats: dict[str, Any] = (await http.get("/api/v1/ws/stats")).json()["alerts"]
    return stats


# -- the default embed ------------------------------------------------------------------------


async def test_alert_without_embed_gets_a_default_embed_from_its_fields(
    hub_factory: Callable[..., RunningHub], discord: FakeDiscord, tmp_path: Path
) -> None:
    """An alert without embed reaches Discord with its text and an embed carrying its type,
    symbol, severity (as colour and field), source and time."""
    url = discord.add_webhook("1001", "tok-1")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    await post_alerts(hub, [ALERT])
    await wait_for(lambda: len(discord.messages("1001")) == 1)
    (message,) = discord.messages("1001")
    assert message["content"] == "2M SPY @ 598.10"
    (embed,) = message["embeds"]
    assert embed["title"] == "dark_pool · SPY"
    assert embed["color"] == SEVERITY_COLORS["high"]
    assert [(f["name"], f["value"]) for f in embed["fields"]] == [
        ("Symbol", "SPY"),
        ("Severity", "high"),
        ("Source", "dp_checker"),
    ]
    assert embed["timestamp"].startswith("2026-01-05T14:30:00")
    assert embed["footer"]["text"] == "alphawire"
    valid(discord)


async def test_route_embed_template_or_off_and_a_producers_embed_kept(
    hub_factory: Callable[..., RunningHub], discord: FakeDiscord, tmp_path: Path
) -> None:
    """Per route: a template fills placeholders from the alert, "off" sends bare content,
    and an alert's own embed goes to every route as the producer wrote it."""
    templated = discord.add_webhook("1002", "tok-2")
    bare = discord.add_webhook("1003", "tok-3")
    template = (
        'continue = true\nembed = { title = "{alert_type} on {symbol}", '
        'description = "{content}", color = "#112233", fields = ["source"], footer = "" }'
    )
    hub = hub_factory(
        alert_routes=routes_file(
            tmp_path, ("tmpl", templated, template), ("bare", bare, 'embed = "off"')
        )
    )
    own = {**ALERT, "content": "own", "embed": {"title": "mine", "color": 7}}
    await post_alerts(hub, [ALERT, own])
    await wait_for(
        lambda: len(discord.messages("1002")) == 2 and len(discord.messages("1003")) == 2
    )
    first, second = discord.messages("1002")
    assert first["embeds"][0]["title"] == "dark_pool on SPY"
    assert first["embeds"][0]["fields"] == [
        {"name": "Source", "value": "dp_checker", "inline": True}
    ]
    assert first["embeds"][0]["description"] == "2M SPY @ 598.10"
    assert first["embeds"][0]["color"] == 0x112233
    assert "footer" not in first["embeds"][0]
    assert second["embeds"][0]["title"] == "mine"
    assert second["embeds"][0]["color"] == 7
    assert "fields" not in second["embeds"][0]
    plain, kept = discord.messages("1003")
    assert plain["content"] == "2M SPY @ 598.10" and not plain.get("embeds")
    assert kept["embeds"][0]["title"] == "mine"
    valid(discord)


def test_bad_embed_template_is_refused_naming_the_route(tmp_path: Path) -> None:
    """A template with an unknown placeholder or key is refused at start, naming the route."""
    url = "https://discord.com/api/webhooks/123456789012345678/tok"
    for extra, expected in (
        ('embed = { title = "{ticker}" }', "unknown placeholder {ticker}"),
        ('embed = { colour = "#fff000" }', "unknown embed key(s) colour; did you mean 'color'?"),
        ('embed = "loud"', 'embed must be "default", "off" or a table'),
    ):
        path = routes_file(tmp_path, ("desk", url, extra))
        with pytest.raises(ValidationError, match="desk") as refused:
            RouteTable.from_toml(path)
        assert expected in str(refused.value)


# -- continuation messages ----------------------------------------------------------------------


async def test_oversized_embed_goes_on_in_continuation_messages_nothing_dropped(
    hub_factory: Callable[..., RunningHub], discord: FakeDiscord, tmp_path: Path
) -> None:
    """A 30-field embed over 6,000 characters, with a 5,000-character description and a
    2,500-character field value, arrives complete over messages marked (i/n), in order."""
    url = discord.add_webhook("1004", "tok-4")
    hub = hub_factory(alert_routes=routes_file(tmp_path, ("desk", url, "")))
    description = " ".join(f"word{i}" for i in range(900))  # about 5,800 characters
    fields = [{"name": f"field {i}", "value": f"{i}:" + "v" * 300} for i in range(30)]
    fields[3]["value"] = "long " * 500  # 2,500 characters
    embed = {
        "title": "Flow",
        "description": description,
        "fields": fields,
        "footer": {"text": "end"},
        "color": 0xABCDEF,
    }
    await post_alerts(hub, [{**ALERT, "embed": embed}])
    await wait_for(lambda: len(discord.statuses("1004")) >= 3 and 200 in discord.statuses("1004"))
    await wait_for(
        lambda: (
            discord.messages("1004")
            and discord.messages("1004")[-1]["content"].endswith(
                "({0}/{0})".format(len(discord.messages("1004")))
            )
        )
    )
    messages = discord.messages("1004")
    count = len(messages)
    assert count >= 3
    assert [m["content"].rsplit("(", 1)[1] for m in messages] == [
        f"{i}/{count})" for i in range(1, count + 1)
    ]
    assert messages[0]["content"] == f"2M SPY @ 598.10\n(1/{count})"
    embeds = [e for m in messages for e in m["embeds"]]
    assert "".join(e.get("description", "") for e in embeds) == description
    got = [f for e in embeds for f in e.get("fields", [])]
    names = [f["name"] for f in got]
    assert [n for n in names if not n.endswith(" (cont.)")] == [f"field {i}" for i in range(30)]
    assert "".join(f["value"] for f in got if f["name"].startswith("field 3")) == "long " * 500
    assert [f["value"] for f in got if f["name"] == "field 29"] == ["29:" + "v" * 300]
    assert embeds[0]["title"] == "Flow"
    assert embeds[-1]["footer"]["text"] == "end"
    assert all(e["color"] == 0xABCDEF for e in embeds)
    valid(discord)


# -- a disabled route ---------------------------------------------------------------------------


async def test_disabled_route_state_is_true_everywhere_and_enable_delivers_what_it_held(
    hub_factory: Callable[..., RunningHub],
    discord: FakeDiscord,
    tmp_path: Path,
    env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After a 404, the route is disabled with the reason; the alert and later ones are held
    (receipts, per-alert state, stats, log, `alerts test` all say so), and `alphawire alerts
    enable` delivers everything it held, in order, once the webhook exists."""
    good = discord.add_webhook("1005", "tok-5")
    gone = discord.url("1006", "tok-6")  # not registered: Discord answers 404 Unknown Webhook
    hub = hub_factory(
        alert_routes=routes_file(tmp_path, ("gone", gone, "continue = true"), ("good", good, ""))
    )
    with caplog.at_level(logging.ERROR, logger="alphawire.alerts"):
        (first,) = await post_alerts(hub, [{**ALERT, "content": "one"}])
        await wait_for(lambda: discord.statuses("1006") == [404])
        await wait_for(lambda: hub.node.alerts.outbox.disabled() != {})
    assert first["destinations"] == ["hub", "discord:gone", "discord:good"]
    logged = [r.getMessage() for r in caplog.records if "discord:gone" in r.getMessage()]
    assert any("1 alert held" in m and "alphawire alerts enable gone" in m for m in logged)
    assert "tok-6" not in "".join(logged)

    (second,) = await post_alerts(hub, [{**ALERT, "content": "two"}])
    assert second["destinations"] == ["hub", "discord:good"]
    assert second["held"] == ["discord:gone"]
    for result in (first, second):
        row = await state_of(hub, result["id"], "discord:gone")
        assert row["state"] == "held"
        assert row["last_error"].startswith("held: destination disabled: ")
        assert "404" in row["last_error"] and "tok-6" not in row["last_error"]
    stats = (await alert_stats(hub))["discord:gone"]
    assert stats["held"] == 2 and stats["pending"] == 0 and stats["dead_total"] == 0
    assert stats["disabled"].startswith("disabled: ")
    async with httpx.AsyncClient(base_url=hub.url) as http:
        metrics = (await http.get("/metrics")).text
    assert 'alphawire_alerts_held{destination="discord:gone"} 2.0' in metrics
    assert 'alphawire_alerts_destination_disabled{destination="discord:gone"} 1.0' in metrics

    tested = await acli("alerts", "test", "--url", hub.url, "--token", hub.token, env=env)
    assert tested.returncode == 1
    line = next(s for s in tested.stdout.splitlines() if s.startswith("discord:gone"))
    assert line.split()[1] == "held"
    assert "alphawire alerts enable gone" in tested.stdout
    assert discord.statuses("1006") == [404]  # nothing more was sent to the gone webhook

    discord.add_webhook("1006", "tok-6")
    enabled = await acli(
        "alerts", "enable", "gone", "--url", hub.url, "--token", hub.token, env=env
    )
    assert enabled.returncode == 0, enabled.stderr
    assert "3 held alerts queued" in enabled.stdout
    assert "was disabled: " in enabled.stdout
    await wait_for(lambda: len(discord.messages("1006")) == 3)
    contents = [m["content"] for m in discord.messages("1006")]
    assert contents[:2] == ["one", "two"]
    assert "test alert" in contents[2]
    await wait_for(lambda: hub.node.alerts.stats()["discord:gone"]["sent"] == 3)
    stats = (await alert_stats(hub))["discord:gone"]
    assert stats["held"] == 0 and stats["disabled"] is None
    assert (await state_of(hub, second["id"], "discord:gone"))["state"] == "sent"
    valid(discord)


async def test_enable_of_an_unknown_route_names_the_routes(
    hub_factory: Callable[..., RunningHub],
    discord: FakeDiscord,
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    """`alerts enable` with a route that does not exist fails, listing the routes there are."""
    hub = hub_factory(
        alert_routes=routes_file(tmp_path, ("desk", discord.add_webhook("1007", "t"), ""))
    )
    done = await acli("alerts", "enable", "dsk", "--url", hub.url, "--token", hub.token, env=env)
    assert done.returncode == 1
    assert "no alert route 'dsk'; routes: desk" in done.stderr


# -- no route, and webhook URLs of the wrong form ----------------------------------------------


async def test_no_route_configured_is_said_at_start_and_by_alerts_test(
    hub_factory: Callable[..., RunningHub], env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Without a webhook, the start-up log and `alerts test` say alerts go to the hub only,
    and how to add a route."""
    with caplog.at_level(logging.WARNING, logger="alphawire.alerts"):
        hub = hub_factory()
    said = [r.getMessage() for r in caplog.records if r.name == "alphawire.alerts"]
    assert any(m.startswith("no Discord route configured: alerts go to the hub only") for m in said)
    assert any("ALPHAWIRE_DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/" in m for m in said)
    done = await acli("alerts", "test", "--url", hub.url, "--token", hub.token, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].split()[:2] == ["hub", "sent"]
    assert "no Discord route configured: alerts go to the hub only" in done.stdout
    assert "ALPHAWIRE_DISCORD_WEBHOOK_URL" in done.stdout


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/123456789012345678/AbC-_9",
        "https://discordapp.com/api/webhooks/123456789012345678/AbC",
        "https://ptb.discord.com/api/webhooks/123456789012345678/AbC",
        "https://canary.discord.com/api/v10/webhooks/123456789012345678/AbC?thread_id=1",
        "http://127.0.0.1:9/api/webhooks/1/tok",
    ],
)
def test_webhook_urls_of_discords_form_are_accepted(url: str) -> None:
    """Discord's webhook URL forms (and a loopback stand-in) are accepted."""
    (route,) = RouteTable.from_env({"ALPHAWIRE_DISCORD_WEBHOOK_URL": url}).routes
    assert route.name == "default"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://discord.com/api/webhook/123456789012345678/s3cr3t", "its path is not"),
        ("https://discord.example.com/api/webhooks/123456789012345678/s3cr3t", "not Discord's"),
        ("http://discord.com/api/webhooks/123456789012345678/s3cr3t", "https on the default"),
        ("https://discord.com/api/webhooks/me/s3cr3t", "(id: digits)"),
        ("discord.com/api/webhooks/123456789012345678/s3cr3t", "not an http(s) URL"),
    ],
)
def test_webhook_url_of_the_wrong_form_is_refused_without_the_token(url: str, why: str) -> None:
    """A URL that is not a Discord webhook URL is refused naming the route, what is wrong and
    the expected form, never showing the token."""
    with pytest.raises(ValidationError) as refused:
        RouteTable.from_env({"ALPHAWIRE_DISCORD_WEBHOOK_URL": url})
    message = str(refused.value)
    assert message.startswith("ALPHAWIRE_DISCORD_WEBHOOK_URL (route default): ")
    assert why in message
    assert "https://discord.com/api/webhooks/{id}/{token}" in message
    assert "s3cr3t" not in message


def test_serve_with_a_bad_webhook_url_exits_with_the_expected_form(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`alphawire serve` with a malformed webhook URL exits 2 with the form, not the token."""
    bad = "https://discord.com/api/webhook/123456789012345678/s3cr3t"
    done = run_cli(
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "d"),
        env={**env, "ALPHAWIRE_DISCORD_WEBHOOK_URL": bad},
    )
    assert done.returncode == 2
    assert "https://discord.com/api/webhooks/{id}/{token}" in done.stderr
    assert "s3cr3t" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_kept_spec_part_matches_discords_full_spec() -> None:
    """The execute-webhook part kept in tests/data/discord (what a clone validates against)
    is the full spec's request body and schemas, unchanged."""
    import json

    from tests.fake_discord import _FULL_SPEC, _KEPT_SPEC

    kept = json.loads(_KEPT_SPEC.read_text())
    if not _FULL_SPEC.is_file():
        pytest.skip(f"the full spec is not at {_FULL_SPEC} (only beside the project's checkout)")
    full = json.loads(_FULL_SPEC.read_text())
    path = "/webhooks/{webhook_id}/{webhook_token}"
    assert kept["paths"][path]["post"]["requestBody"] == full["paths"][path]["post"]["requestBody"]
    for name, schema in kept["components"]["schemas"].items():
        assert schema == full["components"]["schemas"][name], name
    assert "RichEmbed" in kept["components"]["schemas"]


def test_route_embed_template_survives_the_trip_to_the_delivery_process() -> None:
    """A route's embed template (or "off") is rebuilt as it was in the delivery process, which
    gets its routes as JSON on stdin, and in each worker of `serve --workers N`."""
    import dataclasses
    import json

    from alphawire.alerting.embeds import EmbedTemplate
    from alphawire.alerting.routes import Route, route_from_dict

    url = "https://discord.com/api/webhooks/123456789012345678/x"
    for route in (
        Route("a", url, match={"symbol": ("spy",)}, embed=EmbedTemplate("{symbol}", fields=())),
        Route("b", url, embed=None),
        Route("c", url),
    ):
        assert route_from_dict(json.loads(json.dumps(dataclasses.asdict(route)))) == route
    # serve --workers N hands its settings, routes included, to each worker as JSON too.
    table = RouteTable(
        (Route("a", url, embed=EmbedTemplate("{symbol}")), Route("b", url, embed=None))
    )
    settings = Settings(data_dir=Path("/nonexistent"), alert_route_table=table)
    assert Settings.from_json(settings.to_json()).alert_route_table == table


def test_alerts_enable_works_on_the_outbox_while_the_hub_is_down(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """With the hub down, `alerts enable` enables the route in the outbox itself, and what
    it held becomes pending: the next start delivers it."""
    from alphawire.alerting.outbox import NewAlert, NewDelivery, Outbox

    box = Outbox(tmp_path / "alerts.sqlite3")
    box.disable("discord:desk", "disabled: 404 Unknown Webhook", 1.0)
    body = {"id": "A1", "type": "alert", "alert_type": "t", "source": "s", "content": "c"}
    ((_, held),) = box.add_alerts([NewAlert("A1", body, [NewDelivery("discord:desk")])], 2.0)
    assert held == ["discord:desk"]
    box.close()
    dead_hub = "http://127.0.0.1:9"
    done = run_cli(
        "alerts", "enable", "desk", "--url", dead_hub, "--token", "t",
        "--data-dir", str(tmp_path), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "route desk enabled (was disabled: 404 Unknown Webhook)" in done.stdout
    assert "1 held alerts queued" in done.stdout
    box = Outbox(tmp_path / "alerts.sqlite3")
    try:
        assert box.disabled() == {}
        (row,) = box.get("A1")["deliveries"]  # type: ignore[index]
        assert (row["state"], row["last_error"]) == ("pending", None)
    finally:
        box.close()
