"""The README's commands, run in order as written, on a fresh data directory (#15).

The commands are read from the README itself, so the README cannot drift from what works:
``make demo`` in the background, then each command of the "Start" section (``tail`` ones in
the background, the others to completion, exit 0), then the other commands that run against a
local hub as written (the curl example, the CLI's publish examples, the alert operations
without placeholders). Only the port differs (a free one, through ``ALPHAWIRE_PORT`` and
``ALPHAWIRE_URL``), and ``make test`` is left out (it would run this test). Commands for
other set-ups (Redis, several workers, recording a session) are exercised by their own tests.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson
from tests.test_first_hour_cli import Streams

from alphawire import messages

REPO = Path(__file__).resolve().parents[1]


def start_commands() -> list[str]:
    """The shell commands of the README's "## Start" section, in order, comments dropped."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Start\n", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def other_commands() -> list[str]:
    """The README's other commands that run against a local hub as written: the curl
    example, the CLI's publish examples and the alert operations without placeholders."""
    text = (REPO / "README.md").read_text()
    start = text.split("\n## Start\n", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text.replace(start, ""), re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split("  #", 1)[0].strip()
            runnable = command.startswith(("curl ", "alphawire publish ", "alphawire alerts "))
            if runnable and "<" not in command:
                commands.append(command)
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_readme_start_commands_run_in_order_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """`make demo`, then the README's commands as written: ticks stream, the published alert
    reaches the unified tail, channels and alerts test answer, and Ctrl-C stops the demo."""
    commands = start_commands()
    assert commands[0] == "make demo", commands
    assert any(" tail market_SPY" in c for c in commands)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWIRE_")}
    home = tmp_path / "home"  # the curl example reads ~/.local/share/alphawire/publish-token
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        ALPHAWIRE_PORT=str(port),
        ALPHAWIRE_URL=url,
    )
    demo = Streams(["make", "-s", "demo"], env, cwd=REPO, start_new_session=True)
    tails: dict[str, Streams] = {}
    try:
        demo.err_until(lambda s: "Uvicorn running" in s, timeout=180)
        assert httpx.get(url + "/api/v1/health", timeout=10).status_code == 200
        for command in commands[1:]:
            if command == "make test":
                continue
            argv = shlex.split(command.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
            if argv[1] == "tail":
                tails[argv[2]] = proc = Streams(argv, env, cwd=REPO, start_new_session=True)
                proc.err_until(lambda s: s.startswith("connecting to "))
                first = proc.line()
                assert "subscribed" in first, (command, first)
                continue
            done = subprocess.run(
                argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            if argv[1] == "channels":
                assert "market_SPY" in done.stdout and "unified" in done.stdout
            if argv[1:3] == ["alerts", "test"]:
                assert done.stdout.splitlines()[0].split()[:2] == ["hub", "sent"]
        others = other_commands()
        assert any(c.startswith("curl ") for c in others), others
        assert sum(c.startswith("alphawire publish ") for c in others) >= 3, others
        for command in others:
            if command.startswith("curl ") and shutil.which("curl") is None:
                continue  # a machine without curl: the same request is made by the CLI above
            line = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            if line.startswith("alphawire "):
                line = ".venv/bin/" + line
            done = subprocess.run(
                ["bash", "-c", line],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            if command.startswith("curl "):
                assert '"destinations":["hub"]' in done.stdout, done.stdout
        market = tails["market_SPY"]
        tick = market.line()
        assert "market_SPY#" in tick and " SPY " in tick, tick
        unified = tails["unified"]
        # The demo's agents publish on unified too, and one of theirs (a gamma flip) can come
        # before the README's alert: that one is the first from source "me".
        for _ in range(1000):  # a hang guard, with line()'s timeout
            alert = orjson.loads(unified.line())
            if alert.get("source") == "me":
                break
        assert alert["source"] == "me", alert
        assert (alert["type"], alert["alert_type"], alert["symbol"]) == (
            "alert",
            "dark_pool",
            "SPY",
        )
    finally:
        for proc in tails.values():
            proc.stop(signal.SIGINT)
        status = demo.stop(signal.SIGINT)
    err = "\n".join(demo.err_seen)
    assert "Application shutdown complete" in err and "***" not in err, err[-2000:]
    assert status in (0, -signal.SIGINT)  # make itself ends by the signal it was sent
    fresh = home / ".local" / "share"
    assert (fresh / "alphawire-demo" / "alerts.sqlite3").exists()
    assert (fresh / "alphawire" / "publish-token").exists()


def test_readme_message_examples_are_what_the_hub_delivers() -> None:
    """Each example under "Each kind as delivered" is exactly what the hub delivers for its
    fields, on the channel shown: one example of each of the five kinds."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n### Each kind as delivered\n", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None
    kinds = []
    for line in block.group(1).splitlines():
        frame = orjson.loads(line)
        sent = {k: v for k, v in frame.items() if k not in ("channel", "seq", "id")}
        model = messages.validate(sent)
        envelope = messages.seal(model, message_id=frame["id"])
        assert orjson.loads(envelope.body) == {
            k: v for k, v in frame.items() if k not in ("channel", "seq")
        }
        assert frame["channel"] in envelope.channels
        kinds.append(frame["type"])
    assert kinds == list(messages.MESSAGE_TYPES)


def test_readme_documents_every_stats_field(hub_factory: Any, tmp_path: Path) -> None:
    """Every field of GET /api/v1/ws/stats (per alert destination and of the Discord client
    and the collector too) is named in the README's "Other endpoints" section."""
    routes = tmp_path / "routes.toml"
    routes.write_text(
        '[[routes]]\nname = "desk"\nwebhook_url = "http://127.0.0.1:9/api/webhooks/1/t"\n'
    )
    hub = hub_factory(alert_routes=routes)
    stats = httpx.get(hub.url + "/api/v1/ws/stats", timeout=10).json()
    names = set(stats)
    for destination, row in stats["alerts"].items():
        names |= set(row) if destination != "discord_client" else set(row) | {destination}
    names |= set(stats["gc"])
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Other endpoints\n", 1)[1].split("\n## ", 1)[0]
    missing = sorted(n for n in names if f"`{n}`" not in section)
    assert missing == [], f"stats fields not documented in README: {missing}"
