"""The commands that call a running hub fail alike (cli_hub), and print tables alike."""

from __future__ import annotations

import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from alphawire.cli import main
from alphawire.cli_hub import HubUnreachable, ask_hub, echo_table, hub_error
from conftest import RunningHub


def free_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_hub_is_named_with_its_url() -> None:
    """Nothing listening: HubUnreachable, `cannot reach the hub at URL: why`."""
    url = free_url()
    with pytest.raises(HubUnreachable, match=f"^cannot reach the hub at {url}: "):
        ask_hub("GET", url, "/api/v1/channels")


def test_a_refusal_says_the_status_and_the_envelope_s_message(hub: RunningHub) -> None:
    """Another status than expected: `hub answered STATUS: MESSAGE`, the message being the
    one of the hub's error envelope (not the envelope's JSON)."""
    with pytest.raises(click.ClickException) as caught:
        ask_hub("POST", hub.url, "/api/v1/alerts/test", token="wrong", expect=202)
    assert not isinstance(caught.value, HubUnreachable)
    assert caught.value.message == "hub answered 401: wrong publish token"


def test_hub_error_without_an_envelope_shows_the_start_of_the_answer() -> None:
    """A body that is not the hub's error envelope is shown, cut to 300 characters."""
    assert hub_error(502, "Bad Gateway") == "hub answered 502: Bad Gateway"
    assert hub_error(500, "x" * 400) == "hub answered 500: " + "x" * 300
    assert hub_error(400, {"detail": "no"}) == 'hub answered 400: {"detail":"no"}'


@pytest.mark.parametrize(
    "args",
    [
        ["alerts", "replay", "A1"],
        ["alerts", "enable", "desk"],
        ["alerts", "test"],
        ["agents", "market", "--run"],
    ],
)
def test_every_command_words_a_refusal_the_same_way(hub: RunningHub, args: list[str]) -> None:
    """A wrong publish token is refused in one shape by each command that sends one."""
    done = CliRunner().invoke(main, [*args, "--url", hub.url, "--token", "wrong"])
    assert done.exit_code == 1
    assert done.output == "Error: hub answered 401: wrong publish token\n"


def test_alerts_dead_reads_the_outbox_when_the_hub_is_unreachable(tmp_path: Path) -> None:
    """`alerts dead` falls back to the outbox file only when nothing answers at the URL."""
    from alphawire.alerting.outbox import NewAlert, NewDelivery, Outbox

    box = Outbox(tmp_path / "alerts.sqlite3")
    body = {"id": "A1", "type": "alert", "alert_type": "t", "source": "s", "content": "c"}
    box.add([NewAlert("A1", body, [NewDelivery("discord:desk")])], now=1.0)
    ((delivery,), _) = box.due("discord:desk", now=2.0)
    box.mark_dead(delivery, "404 Unknown Webhook", 3.0)
    box.close()
    args = ["alerts", "dead", "--url", free_url(), "--data-dir", str(tmp_path)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert done.output.split() == [
        "A1",
        "discord:desk",
        "t",
        "-",
        "attempts=1",
        "404",
        "Unknown",
        "Webhook",
    ]


def test_echo_table_pads_columns_by_their_spec(capsys: pytest.CaptureFixture[str]) -> None:
    """`*` fits the widest cell or title; other specs format title and cells alike; the
    last column is not padded when its spec does not ask for it."""
    columns = [("name", "*"), ("n", ">3"), ("note", "")]
    echo_table(columns, [("alpha", 1, "x"), ("b", 22, "yz")])
    assert capsys.readouterr().out.splitlines() == [
        "name     n  note",
        "alpha    1  x",
        "b       22  yz",
    ]
    echo_table(columns, [])
    assert capsys.readouterr().out == "name    n  note\n"


def test_publish_refused_by_something_else_than_the_hub_says_its_answer_once() -> None:
    """A proxy in front of the hub answering 502 with a page of its own: `publish` names the
    status and shows that answer once (the hub's own refusals add their details on a second
    line, see test_first_hour_errors)."""
    from tests.fake_vendors import FakeVendors, Reply

    fake = FakeVendors().start()
    try:
        fake.script("/api/v1/publish", Reply(502, b"Bad Gateway"))
        args = ["publish", "alert", "alert_type=t", "source=s", "content=c"]
        done = CliRunner().invoke(main, [*args, "--url", fake.url, "--token", "t"])
    finally:
        fake.stop()
    assert done.exit_code == 1
    assert done.output == 'Error: hub answered 502: {"raw":"Bad Gateway"}\n'
