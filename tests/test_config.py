"""alphawire.toml: every table, precedence, the error messages, secrets, and the CLI commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import types
from pathlib import Path
from typing import Literal

import httpx
import pydantic
import pytest
from tests.test_cli import background, free_port

from alphawire.brokers.base import Limit, Retention
from alphawire.config import (
    ConfigError,
    example_text,
    load_config,
    plugin_option_models,
    render_config,
    validate_plugin_options,
)
from alphawire.config.options import NoOptions
from alphawire.config.schema import DEFAULT_AGENTS, DEFAULT_WATCHLIST, KEYS
from alphawire.settings import Settings

REPO = Path(__file__).resolve().parent.parent
HOOK = "https://discord.com/api/webhooks/123456789012345678/secret-hook-token"
OTHER_HOOK = "https://discord.com/api/webhooks/654321098765432109/other-hook-token"

FULL = """
watchlist = ["nvda", "spy", "NVDA"]

[hub]
host = "0.0.0.0"
port = 9100
data_dir = "state"
log_level = "DEBUG"
broker_url = "redis://127.0.0.1:6379/3"
subscribe_auth = "token"
allowed_origins = ["https://desk.example/", "https://b.example"]
allowed_hosts = ["hub.example"]
ping_interval = 0
ping_timeout = 7.5
auth_timeout = 2
idempotency_window = 30
idempotency_max_keys = 50
max_connections = 10
max_connections_per_ip = 3
max_channels_per_connection = 4
queue_max_messages = 64
queue_max_bytes = 65536
max_frame_bytes = 1024
max_request_bytes = 2048
max_batch = 5
client_frames_per_second = 2.5
client_frame_burst = 6

[hub.history]
market = { messages = 50, seconds = 60 }
unified = "700/3600"

[alerts]
max_pending = 9
sync = "full"
retry_base = 0.5
retry_cap = 30
max_age = 3600

[alerts.defaults]
cooldown = 5
username = "desk-bot"

[[alerts.routes]]
name = "darkpool"
webhook_url_env = "DP_HOOK"
match = { alert_type = ["dark_pool"], symbol = ["SPY"] }
continue = true
mentions = "roles"
coalesce = "2s"

[[alerts.routes]]
name = "rest"
webhook_url_env = "REST_HOOK"

[sources.sim]
seed = 11
interval = 0.5

[sources.cboe]
enabled = false
symbols_per_minute = 30

[agents.darkpool]
min_block_usd = 1_000_000
cadence = "30s"

[agents.reddit]
enabled = false
"""
# The limits the hub read from ALPHAWIRE_<NAME> before alphawire.toml existed.
ENV_LIMITS = (
    "queue_max_messages",
    "queue_max_bytes",
    "max_frame_bytes",
    "max_request_bytes",
    "max_batch",
    "max_channels_per_connection",
    "client_frames_per_second",
    "client_frame_burst",
    "idempotency_window",
    "idempotency_max_keys",
    "auth_timeout",
    "alert_max_pending",
    "alert_retry_base",
    "alert_retry_cap",
    "alert_max_age",
    "alert_sync",
)
FULL_ENV = {"DP_HOOK": HOOK, "REST_HOOK": OTHER_HOOK}


def write(tmp_path: Path, text: str, name: str = "alphawire.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(text: str, tmp_path: Path, environ: dict[str, str] | None = None) -> str:
    """The ConfigError message for a file holding ``text``."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ=environ or {})
    return str(info.value)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """A subprocess environment without ALPHAWIRE_* variables and an empty data home."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAWIRE_")}
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return clean


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m alphawire ARGS`` run to completion in ``cwd`` (timeout: a hang guard)."""
    return subprocess.run(
        [sys.executable, "-m", "alphawire", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


# -- defaults and finding the file ---------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no file anywhere, the defaults hold: nine symbols, no source (serve is a quiet
    hub; demo adds the simulated market), every built-in agent's table."""
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert config.path is None
    assert config.watchlist == DEFAULT_WATCHLIST == (
        "SPY", "QQQ", "IWM", "AAPL", "NVDA", "TSLA", "AMD", "GME", "AMC",
    )  # fmt: skip
    assert config.sources == {}
    assert list(config.agents) == list(DEFAULT_AGENTS) and len(DEFAULT_AGENTS) == 9
    assert all(a.enabled and a.options == {} for a in config.agents.values())
    assert config.routes.routes == ()
    expected = Settings(data_dir=tmp_path / "xdg" / "alphawire")
    expected.demo_symbols = DEFAULT_WATCHLIST
    expected.alert_route_table = config.routes
    assert config.settings == expected


def test_file_is_found_by_flag_then_variable_then_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config beats $ALPHAWIRE_CONFIG, which beats ./alphawire.toml."""
    monkeypatch.chdir(tmp_path)
    here = write(tmp_path, "[hub]\nport = 9001\n")
    named = write(tmp_path, "[hub]\nport = 9002\n", "named.toml")
    given = write(tmp_path, "[hub]\nport = 9003\n", "given.toml")
    assert load_config(environ={}).settings.port == 9001
    assert load_config(environ={}).path == Path("alphawire.toml")
    env = {"ALPHAWIRE_CONFIG": str(named)}
    assert load_config(environ=env).settings.port == 9002
    assert load_config(given, environ=env).settings.port == 9003
    here.unlink()
    with pytest.raises(ConfigError, match=r"missing\.toml: no such file"):
        load_config(tmp_path / "missing.toml", environ={})


# -- every table ---------------------------------------------------------------------------


def test_every_table_reaches_the_configuration(tmp_path: Path) -> None:
    """Each key of [hub], [hub.history], [alerts], the routes, the watchlist and the plugin
    tables lands where the hub reads it."""
    config = load_config(write(tmp_path, FULL), environ=FULL_ENV)
    s = config.settings
    assert config.watchlist == ("NVDA", "SPY") == s.demo_symbols  # normalized, deduplicated
    assert (s.host, s.port, s.log_level) == ("0.0.0.0", 9100, "debug")
    assert s.data_dir == tmp_path / "state"  # relative to the file
    assert (s.broker_url, s.subscribe_auth) == ("redis://127.0.0.1:6379/3", "token")
    assert s.allowed_origins == ("https://desk.example", "https://b.example")
    assert s.allowed_hosts == ("hub.example",)
    assert (s.ping_interval, s.ping_timeout, s.auth_timeout) == (0.0, 7.5, 2.0)
    assert (s.idempotency_window, s.idempotency_max_keys) == (30.0, 50)
    assert (s.max_connections, s.max_connections_per_ip, s.max_channels_per_connection) == (
        10,
        3,
        4,
    )
    assert (s.queue_max_messages, s.queue_max_bytes) == (64, 65536)
    assert (s.max_frame_bytes, s.max_request_bytes, s.max_batch) == (1024, 2048, 5)
    assert (s.client_frames_per_second, s.client_frame_burst) == (2.5, 6)
    assert s.history.limits["market"] == Limit(50, 60.0)
    assert s.history.limits["unified"] == Limit(700, 3600.0)
    assert s.history.limits["agent"] == Retention().limits["agent"]  # untouched kinds keep theirs
    assert (s.alert_max_pending, s.alert_sync) == (9, "FULL")
    assert (s.alert_retry_base, s.alert_retry_cap, s.alert_max_age) == (0.5, 30.0, 3600.0)
    darkpool, rest = config.routes.routes
    assert s.alert_route_table is config.routes
    assert (darkpool.name, darkpool.webhook_url, darkpool.keep_going) == ("darkpool", HOOK, True)
    assert darkpool.match == {"alert_type": ("dark_pool",), "symbol": ("spy",)}
    assert (darkpool.cooldown, darkpool.username, darkpool.coalesce) == (5.0, "desk-bot", 2.0)
    assert darkpool.allowed_mentions == {"parse": ["roles"]}
    assert (rest.webhook_url, rest.cooldown) == (OTHER_HOOK, 5.0)
    assert [r.name for r in config.routes.select({"alert_type": "dark_pool", "symbol": "SPY"})] == [
        "darkpool",
        "rest",
    ]
    assert config.sources["sim"].enabled and config.sources["sim"].options == {
        "seed": 11,
        "interval": 0.5,
    }
    assert (s.demo_seed, s.demo_interval) == (11, 0.5)
    assert not config.sources["cboe"].enabled
    assert config.sources["cboe"].options == {"symbols_per_minute": 30}
    assert config.agents["darkpool"].options == {"min_block_usd": 1_000_000, "cadence": "30s"}
    assert not config.agents["reddit"].enabled
    assert config.enabled("agents") == [n for n in DEFAULT_AGENTS if n != "reddit"]
    assert config.warnings == []


def test_watchlist_may_be_a_table(tmp_path: Path) -> None:
    """``[watchlist] symbols = [...]`` is the same as a top-level ``watchlist = [...]``."""
    config = load_config(write(tmp_path, '[watchlist]\nsymbols = ["gme", "amc"]\n'), environ={})
    assert config.watchlist == ("GME", "AMC")


def test_settings_with_the_route_table_cross_to_worker_processes(tmp_path: Path) -> None:
    """``serve --workers N`` hands settings over as JSON: the file's routes survive the trip."""
    settings = load_config(write(tmp_path, FULL), environ=FULL_ENV).settings
    again = Settings.from_json(settings.to_json())
    assert again == settings
    assert again.alert_route_table == settings.alert_route_table


# -- precedence ----------------------------------------------------------------------------


def test_flags_beat_variables_beat_the_file_beats_defaults(tmp_path: Path) -> None:
    """Each layer wins over the ones below it, key by key, and the origin is recorded."""
    path = write(
        tmp_path,
        'watchlist = ["AAPL"]\n[hub]\nport = 9001\nmax_batch = 7\nhost = "127.0.0.2"\n'
        "[hub.history]\nmarket = { messages = 5, seconds = 5 }\n"
        "unified = { messages = 6, seconds = 6 }\n",
    )
    env = {
        "ALPHAWIRE_PORT": "9002",
        "ALPHAWIRE_MAX_BATCH": "8",
        "ALPHAWIRE_HISTORY": "market=10/10",
        "ALPHAWIRE_WATCHLIST": "TSLA,AMD",
    }
    flags = {"port": 9003, "history": "signals=3/3", "watchlist": "GME"}
    config = load_config(path, environ=env, overrides=flags)
    s = config.settings
    assert s.port == 9003  # flag > variable > file
    assert s.max_batch == 8  # variable > file
    assert s.host == "127.0.0.2"  # file > default
    assert s.max_connections == 10_000  # default
    limits = s.history.limits
    assert (limits["signals"], limits["market"], limits["unified"]) == (
        Limit(3, 3.0),
        Limit(10, 10.0),
        Limit(6, 6.0),
    )
    assert config.watchlist == ("GME",)
    assert config.origins["hub.port"] == "--port"
    assert config.origins["hub.max_batch"] == "ALPHAWIRE_MAX_BATCH"
    assert config.origins["hub.host"] == str(path)
    assert "hub.max_connections" not in config.origins
    no_flags = load_config(path, environ=env)
    assert (no_flags.settings.port, no_flags.watchlist) == (9002, ("TSLA", "AMD"))


def test_every_existing_variable_still_works(tmp_path: Path) -> None:
    """Each ALPHAWIRE_* variable the hub read before the file existed still sets its value."""
    env = {"ALPHAWIRE_" + name.upper(): "3" for name in ENV_LIMITS if name != "alert_sync"}
    env |= {
        "ALPHAWIRE_ALERT_SYNC": "FULL",
        "ALPHAWIRE_HOST": "0.0.0.0",
        "ALPHAWIRE_PORT": "9004",
        "ALPHAWIRE_DATA_DIR": str(tmp_path / "d"),
        "ALPHAWIRE_LOG_LEVEL": "warning",
        "ALPHAWIRE_PUBLISH_TOKEN": "tok",
        "ALPHAWIRE_BROKER_URL": "redis://:pw@127.0.0.1:6379/0",
        "ALPHAWIRE_SUBSCRIBE_AUTH": "open",
        "ALPHAWIRE_JWT_SECRET": "jwt-secret",
        "ALPHAWIRE_ALLOWED_ORIGINS": "https://a.example/,https://b.example",
        "ALPHAWIRE_ALLOWED_HOSTS": "a.example",
        "ALPHAWIRE_HISTORY": "agent=4/4",
        "ALPHAWIRE_PING_INTERVAL": "0",
        "ALPHAWIRE_PING_TIMEOUT": "9",
        "ALPHAWIRE_MAX_CONNECTIONS": "11",
        "ALPHAWIRE_MAX_CONNECTIONS_PER_IP": "12",
        "ALPHAWIRE_DEMO_SEED": "99",
        "ALPHAWIRE_DEMO_INTERVAL": "0.125",
        "ALPHAWIRE_DEMO_SYMBOLS": "IWM",
        "ALPHAWIRE_DISCORD_WEBHOOK_URL": HOOK,
    }
    s = load_config(write(tmp_path, ""), environ=env).settings
    for name in ENV_LIMITS:
        assert getattr(s, name) == ("FULL" if name == "alert_sync" else 3), name
    assert (s.host, s.port, s.data_dir, s.log_level) == ("0.0.0.0", 9004, tmp_path / "d", "warning")
    assert (s.publish_token, s.jwt_secret) == ("tok", "jwt-secret")
    assert (s.broker_url, s.subscribe_auth) == ("redis://:pw@127.0.0.1:6379/0", "open")
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert s.allowed_hosts == ("a.example",)
    assert s.history.limits["agent"] == Limit(4, 4.0)
    assert (s.ping_interval, s.ping_timeout) == (0.0, 9.0)
    assert (s.max_connections, s.max_connections_per_ip) == (11, 12)
    assert (s.demo_seed, s.demo_interval, s.demo_symbols) == (99, 0.125, ("IWM",))
    assert s.alert_route_table is not None
    assert [(r.name, r.webhook_url) for r in s.alert_route_table.routes] == [("default", HOOK)]


def test_file_routes_win_over_the_default_webhook_variable(tmp_path: Path) -> None:
    """With [[alerts.routes]] in the file, ALPHAWIRE_DISCORD_WEBHOOK_URL alone adds no route."""
    env = {**FULL_ENV, "ALPHAWIRE_DISCORD_WEBHOOK_URL": HOOK}
    config = load_config(write(tmp_path, FULL), environ=env)
    assert [r.name for r in config.routes.routes] == ["darkpool", "rest"]


# -- bad keys and values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[hub]\nmax_connections = "lots"\n', ['[hub] max_connections = "lots"', "an integer > 0"]),
        ("[hub]\nport = 70000\n", ["[hub] port = 70000", "an integer from 0 to 65535"]),
        ("[hub]\nport = 80.5\n", ["[hub] port = 80.5", "an integer"]),
        ("[hub]\nport = true\n", ["[hub] port = true", "an integer"]),
        ("[hub]\nping_interval = -1\n", ["[hub] ping_interval = -1", "a number >= 0"]),
        ("[hub]\nmax_batch = 0\n", ["[hub] max_batch = 0", "an integer > 0"]),
        (
            '[hub]\nsubscribe_auth = "maybe"\n',
            ['[hub] subscribe_auth = "maybe"', "one of auto, open, token"],
        ),
        (
            '[hub]\nlog_level = "loud"\n',
            ["[hub] log_level", "one of critical, error, warning, info, debug"],
        ),
        ('[hub]\nallowed_hosts = "a.example"\n', ["[hub] allowed_hosts", "a list of strings"]),
        ('[hub]\nbroker_url = "kafka://x"\n', ["[hub] broker_url", "memory:// or redis://"]),
        ('[hub]\nhost = ""\n', ["[hub] host", "a non-empty string"]),
        ('[hub]\njwt_public_key_file = "nope.pem"\n', ["[hub] jwt_public_key_file", "no such"]),
        ('[alerts]\nsync = "fast"\n', ['[alerts] sync = "fast"', "one of NORMAL, FULL"]),
        ("[alerts]\nretry_base = 0\n", ["[alerts] retry_base = 0", "a number > 0"]),
        (
            "[hub.history]\nmarket = { messages = 0, seconds = 5 }\n",
            ["[hub.history] market", "{ messages = N, seconds = S }"],
        ),
        ("hub = 3\n", ["hub = 3", "expected a table [hub]"]),
        ('watchlist = ["SPY", "no spaces"]\n', ['watchlist[1] = "no spaces"', "a symbol"]),
        ("watchlist = []\n", ["watchlist = []", "one or more symbols"]),
        ("[sources]\nsim = 1\n", ["[sources] sim = 1", "expected a table"]),
        ("[agents.market]\nenabled = 1\n", ["[agents.market] enabled = 1", "true or false"]),
        ("[sources.sim]\nseed = 1.5\n", ["[sources.sim] seed = 1.5", "an integer >= 0"]),
        ("[[alerts.routes]]\nname = 'x'\n", ["alerts.routes[0] (x)", "webhook_url_env"]),
        ("[alerts.defaults]\ncooldown = 5\n", ["one or more [[alerts.routes]]"]),
        ("[hub\nport = 1\n", ["not valid TOML", "line 1"]),
    ],
)
def test_bad_values_name_the_table_key_and_what_is_allowed(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    """A bad value is refused with the file, the table and key, the value and the rule."""
    message = problems(text, tmp_path)
    assert message.startswith(str(tmp_path / "alphawire.toml") + ": ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[hub]\nprot = 1\n", "[hub] prot: unknown key; did you mean 'port'?"),
        ("[hub]\nmax_conections = 1\n", "did you mean 'max_connections'?"),
        (
            "[alerts]\nmax_pendng = 1\n",
            "[alerts] max_pendng: unknown key; did you mean 'max_pending'?",
        ),
        ("[hubb]\nport = 1\n", "hubb: unknown table or key; did you mean 'hub'?"),
        ("[hub.history]\nmarkt = '1/1'\n", "unknown kind; did you mean 'market'?"),
        (
            "[watchlist]\nsymbol = ['SPY']\n",
            "[watchlist] symbol: unknown key; did you mean 'symbols'?",
        ),
        (
            "[[alerts.routes]]\nname = 'a'\nwebhook_url_env = 'H'\nmentons = 'none'\n",
            "unknown key(s) mentons; did you mean 'mentions'?",
        ),
    ],
)
def test_unknown_keys_are_errors_with_a_suggestion(
    tmp_path: Path, text: str, fragment: str
) -> None:
    """A misspelt key or table is an error that suggests the closest known name."""
    message = problems(text, tmp_path, {"H": HOOK})
    assert fragment in message
    assert "allowed" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Three bad keys give three lines, one per key, in file order; bad variables follow."""
    message = problems(
        '[hub]\nport = "x"\nmax_batch = -1\n[alerts]\nsync = 1\n',
        tmp_path,
        {"ALPHAWIRE_MAX_CONNECTIONS": "many"},
    )
    lines = message.splitlines()
    assert len(lines) == 4
    assert "[hub] port" in lines[0] and "[hub] max_batch" in lines[1]
    assert "[alerts] sync" in lines[2]
    assert lines[3] == 'ALPHAWIRE_MAX_CONNECTIONS="many": expected an integer > 0'


def test_bad_flag_value_names_the_flag(tmp_path: Path) -> None:
    """A flag given to load_config as an override is checked like the file and named."""
    with pytest.raises(ConfigError, match=r"--port 99999: expected an integer from 0 to 65535"):
        load_config(write(tmp_path, ""), environ={}, overrides={"port": 99999})
    with pytest.raises(ConfigError, match=r"override prot: unknown setting; did you mean 'port'"):
        load_config(write(tmp_path, ""), environ={}, overrides={"prot": 1})


# -- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments", "secret"),
    [
        (
            '[hub]\npublish_token = "tok-123"\n',
            ["[hub] publish_token", "ALPHAWIRE_PUBLISH_TOKEN"],
            "tok-123",
        ),
        (
            '[hub]\njwt_secret = "jwt-123"\n',
            ["[hub] jwt_secret", "ALPHAWIRE_JWT_SECRET"],
            "jwt-123",
        ),
        (
            f'[[alerts.routes]]\nname = "a"\nwebhook_url = "{HOOK}"\n',
            ["webhook_url", 'webhook_url_env = "VARIABLE"'],
            "secret-hook-token",
        ),
        (
            '[hub]\nbroker_url = "redis://:hunter2@10.0.0.5:6379/0"\n',
            ["[hub] broker_url", "ALPHAWIRE_BROKER_URL"],
            "hunter2",
        ),
        (
            '[sources.polygon]\napi_key = "pk-123"\n',
            ["[sources.polygon] api_key", 'api_key_env = "VARIABLE"'],
            "pk-123",
        ),
    ],
)
def test_secrets_in_the_file_are_refused_without_echoing_them(
    tmp_path: Path, text: str, fragments: list[str], secret: str
) -> None:
    """A secret written in the file is refused with the variable to use; its value is not shown."""
    message = problems(text, tmp_path)
    for fragment in fragments:
        assert fragment in message
    assert "secret" in message
    assert secret not in message


def test_show_redacts_every_secret_and_names_origins(tmp_path: Path) -> None:
    """render_config hides tokens, the JWT secret, webhook URLs and a broker password, names
    the variable each webhook comes from, and says where non-default values came from."""
    env = {
        **FULL_ENV,
        "ALPHAWIRE_PUBLISH_TOKEN": "publish-secret-1",
        "ALPHAWIRE_JWT_SECRET": "jwt-secret-2",
        "ALPHAWIRE_BROKER_URL": "redis://user:broker-secret-3@10.0.0.5:6380/1",
    }
    text = render_config(load_config(write(tmp_path, FULL), environ=env, overrides={"port": 9}))
    for secret in ("publish-secret-1", "jwt-secret-2", "broker-secret-3", "hook-token"):
        assert secret not in text
    assert "# publish_token: set, redacted (ALPHAWIRE_PUBLISH_TOKEN)" in text
    assert "# jwt_secret: set, redacted (ALPHAWIRE_JWT_SECRET)" in text
    assert 'broker_url = "redis://user:<redacted>@10.0.0.5:6380/1"  # ALPHAWIRE_BROKER_URL' in text
    assert 'webhook_url_env = "DP_HOOK"' in text and 'webhook_url_env = "REST_HOOK"' in text
    assert "port = 9  # --port" in text
    doc = tomllib.loads(text)  # the output is TOML
    assert doc["hub"]["max_batch"] == 5
    assert doc["alerts"]["routes"][0]["match"] == {"alert_type": ["dark_pool"], "symbol": ["spy"]}


def test_shown_configuration_loads_back_to_the_same_settings(tmp_path: Path) -> None:
    """`config show`'s output, saved as a file, is a configuration equal to the one shown."""
    config = load_config(write(tmp_path, FULL), environ=FULL_ENV)
    again = load_config(write(tmp_path, render_config(config), "shown.toml"), environ=FULL_ENV)
    assert again.settings == config.settings
    assert (again.watchlist, again.sources, again.agents) == (
        config.watchlist,
        config.sources,
        config.agents,
    )
    assert again.routes == config.routes


# -- the old route file --------------------------------------------------------------------


def _old_routes(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        f'[defaults]\ncooldown = 9\n\n[[routes]]\nname = "desk"\nwebhook_url = "{HOOK}"\n',
        "routes.toml",
    )


def test_old_route_file_still_works_with_a_migration_note(tmp_path: Path) -> None:
    """--alert-routes / ALPHAWIRE_ALERT_ROUTES load as before, win over the file's routes, and
    leave one line saying how to move them into alphawire.toml."""
    old = _old_routes(tmp_path)
    for config in (
        load_config(
            write(tmp_path, FULL), environ={**FULL_ENV, "ALPHAWIRE_ALERT_ROUTES": str(old)}
        ),
        load_config(write(tmp_path, ""), environ={}, overrides={"alert_routes": old}),
    ):
        assert [(r.name, r.webhook_url, r.cooldown) for r in config.routes.routes] == [
            ("desk", HOOK, 9.0)
        ]
        assert config.settings.alert_routes == old
        (note,) = config.warnings
        assert "\n" not in note and "deprecated" in note
        assert "[alerts.defaults] and [[alerts.routes]]" in note and "alphawire.toml" in note
    assert "secret-hook-token" not in render_config(config)


def test_broken_old_route_file_is_named(tmp_path: Path) -> None:
    """A bad old route file is reported as before, under the variable that named it."""
    old = write(tmp_path, '[[routes]]\nname = "a"\nwebhok = 1\n', "routes.toml")
    with pytest.raises(ConfigError, match=r"ALPHAWIRE_ALERT_ROUTES=.*unknown key\(s\) webhok"):
        load_config(write(tmp_path, ""), environ={"ALPHAWIRE_ALERT_ROUTES": str(old)})


# -- plugin options ------------------------------------------------------------------------


class CboeOptions(pydantic.BaseModel):
    """A source's options, as a plugin would declare them (with its own ``enabled`` switch)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    enabled: bool = False
    symbols_per_minute: int = 60
    greeks: bool = True


class DarkpoolOptions(pydantic.BaseModel):
    """An agent's options: a threshold, a cadence and a choice."""

    min_block_usd: float
    cadence: str = "60s"
    venue: Literal["finra", "sim"] = "sim"


MODELS: dict[str, dict[str, type[pydantic.BaseModel]]] = {
    "sources": {"sim": NoOptions, "cboe": CboeOptions},
    "agents": {name: NoOptions for name in DEFAULT_AGENTS} | {"darkpool": DarkpoolOptions},
}


def test_plugin_options_pass_their_models(tmp_path: Path) -> None:
    """Plugin tables whose keys and values fit the plugins' Options models pass."""
    config = load_config(
        write(tmp_path, FULL.replace("seed = 11\ninterval = 0.5\n", "")), environ=FULL_ENV
    )
    validate_plugin_options(config, MODELS)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "[sources.cbeo]\n",
            [
                "[sources.cbeo]",
                "unknown source 'cbeo'; did you mean 'cboe'?",
                "installed: cboe, sim",
            ],
        ),
        (
            "[agents.darkpool]\nmin_block_usd = 1\ncadense = '5s'\n",
            [
                "[agents.darkpool] cadense",
                "did you mean 'cadence'?",
                "allowed: enabled, min_block_usd, cadence, venue",
            ],
        ),
        (
            "[agents.darkpool]\nmin_block_usd = 1\nvenue = 'nyse'\n",
            ['[agents.darkpool] venue = "nyse"', "expected 'finra' or 'sim'"],
        ),
        (
            "[agents.darkpool]\nmin_block_usd = 'big'\n",
            ['[agents.darkpool] min_block_usd = "big"', "expected a valid number"],
        ),
        ("[agents.darkpool]\ncadence = '5s'\n", ["[agents.darkpool] min_block_usd", "required"]),
        (
            "[sources.cboe]\nenabled = false\ngreeks = 'maybe'\n",
            ["[sources.cboe] greeks", "expected a valid boolean"],
        ),
    ],
)
def test_bad_plugin_options_name_the_table_and_key(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    """Unknown plugins, unknown keys and bad values in plugin tables are ConfigErrors naming
    the table and key, with a suggestion or the allowed values (disabled tables included)."""
    config = load_config(write(tmp_path, text), environ={})
    with pytest.raises(ConfigError) as info:
        validate_plugin_options(config, MODELS)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_untouched_defaults_need_no_model_but_written_tables_do(tmp_path: Path) -> None:
    """The default sim and agent tables are not checked until the user writes in them; the
    table's own switch is what a model with an ``enabled`` field sees."""
    registry: dict[str, dict[str, type[pydantic.BaseModel]]] = {
        "sources": {"cboe": CboeOptions},
        "agents": {},
    }
    validate_plugin_options(load_config(write(tmp_path, "[sources.cboe]\n"), environ={}), registry)
    written = load_config(write(tmp_path, "[sources.sim]\nseed = 3\n"), environ={})
    with pytest.raises(ConfigError, match=r"\[sources.sim\]: unknown source 'sim'"):
        validate_plugin_options(written, registry)


def test_example_lists_installed_plugins_with_their_option_defaults(tmp_path: Path) -> None:
    """With plugin models, the example has a table per plugin: the defaults on, the others off,
    each option commented out at its default with its description; it loads and validates."""
    text = example_text(MODELS)
    cboe = text[text.index("[sources.cboe]") :].split("\n\n")[0].splitlines()
    assert cboe == [
        "[sources.cboe]",
        "# A source's options, as a plugin would declare them (with its own ``enabled`` switch).",
        "enabled = false",
        "# symbols_per_minute = 60",
        "# greeks = true",
    ]
    darkpool = text[text.index("[agents.darkpool]") :].split("\n\n")[0].splitlines()
    assert darkpool[2:] == [
        "enabled = true",
        "# min_block_usd = ...  # required",
        '# cadence = "60s"',
        '# venue = "sim"',
    ]
    config = load_config(write(tmp_path, text), environ={})
    assert config.enabled("sources") == [] and not config.sources["cboe"].enabled
    validate_plugin_options(config, MODELS)


def test_config_check_reads_the_plugin_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config check` validates plugin tables against the Options of what the registry finds."""
    from click.testing import CliRunner

    from alphawire.cli import main

    class Spec:
        def __init__(self, model: type[pydantic.BaseModel] | None) -> None:
            self.model = model

        def options_model(self) -> type[pydantic.BaseModel] | None:
            return self.model

    registry = types.ModuleType("alphawire.plugins")
    found = {"sources": {"cboe": Spec(CboeOptions)}, "agents": {"echo": Spec(None)}}
    registry.discover = found.__getitem__  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "alphawire.plugins", registry)
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[sources.cboe]\nsymbols_per_minit = 5\n[agents.echo]\nloud = true\n")
    result = CliRunner().invoke(main, ["config", "check"], env={"ALPHAWIRE_CONFIG": ""})
    assert result.exit_code == 1
    assert "[sources.cboe] symbols_per_minit: unknown key; did you mean 'symbols_per_minute'?" in (
        result.output
    )
    assert "[agents.echo] loud: unknown key (allowed: enabled)" in result.output
    write(tmp_path, "[sources.cboe]\nsymbols_per_minute = 5\n")
    result = CliRunner().invoke(main, ["config", "check"], env={"ALPHAWIRE_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert "plugin options not checked" not in result.output


# -- the example file and the CLI ----------------------------------------------------------


def test_shipped_example_is_current_and_holds_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repo's alphawire.toml is what `config init` writes, names every key, and loads to
    exactly the defaults."""
    shipped = (REPO / "alphawire.toml").read_text()
    # Out of date? Regenerate it: alphawire config init --force alphawire.toml
    assert shipped == example_text(plugin_option_models())
    for key in KEYS:
        assert f"\n{key.name} = " in shipped or f"\n# {key.name} = " in shipped, key.name
        assert key.env is not None and key.env in shipped
    monkeypatch.chdir(tmp_path)
    env = {"XDG_DATA_HOME": str(tmp_path)}
    from_file = load_config(REPO / "alphawire.toml", environ=env)
    defaults = load_config(environ=env)
    assert from_file.settings == defaults.settings
    # The example also lists every installed plugin, switched off: what is on is the same.
    assert from_file.watchlist == defaults.watchlist
    for kind in ("sources", "agents"):
        assert from_file.enabled(kind) == defaults.enabled(kind)
        for name in defaults.enabled(kind):
            assert getattr(from_file, kind)[name] == getattr(defaults, kind)[name]


def test_config_check_on_a_broken_file_names_the_key(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """`alphawire config check` exits 1 naming file, table, key and the allowed values."""
    write(tmp_path, '[hub]\nmax_connections = "lots"\nprot = 80\n')
    done = cli("config", "check", env=cli_env, cwd=tmp_path)
    assert done.returncode == 1
    first, second = done.stderr.splitlines()
    assert first == 'alphawire.toml: [hub] max_connections = "lots": expected an integer > 0'
    assert second.startswith("alphawire.toml: [hub] prot: unknown key; did you mean 'port'?")
    assert done.stdout == ""


def test_config_check_on_a_good_file_prints_one_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """`config check --config F` on a good file exits 0 with a one-line summary counting
    only the plugins this installation has."""
    path = write(tmp_path, FULL[: FULL.index("[sources.cboe]")], "desk.toml")
    done = cli("config", "check", "--config", str(path), env=cli_env | FULL_ENV, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"{path}: ok: hub on 0.0.0.0:9100, broker redis, 2 symbols")
    # FULL's cut names no agent: the default ones this installation has are counted
    from alphawire.agents.builtin import builtin_agents
    from alphawire.config.schema import DEFAULT_AGENTS

    agents = len(set(DEFAULT_AGENTS) & set(builtin_agents()))
    assert "sources sim" in line and f" {agents} agents" in line and "2 alert routes" in line


def test_config_check_reports_the_old_route_file(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """With ALPHAWIRE_ALERT_ROUTES set, `config check` passes and prints the migration line."""
    old = _old_routes(tmp_path)
    done = cli("config", "check", env=cli_env | {"ALPHAWIRE_ALERT_ROUTES": str(old)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (note,) = done.stderr.splitlines()
    assert note.startswith(f"alphawire: ALPHAWIRE_ALERT_ROUTES {old} is deprecated: move")
    assert "1 alert routes" in done.stdout


def test_config_show_prints_the_effective_configuration(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """`config show` prints TOML with the variables' values and no secret."""
    env = cli_env | FULL_ENV | {"ALPHAWIRE_PORT": "9555", "ALPHAWIRE_PUBLISH_TOKEN": "pub-tok-77"}
    write(tmp_path, FULL)
    done = cli("config", "show", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "port = 9555  # ALPHAWIRE_PORT" in done.stdout
    assert "pub-tok-77" not in done.stdout and "hook-token" not in done.stdout
    assert tomllib.loads(done.stdout)["hub"]["port"] == 9555


def test_config_init_writes_the_example_once(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """`config init` writes the example; a second run refuses to overwrite without --force."""
    done = cli("config", "init", env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "alphawire.toml").read_text() == example_text(plugin_option_models())
    again = cli("config", "init", env=cli_env, cwd=tmp_path)
    assert again.returncode == 1 and "exists; pass --force" in again.stderr
    assert cli("config", "init", "--force", env=cli_env, cwd=tmp_path).returncode == 0


def test_serve_reads_the_file_and_flags_override_it(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """`alphawire serve --config F --port P` serves on P (the flag) with the file's limits, and
    the old --alert-routes still loads, with its migration line on stderr."""
    port = free_port()
    path = write(
        tmp_path,
        f'[hub]\nport = {free_port()}\ndata_dir = "state"\nmax_batch = 2\n',
        "hub.toml",
    )
    old = _old_routes(tmp_path)
    args = ["serve", "--config", str(path), "--port", str(port), "--log-level", "warning"]
    args += ["--alert-routes", str(old)]
    env = cli_env | {"ALPHAWIRE_PUBLISH_TOKEN": "t0k"}
    with background(args, env, tmp_path / "logs") as server:
        server.wait_healthy(port)
        batch = [{"type": "signal", "signal": {"symbol": "SPY"}}] * 3
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/publish",
            json={"messages": batch},
            headers={"Authorization": "Bearer t0k"},
            timeout=10,
        )
        stderr = server.stderr()
    assert answer.status_code == 422, answer.text
    assert "a batch holds at most 2 messages, got 3" in answer.text  # the file's max_batch
    assert (tmp_path / "state" / "alerts.sqlite3").exists()  # data_dir relative to the file
    assert f"alphawire: --alert-routes {old} is deprecated: move its [defaults]" in stderr


def test_demo_simulates_the_file_watchlist(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """`alphawire demo --config F` ticks the file's watchlist, and only it."""
    port = free_port()
    path = write(tmp_path, 'watchlist = ["NVDA"]\n[sources.sim]\nseed = 3\ninterval = 0.05\n')
    args = ["demo", "--config", str(path), "--port", str(port), "--data-dir", str(tmp_path / "d")]
    base = f"http://127.0.0.1:{port}/api/v1/history"
    with background([*args, "--log-level", "warning"], cli_env, tmp_path / "logs") as demo:
        demo.wait_healthy(port)
        for _ in range(600):  # hang guard: the first NVDA tick comes within a few intervals
            nvda = httpx.get(f"{base}/market_NVDA", timeout=10).json()["messages"]
            if nvda:
                break
            time.sleep(0.05)
        spy = httpx.get(f"{base}/market_SPY", timeout=10).json()["messages"]
        assert "  symbols:  NVDA\n" in demo.stderr()
    assert nvda and nvda[0]["data"]["simulated"] is True
    assert spy == []


def test_demo_refuses_a_broken_file_naming_the_key(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """`alphawire demo` refuses a broken file before starting, naming the key (exit 2)."""
    path = write(tmp_path, "[hub]\nping_timeout = -3\n")
    done = cli("demo", "--config", str(path), "--port", str(free_port()), env=cli_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "[hub] ping_timeout = -3: expected a number >= 0" in done.stderr
