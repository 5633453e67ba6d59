"""Plugins: agents and sources found through entry points, built from alphawire.toml, and an
alert raised in-process by a plugin agent reaching sockets and Discord exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import connect, recv_json, start_hub
from tests.fake_discord import FakeDiscord

from alphawire import plugins
from alphawire.config import ConfigError, load_config
from alphawire.node import Node

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"


def install_metadata(root: Path, name: str, entry_points: str) -> None:
    """What `pip install` leaves for importlib.metadata: a dist-info with entry_points.txt."""
    dist = root / f"{name.replace('-', '_')}-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def example_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example package (examples/plugin) installed the way pip would make it visible."""
    site = tmp_path / "site"
    install_metadata(
        site,
        "alphawire-example-plugin",
        "[alphawire.agents]\nprice_cross = alphawire_example_plugin.agent:PriceCrossAgent\n",
    )
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    monkeypatch.syspath_prepend(str(site))
    return site


def test_an_entry_point_plugin_is_discovered_beside_the_builtins(example_plugin: Path) -> None:
    """A package's `alphawire.agents` entry point is listed by name with its distribution."""
    found = plugins.discover("agents")
    assert found["price_cross"].origin == "alphawire-example-plugin"
    agent = found["price_cross"].build({"symbol": "nvda", "level": 100})
    assert agent.name == "price_cross"
    assert plugins.option_models()["agents"]["price_cross"].__name__ == "PriceCrossOptions"


def test_a_plugin_that_cannot_be_imported_is_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken plugin is reported by name, target and cause, and breaks nothing else."""
    install_metadata(tmp_path, "broken-plugin", "[alphawire.agents]\nbroken = no_such_module:X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(plugins.PluginError) as info:
        plugins.spec("agents", "broken").load()
    message = str(info.value)
    assert "'broken'" in message and "no_such_module:X" in message and "broken-plugin" in message
    assert "ModuleNotFoundError" in message
    assert "broken" not in plugins.option_models()["agents"]


def test_unknown_plugin_names_list_what_exists(example_plugin: Path) -> None:
    """Asking for a plugin that does not exist names the ones that do."""
    with pytest.raises(plugins.PluginError, match=r"available agents are .*price_cross"):
        plugins.spec("agents", "price_crossing")


def test_bad_plugin_options_name_the_table_and_key(example_plugin: Path, tmp_path: Path) -> None:
    """alphawire.toml options are checked by the plugin's own model before anything starts."""
    path = tmp_path / "alphawire.toml"
    path.write_text('[agents.price_cross]\nsymbol = "SPY"\nlevel = -5\nlevl = 3\n')
    config = load_config(path, environ={})
    config.settings.data_dir = tmp_path / "data"
    config.settings.publish_token = "t"
    with pytest.raises(ConfigError) as info:
        Node.from_config(config)
    message = str(info.value)
    assert "[agents.price_cross] levl" in message and "did you mean 'level'" in message
    assert "[agents.price_cross] level" in message


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


async def test_a_plugin_agents_alert_reaches_websocket_and_discord_exactly_once(
    example_plugin: Path, discord: FakeDiscord, tmp_path: Path
) -> None:
    """The example agent, enabled in alphawire.toml, reads ticks in-process and raises its
    alert through the one publish path: each crossing reaches a WebSocket subscriber of
    `unified` once and the Discord webhook once."""
    hook = discord.add_webhook("321", "secret-token")
    path = tmp_path / "alphawire.toml"
    path.write_text(
        "[agents.price_cross]\n"
        'symbol = "SPY"\n'
        "level = 100.0\n"
        "[[alerts.routes]]\n"
        'name = "desk"\n'
        'webhook_url_env = "TEST_DESK_HOOK"\n'
        "cooldown = 0\n"
    )
    config = load_config(path, environ={"TEST_DESK_HOOK": hook})
    config.settings.data_dir = tmp_path / "data"
    config.settings.publish_token = "test-token"
    node = Node.from_config(config)
    assert "price_cross" in node.agents  # besides the built-in agents the defaults enable
    hub = start_hub(config.settings, node=node)
    try:
        ws = await connect(f"{hub.ws}/ws/unified")
        assert (await recv_json(ws))["type"] == "subscribed"
        ticks: list[dict[str, Any]] = [
            {"type": "market_data", "symbol": "SPY", "data": {"price": p}}
            for p in (99.0, 99.5, 101.0, 102.0, 98.0)
        ]
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
            for tick in ticks:  # one request each: the agent sees every tick in order
                response = await http.post("/api/v1/publish", json={"messages": [tick]})
                assert response.status_code == 202, response.text
        first = await recv_json(ws)
        second = await recv_json(ws)
        await asyncio.sleep(0)
        for _ in range(200):  # Discord delivery is asynchronous: wait until both arrived
            if len(discord.messages("321")) >= 2:
                break
            await asyncio.sleep(0.05)
        # A marker published last: nothing else came to `unified` before it.
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers()) as http:
            marker = {"type": "alert", "alert_type": "marker", "source": "t", "content": "end"}
            assert (await http.post("/api/v1/alerts", json=marker)).status_code == 202
        assert (await recv_json(ws))["alert_type"] == "marker"
        await ws.close()
        for _ in range(200):
            if len(discord.messages("321")) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        hub.stop()
    assert [(m["alert_type"], m["symbol"], m["content"]) for m in (first, second)] == [
        ("price_cross", "SPY", "SPY crossed above 100 at 101"),
        ("price_cross", "SPY", "SPY crossed below 100 at 98"),
    ]
    sent = [m["content"] for m in discord.messages("321")]
    assert sent.count("SPY crossed above 100 at 101") == 1
    assert sent.count("SPY crossed below 100 at 98") == 1
    assert len(sent) == 3 and sent[-1] == "end"
