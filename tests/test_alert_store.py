"""The alert outbox (durable state) and the route table (which webhooks an alert goes to)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphawire.alerting.outbox import DEAD, PENDING, SENT, NewAlert, NewDelivery, Outbox, OutboxFull
from alphawire.alerting.routes import RouteTable
from alphawire.errors import ValidationError


def _alert(i: int, *destinations: str, key: str | None = None) -> NewAlert:
    body = {
        "id": f"A{i:04d}",
        "type": "alert",
        "alert_type": "dp",
        "source": "s",
        "symbol": "SPY",
        "content": f"#{i}",
    }
    return NewAlert(f"A{i:04d}", body, [NewDelivery(d) for d in destinations], key)


def test_outbox_orders_due_deliveries_and_holds_the_head(tmp_path: Path) -> None:
    """Due deliveries come in acceptance order; a head waiting for a retry holds the rest back."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(i, "hub", "discord:a") for i in range(5)], now=100.0)
    due, later = box.due("discord:a", now=100.0)
    assert [d.alert_id for d in due] == [f"A{i:04d}" for i in range(5)]
    assert later is None
    box.mark_sent(due[0], "m0", 101.0)
    box.mark_retry(due[1], 150.0, "503", 101.0, spend=True)
    due, later = box.due("discord:a", now=120.0)
    assert due == []
    assert later == 150.0
    due, _ = box.due("discord:a", now=150.0)
    assert [d.alert_id for d in due] == ["A0001", "A0002", "A0003", "A0004"]
    assert due[0].attempts == 1
    box.close()


def test_outbox_survives_reopen(tmp_path: Path) -> None:
    """Everything committed is there after the store is closed and opened again."""
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    box.add([_alert(1, "hub")], now=1.0)
    box.close()
    again = Outbox(path)
    due, _ = again.due("hub", now=2.0)
    assert [d.body["content"] for d in due] == ["#1"]
    again.close()


def test_outbox_dead_letters_and_replay(tmp_path: Path) -> None:
    """A dead delivery is listed with its reason, and replay makes it pending again."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(1, "discord:a")], now=1.0)
    (delivery,), _ = box.due("discord:a", now=1.0)
    box.mark_dead(delivery, "400 Invalid Form Body (50035)", 2.0)
    dead = box.dead()
    assert dead[0]["id"] == "A0001"
    assert dead[0]["last_error"] == "400 Invalid Form Body (50035)"
    assert box.replay("A0001") == 1
    state = box.get("A0001")
    assert state is not None
    assert state["deliveries"][0]["state"] == PENDING
    assert box.counters(3.0)["discord:a"][PENDING] == 1
    box.close()


def test_outbox_bound_refuses_whole_batches(tmp_path: Path) -> None:
    """Past max_pending undelivered alerts, new ones are refused and nothing is half-accepted."""
    box = Outbox(tmp_path / "o.sqlite3", max_pending=3)
    box.add([_alert(i, "hub") for i in range(2)])
    with pytest.raises(OutboxFull, match="limit 3"):
        box.add([_alert(i, "hub") for i in range(2, 4)])
    assert len(box.log()) == 2
    (first, _), _ = box.due("hub", now=1e12)
    box.mark_sent(first, None, 1.0)
    box.add([_alert(5, "hub"), _alert(6, "hub")])
    assert len(box.log()) == 4
    box.close()


def test_outbox_idempotency_and_dedup(tmp_path: Path) -> None:
    """Idempotency keys find the first alert; dedup keys suppress repeats within the cooldown only."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(1, "hub", key="k")])
    assert box.find("k") == "A0001"
    assert box.find("other") is None

    def add(i: int, now: float, destination: str = "discord:r") -> list[str]:
        body = {"id": f"D{i}", "alert_type": "dp", "source": "s"}
        (suppressed,) = box.add(
            [NewAlert(f"D{i}", body, [NewDelivery(destination, "x", 60.0)])], now
        )
        return suppressed

    assert add(1, 100.0) == []
    assert add(2, 130.0) == ["discord:r"]
    assert add(3, 200.0) == []
    assert add(4, 200.0, "discord:other") == []
    state = box.get("D2")
    assert state is not None
    assert state["deliveries"][0]["state"] == "suppressed"
    box.close()


def test_outbox_kill_pending_and_disable(tmp_path: Path) -> None:
    """Disabling a destination dead-letters what it held, and is remembered until enabled."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(i, "discord:gone", "hub") for i in range(3)])
    box.disable("discord:gone", "404 Unknown Webhook", 1.0)
    assert box.kill_pending("discord:gone", "disabled", 1.0) == 3
    assert box.disabled() == {"discord:gone": "404 Unknown Webhook"}
    assert box.counters(2.0)["discord:gone"][DEAD] == 3
    assert box.counters(2.0)["hub"][PENDING] == 3
    box.enable("discord:gone")
    assert box.disabled() == {}
    assert SENT not in box.disabled()
    box.close()


ROUTES = """
[defaults]
cooldown = 30
username = "alphawire"

[[routes]]
name = "darkpool"
webhook_url = "https://discord.com/api/webhooks/100000000000000001/aaa"
match = { alert_type = ["dark_pool"], symbol = ["SPY", "Q*"] }
continue = true
mentions = "roles"

[[routes]]
name = "critical"
webhook_url_env = "CRIT_HOOK"
match = { severity = ["critical"] }

[[routes]]
name = "rest"
webhook_url = "https://discord.com/api/webhooks/100000000000000003/ccc"
thread_id = "123456789012345678"
"""


def test_route_table_first_match_and_continue(tmp_path: Path) -> None:
    """Routes match by globs; the first match wins unless it says continue."""
    path = tmp_path / "routes.toml"
    path.write_text(ROUTES)
    table = RouteTable.from_toml(
        path, {"CRIT_HOOK": "https://discord.com/api/webhooks/100000000000000002/bbb"}
    )
    pick = lambda **a: [r.name for r in table.select({"alert_type": "x", "symbol": None, **a})]  # noqa: E731
    assert pick(alert_type="dark_pool", symbol="QQQ") == ["darkpool", "rest"]
    assert pick(alert_type="dark_pool", symbol="QQQ", severity="critical") == [
        "darkpool",
        "critical",
    ]
    assert pick(alert_type="DARK_POOL", symbol="spy") == ["darkpool", "rest"]
    assert pick(alert_type="dark_pool", symbol="IWM") == ["rest"]
    assert pick(severity="critical") == ["critical"]
    assert pick() == ["rest"]
    darkpool = table.get("darkpool")
    assert darkpool is not None
    assert darkpool.allowed_mentions == {"parse": ["roles"]}
    assert darkpool.cooldown == 30
    assert darkpool.username == "alphawire"
    rest = table.get("rest")
    assert rest is not None
    assert rest.thread_id == "123456789012345678"
    assert rest.allowed_mentions == {"parse": []}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[routes]]\nname='a'\n", "set webhook_url or webhook_url_env"),
        ("[[routes]]\nname='a'\nwebhook_url='ftp://x'\n", "not a Discord webhook URL"),
        ("[[routes]]\nname='a'\nwebhook_url_env='NOPE_NOT_SET'\n", "NOPE_NOT_SET is not set"),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\nmatch={colour=['red']}\n",
            "unknown match key(s) colour (allowed: alert_type, symbol,",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\nmentions='loud'\n",
            "mentions must be one of",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\nwebhok='x'\n",
            "unknown key(s) webhok",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\ncooldown=-1\n",
            "cooldown",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\nthread_id='abc'\n",
            "snowflake",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\ncoalesce='2m'\n",
            "(a): coalesce",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\ncoalesce=301\n",
            "0 to 300",
        ),
        (
            "[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\n[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/222222222222222222/y'\n",
            "unique",
        ),
        ("routes = 3\n", "one or more [[routes]]"),
        ("[[routes\n", "cannot read alert routes"),
    ],
)
def test_route_table_errors_name_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    """A bad route file is refused with a message naming the route and key; URLs are never echoed."""
    path = tmp_path / "routes.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        RouteTable.from_toml(path, {})
    assert fragment in str(info.value)
    assert "ftp://x" not in str(info.value)


def test_default_route_from_environment() -> None:
    """Without a route file, ALPHAWIRE_DISCORD_WEBHOOK_URL makes one catch-all route."""
    table = RouteTable.from_env(
        {"ALPHAWIRE_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/100000000000000009/z"}
    )
    assert [r.name for r in table.select({"alert_type": "anything"})] == ["default"]
    assert RouteTable.from_env({}).routes == ()


@pytest.mark.parametrize(
    ("value", "seconds"), [('"2s"', 2.0), ('"500ms"', 0.5), ("1.5", 1.5), ("0", 0.0)]
)
def test_route_coalesce_takes_seconds_or_a_duration(
    tmp_path: Path, value: str, seconds: float
) -> None:
    """``coalesce`` is a number of seconds or a string such as "2s" or "500ms"; off by default."""
    path = tmp_path / "routes.toml"
    path.write_text(
        f"[[routes]]\nname='a'\nwebhook_url='https://discord.com/api/webhooks/111111111111111111/x'\ncoalesce={value}\n"
        "[[routes]]\nname='b'\nwebhook_url='https://discord.com/api/webhooks/222222222222222222/y'\n"
    )
    table = RouteTable.from_toml(path, {})
    a, b = table.routes
    assert a.coalesce == seconds
    assert b.coalesce == 0.0


def test_mark_sent_many_records_one_message_for_several_deliveries(tmp_path: Path) -> None:
    """Coalesced deliveries are all marked sent with the same message id, in one transaction."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(i, "discord:a") for i in range(4)], now=100.0)
    due, _ = box.due("discord:a", now=100.0)
    box.mark_sent_many(due[:3], "m1", 101.0)
    left, _ = box.due("discord:a", now=101.0)
    assert [d.alert_id for d in left] == ["A0003"]
    assert box.pending_alerts == 1
    for i in range(3):
        stored = box.get(f"A{i:04d}")
        assert stored is not None
        assert stored["deliveries"][0]["state"] == SENT
        assert stored["deliveries"][0]["message_id"] == "m1"


def test_reserved_wal_keeps_every_commit_and_stays_put_while_idle(tmp_path: Path) -> None:
    """The WAL's reserved tail loses no commit after a crash, and idle checkpoints keep its size."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(i, "discord:a") for i in range(50)], now=100.0)
    wal = tmp_path / "o.sqlite3-wal"
    box.checkpoint()
    size = wal.stat().st_size
    for _ in range(3):
        box.checkpoint()
    assert wal.stat().st_size == size
    box.add([_alert(i, "discord:a") for i in range(50, 60)], now=101.0)
    # A crash: the files as they are on disk while the outbox is open, WAL tail included.
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        (crashed / f"o.sqlite3{suffix}").write_bytes((tmp_path / f"o.sqlite3{suffix}").read_bytes())
    reopened = Outbox(crashed / "o.sqlite3")
    due, _ = reopened.due("discord:a", now=102.0, limit=100)
    assert [d.alert_id for d in due] == [f"A{i:04d}" for i in range(60)]
    reopened.close()
    box.close()


def test_a_write_waits_out_another_process_write_transaction(tmp_path: Path) -> None:
    """A commit finding another connection's write transaction open waits for it, then commits."""
    import sqlite3
    import threading

    box = Outbox(tmp_path / "o.sqlite3")
    other = sqlite3.connect(tmp_path / "o.sqlite3", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def add() -> None:
        box.add([_alert(1, "hub")], now=1.0)
        done.set()

    adder = threading.Thread(target=add)
    adder.start()
    assert not done.wait(0.05)  # held back while the other transaction is open
    other.execute("COMMIT")
    adder.join()
    assert box.busy_waits == 1
    assert [d.alert_id for d in box.due("hub", now=2.0)[0]] == ["A0001"]
    other.close()
    box.close()


def test_accepted_reports_destinations_suppressed_and_hub_seq(tmp_path: Path) -> None:
    """What accepting an alert did is read back from the outbox, the hub's seq once recorded."""
    box = Outbox(tmp_path / "o.sqlite3")
    box.add([_alert(1, "hub", "discord:b", "discord:a")], now=1.0)
    assert box.accepted("A0001") == (["hub", "discord:b", "discord:a"], [], {})
    (delivery,), _ = box.due("hub", now=1.0)
    box.mark_sent(delivery, "A0001", 2.0, seq={"unified": 7})
    assert box.accepted("A0001") == (["hub", "discord:b", "discord:a"], [], {"unified": 7})
    box.close()
