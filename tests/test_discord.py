"""The Discord sink: payload repair against Discord's spec and limits, and the webhook client
against a fake Discord that follows Discord's documented behaviour."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.fake_discord import FakeDiscord, is_empty_message, payload_problems

from alphawire import __version__
from alphawire.alerting.discord import (
    BLANK,
    CODE_INVALID_FORM_BODY,
    CODE_UNKNOWN_WEBHOOK,
    DEFAULT_USERNAME,
    EMPTY_CONTENT,
    TRUNCATED,
    DiscordClient,
    SendResult,
    build_payloads,
    embed_size,
    redact,
)
from alphawire.alerting.payloads import merge_payloads

TOKEN = "s3cr3t-T0KEN_never-in-logs"
HOOK = "223704706495545344"
OTHER = "223704706495545345"
THIRD = "223704706495545346"
PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
EMBED_KEYS = {
    "title",
    "description",
    "url",
    "timestamp",
    "color",
    "footer",
    "image",
    "thumbnail",
    "author",
    "fields",
}
SUB_KEYS = {
    "footer": {"text", "icon_url"},
    "image": {"url"},
    "thumbnail": {"url"},
    "author": {"name", "url", "icon_url"},
}
MARKER = re.compile(r"\n?\((\d+)/(\d+)\)\Z")
CONTENT_CUT = re.compile(r"… \[truncated (\d+) more characters\]\Z")


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord(rate_limit=5, rate_period=0.5) as server:
        server.add_webhook(HOOK, TOKEN)
        server.add_webhook(OTHER, TOKEN + "-2")
        server.add_webhook(THIRD, TOKEN + "-3")
        yield server


async def deliver(client: DiscordClient, url: str, payload: dict[str, Any]) -> SendResult:
    """Send as a caller would: wait out rate limits, retry server errors (a hang guard)."""
    for _ in range(50):
        result = await client.send(url, payload)
        if result.kind == "rate_limited":
            await asyncio.sleep(result.retry_after or 0.1)
        elif result.kind == "retry":
            await asyncio.sleep(0.05)
        else:
            return result
    raise AssertionError("not delivered after 50 tries")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- build_payloads: examples ---------------------------------------------------------------


def test_short_alert_is_one_payload_that_pings_nobody() -> None:
    """A short alert is one payload, and its @everyone does not ping (parse is empty)."""
    assert build_payloads("SPY 2M @ 598 @everyone") == [
        {"content": "SPY 2M @ 598 @everyone", "allowed_mentions": {"parse": []}}
    ]


def test_long_content_splits_at_newlines_into_marked_parts() -> None:
    """Content over 2000 characters becomes numbered parts split after a newline."""
    lines = [f"line {i:04d} " + "x" * 40 for i in range(100)]
    content = "\n".join(lines)
    payloads = build_payloads(content)
    assert len(payloads) == 3
    for i, payload in enumerate(payloads, 1):
        assert len(payload["content"]) <= 2000
        assert payload["content"].endswith(f"\n({i}/3)")
    first = MARKER.sub("", payloads[0]["content"])
    assert first.endswith("\n")  # the cut fell after a line, not inside one
    assert "".join(MARKER.sub("", p["content"]) for p in payloads) == content


def test_content_past_max_parts_ends_in_a_visible_truncation() -> None:
    """Past max_parts, the last part says how many characters were left out."""
    content = "a" * 10_000
    payloads = build_payloads(content, max_parts=2)
    assert len(payloads) == 2
    last = MARKER.sub("", payloads[-1]["content"])
    cut = CONTENT_CUT.search(last)
    assert cut is not None
    kept = MARKER.sub("", payloads[0]["content"]) + last[: cut.start()]
    assert content.startswith(kept)
    assert len(kept) + int(cut.group(1)) == len(content)


def test_embed_rides_on_the_last_part_with_the_same_identity() -> None:
    """The embed follows the last content part; every part carries username and mentions."""
    payloads = build_payloads(
        "z" * 2500, {"title": "Dark pool"}, username="Scanner", avatar_url="https://x.io/a.png"
    )
    assert [("embeds" in p) for p in payloads] == [False, True]
    assert payloads[1]["embeds"] == [{"title": "Dark pool"}]
    for payload in payloads:
        assert payload["username"] == "Scanner"
        assert payload["avatar_url"] == "https://x.io/a.png"
        assert payload["allowed_mentions"] == {"parse": []}


def test_over_25_fields_go_on_in_a_continuation_message() -> None:
    """Thirty fields: 25 in the first message's embed, 5 in a second marked (2/2)."""
    fields = [{"name": f"f{i}", "value": str(i), "inline": True} for i in range(30)]
    payloads = build_payloads("", {"fields": fields, "color": 5})
    assert [p["content"] for p in payloads] == ["(1/2)", "(2/2)"]
    assert payloads[0]["embeds"][0]["fields"] == fields[:25]
    assert payloads[1]["embeds"][0]["fields"] == fields[25:]
    assert all(p["embeds"][0]["color"] == 5 for p in payloads)


def test_overlong_texts_go_on_rather_than_being_cut() -> None:
    """A title over 256 goes on in the description, a field value over 1024 in a field named
    "NAME (cont.)"; only a field name over 256 (a label) is cut with the marker."""
    embed = build_payloads(
        "",
        {
            "title": "t" * 300,
            "fields": [{"name": "n" * 300, "value": "v" * 1100}, {"name": " ", "value": "ok"}],
        },
    )[0]["embeds"][0]
    assert embed["title"] == "t" * 255 + "…"
    assert embed["description"] == "…" + "t" * 45
    first, second, blank = embed["fields"]
    assert len(first["name"]) == 256 and first["name"].endswith(TRUNCATED)
    assert first["value"] == "v" * 1024
    assert second["name"].endswith(" (cont.)") and len(second["name"]) <= 256
    assert second["value"] == "v" * 76
    assert blank == {"name": BLANK, "value": "ok"}


def test_embed_over_6000_goes_on_in_reading_order() -> None:
    """Over 6000 characters the embed is spread over messages: nothing is left out, each
    message's embed is within the limit, the footer comes last."""
    embed = {
        "author": {"name": "a" * 200},
        "title": "t" * 200,
        "description": "d" * 4000,
        "fields": [{"name": f"f{i}", "value": "v" * 1000} for i in range(5)],
        "footer": {"text": "footer"},
    }
    payloads = build_payloads("", embed)
    outs = [p["embeds"][0] for p in payloads]
    assert len(outs) == 2 and all(embed_size(out) <= 6000 for out in outs)
    assert outs[0]["description"] == "d" * 4000
    assert outs[0]["author"] == {"name": "a" * 200}
    got = [f for out in outs for f in out.get("fields", [])]
    assert got == [{"name": f"f{i}", "value": "v" * 1000} for i in range(5)]
    assert "footer" not in outs[0] and outs[-1]["footer"] == {"text": "footer"}


def test_colour_is_kept_repaired_or_dropped() -> None:
    """A valid colour stays, "#RRGGBB" becomes an integer, anything else is dropped."""

    def colour(value: object) -> object:
        return build_payloads("", {"title": "x", "color": value})[0]["embeds"][0].get("color")

    assert colour(0xFF8800) == 0xFF8800
    assert colour("#00ff00") == 0x00FF00
    assert colour(-1) is None
    assert colour(0x1000000) is None
    assert colour(True) is None
    assert colour("red") is None


def test_keys_webhooks_cannot_set_are_dropped() -> None:
    """type, provider, video, image sizes and unknown keys are left out."""
    embed = {
        "title": "x",
        "type": "video",
        "provider": {"name": "p"},
        "video": {"url": "https://v.io/v.mp4"},
        "image": {"url": "https://i.io/i.png", "width": 10, "height": 10, "proxy_url": "x"},
        "thumbnail": {"url": "not a url"},
        "timestamp": "2024-05-01T14:30:00-04:00",
        "bogus": 1,
    }
    out = build_payloads("", embed)[0]["embeds"][0]
    assert out == {
        "title": "x",
        "image": {"url": "https://i.io/i.png"},
        "timestamp": "2024-05-01T18:30:00+00:00",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Dark Pool Scanner", "Dark Pool Scanner"),
        ("  spaced \t  out\u200b name ", "spaced out name"),
        ("My Discord Bot", DEFAULT_USERNAME),
        ("CLYDE", DEFAULT_USERNAME),
        ("ｄｉｓｃｏｒｄ", DEFAULT_USERNAME),
        ("everyone", DEFAULT_USERNAME),
        ("\u200b\u200b", DEFAULT_USERNAME),
        ("n" * 100, "n" * 80),
    ],
)
def test_username_is_repaired(given: str, expected: str) -> None:
    """Usernames are cleaned, cut to 80, and replaced when Discord would refuse them."""
    assert build_payloads("x", username=given)[0]["username"] == expected


def test_allowed_mentions_are_sanitised() -> None:
    """Given mentions keep known types and snowflakes; an ID list narrows its parse type."""
    payload = build_payloads(
        "<@123>",
        allowed_mentions={"parse": ["users", "everyone", "bogus"], "users": [123, "x", "456"]},
    )[0]
    assert payload["allowed_mentions"] == {"parse": ["everyone"], "users": ["123", "456"]}


def test_an_alert_with_nothing_to_show_is_still_a_message() -> None:
    """Blank content and an embed with nothing visible still give a non-empty message."""
    assert build_payloads("   \n ", {"color": 5}) == [
        {"content": EMPTY_CONTENT, "allowed_mentions": {"parse": []}}
    ]
    only_embed = build_payloads("", {"description": "d"})
    assert only_embed == [{"allowed_mentions": {"parse": []}, "embeds": [{"description": "d"}]}]


def test_lone_surrogates_become_replacement_characters() -> None:
    """Text JSON cannot carry as UTF-8 is repaired instead of failing at send time."""
    payload = build_payloads("a\ud800b", {"title": "\udfff"})[0]
    assert payload["content"] == "a\ufffdb" and payload["embeds"][0]["title"] == "\ufffd"


@pytest.mark.parametrize(
    "body",
    [
        {"content": "x", "username": "Discord Alerts"},
        {"content": "x", "username": "x" * 81},
        {"content": "x" * 2001},
        {"embeds": [{"title": "x", "fields": [{"name": "n", "value": " "}]}]},
        {"embeds": [{"description": "d" * 4096}, {"description": "d" * 2000}]},
        {"embeds": [{"footer": {"icon_url": "https://x.io/i.png"}}]},
        {"embeds": [{"title": "x", "color": 16777216}]},
        {"embeds": [{"title": "x", "timestamp": "yesterday"}]},
        {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        {"content": "x", "avatar_url": "not a url"},
    ],
)
def test_the_fake_refuses_what_discord_documents_as_invalid(body: dict[str, Any]) -> None:
    """The fake's checks (spec schema plus documented rules) refuse known-bad bodies."""
    assert payload_problems(body)


def test_merged_payloads_keep_order_and_every_limit() -> None:
    """Coalescing merges whole alerts in order, stopping before a limit would break."""
    one = lambda i, **e: build_payloads(f"alert {i}", e or None)[0]  # noqa: E731
    merged, count = merge_payloads([one(i, title=f"t{i}") for i in range(12)])
    assert count == 10  # ten embeds at most
    assert merged["content"] == "\n".join(f"alert {i}" for i in range(10))
    assert [e["title"] for e in merged["embeds"]] == [f"t{i}" for i in range(10)]
    big = [build_payloads("x" * 900)[0] for _ in range(3)]
    merged, count = merge_payloads(big)
    assert count == 2  # 900 + newline + 900 fits in 2000; a third would not
    assert len(merged["content"]) == 1801
    heavy = [one(i, description="d" * 2500) for i in range(3)]
    merged, count = merge_payloads(heavy)
    assert count == 2  # 6000 embed characters in all
    assert sum(embed_size(e) for e in merged["embeds"]) <= 6000
    only_embeds = [build_payloads("", {"title": f"t{i}"})[0] for i in range(3)]
    merged, count = merge_payloads(only_embeds)
    assert count == 3
    assert "content" not in merged
    assert merge_payloads([one(0)]) == (one(0), 1)


@given(
    st.lists(
        st.tuples(
            st.text(max_size=700),
            st.none() | st.fixed_dictionaries({"description": st.text(max_size=2500)}),
        ),
        min_size=1,
        max_size=15,
    )
)
@PROPERTY
def test_merged_payloads_are_valid_and_lose_nothing(
    alerts: list[tuple[str, dict[str, Any] | None]],
) -> None:
    """Any run of one-part alerts merges into a message the spec and limits accept, in order."""
    payloads = [build_payloads(content, embed)[0] for content, embed in alerts]
    merged, count = merge_payloads(payloads)
    assert 1 <= count <= len(payloads)
    assert payload_problems(merged) == []
    texts = [p["content"] for p in payloads[:count] if p.get("content")]
    assert merged.get("content", "") == "\n".join(texts)
    embeds = [e for p in payloads[:count] for e in p.get("embeds", [])]
    assert merged.get("embeds", []) == embeds


def test_the_fake_knows_an_empty_message() -> None:
    """Blank content with nothing else is Discord's "Cannot send an empty message"."""
    assert is_empty_message({"content": "  \n", "embeds": []})
    assert not is_empty_message({"embeds": [{"title": "x"}]})


def test_redact_keeps_host_and_webhook_id_only() -> None:
    """A redacted URL keeps scheme, host, port and webhook id; token, query and userinfo go."""
    url = f"https://user:pw@discord.com:8443/api/v10/webhooks/{HOOK}/{TOKEN}?thread_id=1#x"
    assert redact(url) == f"https://discord.com:8443/api/v10/webhooks/{HOOK}/***"
    assert redact("https://example.com/private/path") == "https://example.com/***"
    assert TOKEN not in redact(f"http://[::1]/api/webhooks/{HOOK}/{TOKEN}/")


# -- build_payloads: properties -------------------------------------------------------------

ALPHABET = st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(
    ["\n", " ", "\u0301", "\u200d", "👍", "@"]
)
MENTIONS = st.sampled_from(["@everyone", "@here", "<@123>", "<@&456>", "<#789>"])
WORDS = st.lists(st.text(ALPHABET, max_size=30) | MENTIONS, max_size=40).map(" ".join)
CONTENT = st.one_of(
    st.text(ALPHABET, max_size=300),
    WORDS,
    st.text(ALPHABET, min_size=1990, max_size=2010),
    st.builds(
        lambda unit, n: unit * n, st.text(ALPHABET, min_size=1, max_size=12), st.integers(1, 9000)
    ),
)


def repeated(most: int) -> st.SearchStrategy[str]:
    """A text of up to about ``most`` characters, made by repeating a random unit."""
    unit = st.text(ALPHABET, min_size=1, max_size=5)
    return st.builds(lambda u, n: (u * n)[:most], unit, st.integers(1, most))


TEXT = st.one_of(st.none(), st.integers(), st.text(ALPHABET, max_size=50), repeated(6000))
URLS = st.one_of(
    st.none(),
    st.sampled_from(["https://example.com/x.png", "ftp://x", "nope", "http://"]),
    st.text(max_size=20),
)
FIELD = st.one_of(
    st.fixed_dictionaries(
        {"name": TEXT, "value": TEXT}, optional={"inline": st.booleans() | st.integers()}
    ),
    st.fixed_dictionaries({}, optional={"name": TEXT, "value": TEXT}),
    st.integers(),
)
COLOURS = st.one_of(
    st.integers(-(2**26), 2**26),
    st.sampled_from([0, 0xFFFFFF, 0x1000000, -1, 1.5, "#ABCDEF", "0x123456", "#12345"]),
    st.booleans(),
    st.text(max_size=8),
)
RANDOM_EMBED = st.fixed_dictionaries(
    {},
    optional={
        "title": TEXT,
        "description": TEXT,
        "url": URLS,
        "color": COLOURS,
        "timestamp": st.one_of(st.datetimes().map(str), st.text(max_size=25), st.integers()),
        "fields": st.lists(FIELD, max_size=40),
        "footer": st.fixed_dictionaries({}, optional={"text": TEXT, "icon_url": URLS})
        | st.text(max_size=5),
        "author": st.fixed_dictionaries({}, optional={"name": TEXT, "url": URLS, "icon_url": URLS}),
        "image": st.fixed_dictionaries({}, optional={"url": URLS, "width": st.integers()}),
        "thumbnail": st.fixed_dictionaries({}, optional={"url": URLS}),
        "type": st.sampled_from(["rich", "video", "gifv"]),
        "provider": st.just({"name": "p"}),
        "video": st.just({"url": "https://v.io"}),
        "extra": st.integers(),
    },
)
# Embeds that press on every limit at once: long texts and many fields.
BIG_EMBED = st.fixed_dictionaries(
    {
        "author": st.fixed_dictionaries({"name": repeated(400)}),
        "title": repeated(400),
        "description": repeated(5000),
        "fields": st.lists(
            st.fixed_dictionaries({"name": repeated(300), "value": repeated(1200)}),
            min_size=1,
            max_size=40,
        ),
        "footer": st.fixed_dictionaries({"text": repeated(2500)}),
        "color": COLOURS,
    }
)
MANY_FIELDS = st.fixed_dictionaries(
    {"fields": st.lists(FIELD, min_size=20, max_size=40)}, optional={"color": COLOURS}
)
EMBED = st.one_of(RANDOM_EMBED, BIG_EMBED, MANY_FIELDS)
USERNAMES = st.one_of(
    st.none(),
    st.text(ALPHABET, max_size=120),
    st.text(st.characters(codec="ascii"), min_size=78, max_size=90),
    st.sampled_from(["Discord", "my clyde", "   ", "everyone", "x" * 81, "a\u200bb"]),
)


def visible_content(payloads: list[dict[str, Any]]) -> str:
    """The content of split parts joined back, markers checked and removed."""
    parts = [p["content"] for p in payloads if "content" in p]
    if len(parts) == 1:
        return parts[0]
    joined = []
    for i, part in enumerate(parts, 1):
        marker = MARKER.search(part)
        assert marker is not None and marker.groups() == (str(i), str(len(parts))), part[-20:]
        joined.append(part[: marker.start()])
    return "".join(joined)


@PROPERTY
@given(content=CONTENT, embed=st.none() | EMBED, username=USERNAMES)
@example(content="x", embed={"title": "t", "color": 0x1000000}, username="My Discord")
@example(content="x", embed={"fields": [{"name": "n", "value": "v"}] * 30}, username="y" * 81)
@example(content="", embed={"fields": [{"name": "n" * 256, "value": "v" * 1024}] * 6}, username="")
def test_every_payload_is_accepted_by_the_spec_and_limits(
    content: str, embed: dict[str, Any] | None, username: str | None
) -> None:
    """Whatever the input, every payload passes Discord's schema and documented limits."""
    payloads = build_payloads(content, embed, username=username)
    assert payloads and payloads == build_payloads(content, embed, username=username)
    for payload in payloads:
        assert payload_problems(payload) == [], payload_problems(payload)[:3]
        assert not is_empty_message(payload)
        assert payload["allowed_mentions"] == {"parse": []}
        for out in payload.get("embeds", []):
            assert set(out) <= EMBED_KEYS
            for key, allowed in SUB_KEYS.items():
                assert set(out.get(key, {})) <= allowed
            for field in out.get("fields", []):
                assert set(field) <= {"name", "value", "inline"}
    # Embeds ride on the last content part and the continuation messages after it.
    carrying = [i for i, p in enumerate(payloads) if "embeds" in p]
    assert carrying == list(range(carrying[0], len(payloads))) if carrying else True
    assert len({p.get("username") for p in payloads}) == 1


@PROPERTY
@given(content=CONTENT, embed=st.none() | EMBED)
def test_content_is_never_lost_silently(content: str, embed: dict[str, Any] | None) -> None:
    """Joined back without markers, the parts give the content (or a counted truncation)."""
    payloads = build_payloads(content, embed)
    joined = visible_content(payloads)
    if not content.strip():
        assert joined in ("", EMPTY_CONTENT)
        return
    cut = CONTENT_CUT.search(joined)
    if cut is None:
        assert joined == content
    else:
        kept = joined[: cut.start()]
        assert content.startswith(kept) and len(kept) + int(cut.group(1)) == len(content)


def as_text(value: Any) -> str:
    """An embed text as the repair reads it: strings that are not blank, numbers written out."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) and value.strip() else ""


@PROPERTY
@given(embed=EMBED)
def test_embed_texts_are_kept_whole_across_messages(embed: dict[str, Any]) -> None:
    """The title (with what went on into the description) and the description, joined back
    across continuation messages, are the original texts."""
    payloads = build_payloads("x", embed)
    outs = [e for p in payloads for e in p.get("embeds", [])]
    if not outs:
        return
    title = outs[0].get("title", "")
    description = "".join(out.get("description", "") for out in outs)
    original_title, original = as_text(embed.get("title")), as_text(embed.get("description"))
    if len(original_title) > 256:
        assert title == original_title[:255] + "…"
        rest = "…" + original_title[255:]
        assert description == (rest + "\n\n" + original if original else rest)
    else:
        assert title == original_title
        assert description == original


# -- the client against the fake ------------------------------------------------------------


@pytest.mark.anyio
async def test_send_returns_the_message_id_and_identifies_itself(fake: FakeDiscord) -> None:
    """wait=true returns the message id; the User-Agent is Discord's documented format."""
    async with DiscordClient() as client:
        result = await client.send(fake.url(HOOK), build_payloads("hello")[0])
    assert result.kind == "sent" and result.status == 200
    [message] = fake.messages(HOOK)
    assert result.message_id == message["id"] and message["content"] == "hello"
    [request] = fake.requests
    assert request.query == {"wait": "true"}
    assert request.headers["user-agent"] == (
        f"DiscordBot (https://github.com/alphawire/alphawire, {__version__})"
    )
    assert re.fullmatch(r"DiscordBot \(https://\S+, [\w.]+\)", request.headers["user-agent"])


@pytest.mark.anyio
async def test_thread_id_goes_in_the_query(fake: FakeDiscord) -> None:
    """A thread id is sent as the thread_id query parameter."""
    async with DiscordClient() as client:
        result = await client.send(fake.url(HOOK), {"content": "x"}, thread_id="1234567890")
    assert result.kind == "sent"
    assert fake.requests[0].query == {"wait": "true", "thread_id": "1234567890"}
    assert fake.messages(HOOK)[0]["channel_id"] == "1234567890"


@pytest.mark.anyio
async def test_twenty_sends_are_paced_by_the_headers(fake: FakeDiscord) -> None:
    """Twenty sends to a 5-per-window webhook all arrive in order, without 429s."""
    async with DiscordClient() as client:
        results = [
            await deliver(client, fake.url(HOOK), {"content": f"alert {i}"}) for i in range(20)
        ]
    assert [r.kind for r in results] == ["sent"] * 20
    assert [m["content"] for m in fake.messages(HOOK)] == [f"alert {i}" for i in range(20)]
    assert fake.statuses(HOOK).count(429) <= 1
    assert client.stats()["rate_limited"] <= 1


@pytest.mark.anyio
async def test_routes_send_concurrently_in_order(fake: FakeDiscord) -> None:
    """One task per webhook, three at once: everything arrives, each webhook in order."""
    async with DiscordClient() as client:

        async def route(hook: str) -> None:
            for i in range(8):
                result = await deliver(client, fake.url(hook), {"content": f"{hook} {i}"})
                assert result.kind == "sent"

        await asyncio.gather(route(HOOK), route(OTHER), route(THIRD))
    for hook in (HOOK, OTHER, THIRD):
        assert [m["content"] for m in fake.messages(hook)] == [f"{hook} {i}" for i in range(8)]
        assert fake.statuses(hook).count(429) <= 1


@pytest.mark.anyio
async def test_a_global_429_holds_every_webhook(fake: FakeDiscord) -> None:
    """A global 429 is returned once; later sends to any webhook wait until it expires."""
    fake.trigger_global_rate_limit(0.4)
    async with DiscordClient() as client:
        first = await client.send(fake.url(HOOK), {"content": "a"})
        assert first.kind == "rate_limited" and first.is_global and first.status == 429
        assert first.retry_after is not None and 0 < first.retry_after <= 0.4
        assert client.paused()
        other = await client.send(fake.url(OTHER), {"content": "b"})
        again = await client.send(fake.url(HOOK), {"content": "a"})
    assert other.kind == "sent" and again.kind == "sent"
    assert fake.statuses(OTHER) == [200]
    assert fake.statuses(HOOK) == [429, 200]
    assert client.stats()["invalid_requests_in_window"] == 1


@pytest.mark.anyio
async def test_a_shared_scope_429_is_not_an_invalid_request(fake: FakeDiscord) -> None:
    """A 429 with X-RateLimit-Scope: shared is waited out but not counted as invalid."""
    fake.shared_429_next(1, retry_after=0.2)
    async with DiscordClient() as client:
        limited = await client.send(fake.url(HOOK), {"content": "a"})
        assert limited.kind == "rate_limited" and not limited.is_global
        assert limited.retry_after == pytest.approx(0.2)
        sent = await client.send(fake.url(HOOK), {"content": "a"})
    assert sent.kind == "sent"
    assert client.stats()["invalid_requests_in_window"] == 0


@pytest.mark.anyio
async def test_unknown_webhook_is_fatal_and_disables_it(fake: FakeDiscord) -> None:
    """404 Unknown Webhook (10015) is fatal and says to stop using the webhook."""
    async with DiscordClient() as client:
        result = await client.send(fake.url("999", TOKEN), {"content": "x"})
    assert (result.kind, result.status, result.code) == ("fatal", 404, CODE_UNKNOWN_WEBHOOK)
    assert result.disable_webhook and "Unknown Webhook" in result.error


@pytest.mark.anyio
async def test_wrong_token_is_fatal_and_disables_it(fake: FakeDiscord) -> None:
    """401 for a wrong token is fatal, disables the webhook and counts as invalid."""
    async with DiscordClient() as client:
        result = await client.send(fake.url(HOOK, "wrong-token"), {"content": "x"})
    assert (result.kind, result.status, result.disable_webhook) == ("fatal", 401, True)
    assert client.stats()["invalid_requests_in_window"] == 1


@pytest.mark.anyio
async def test_invalid_form_body_is_fatal_with_discord_code(fake: FakeDiscord) -> None:
    """A body Discord refuses (bypassing build_payloads) is fatal, with 50035 and the field."""
    payload = {"content": "x", "embeds": [{"title": "t" * 300, "color": -1}]}
    async with DiscordClient() as client:
        result = await client.send(fake.url(HOOK), payload)
    assert (result.kind, result.status, result.code) == ("fatal", 400, CODE_INVALID_FORM_BODY)
    assert not result.disable_webhook
    assert "50035" in result.error and "embeds.0.title" in result.error
    assert fake.messages(HOOK) == []


@pytest.mark.anyio
async def test_server_errors_and_html_pages_are_retries(fake: FakeDiscord) -> None:
    """500s and a proxy's HTML 502 page give retry results, never an exception."""
    async with DiscordClient() as client:
        fake.fail_next(1, status=500)
        server_error = await client.send(fake.url(HOOK), {"content": "x"})
        fake.html_error_next(1, status=502)
        html = await client.send(fake.url(HOOK), {"content": "x"})
        sent = await client.send(fake.url(HOOK), {"content": "x"})
    assert (server_error.kind, server_error.status) == ("retry", 500)
    assert (html.kind, html.status) == ("retry", 502)
    assert "non-JSON" in html.error
    assert sent.kind == "sent"


@pytest.mark.anyio
async def test_a_period_of_503s_is_retried_through(fake: FakeDiscord) -> None:
    """While the fake answers 503 sends are retries; afterwards they go through."""
    fake.fail_for(0.2, status=503)
    async with DiscordClient() as client:
        failed = await client.send(fake.url(HOOK), {"content": "x"})
        await asyncio.sleep(0.25)
        sent = await client.send(fake.url(HOOK), {"content": "x"})
    assert (failed.kind, failed.status, sent.kind) == ("retry", 503, "sent")


@pytest.mark.anyio
async def test_an_html_429_is_rate_limited_with_a_default_wait(fake: FakeDiscord) -> None:
    """A 429 page without JSON or Retry-After is still a rate limit, waited out for 1 s."""
    fake.html_error_next(1, status=429)
    async with DiscordClient() as client:
        result = await client.send(fake.url(HOOK), {"content": "x"})
    assert (result.kind, result.status, result.retry_after) == ("rate_limited", 429, 1.0)
    assert not result.is_global and client.stats()["invalid_requests_in_window"] == 1


@pytest.mark.anyio
async def test_the_fake_answers_204_without_wait(fake: FakeDiscord) -> None:
    """Without wait=true the fake answers 204 with no body and still keeps the message."""
    async with httpx.AsyncClient() as http:
        response = await http.post(fake.url(HOOK), json={"content": "no wait"})
    assert response.status_code == 204 and response.content == b""
    assert response.headers["x-ratelimit-limit"] == "5"
    assert [m["content"] for m in fake.messages(HOOK)] == ["no wait"]


@pytest.mark.anyio
async def test_a_403_page_from_a_proxy_is_a_retry(fake: FakeDiscord) -> None:
    """A 403 that is not Discord's JSON does not disable the webhook but counts as invalid."""
    fake.html_error_next(1, status=403)
    async with DiscordClient() as client:
        result = await client.send(fake.url(HOOK), {"content": "x"})
    assert (result.kind, result.status, result.disable_webhook) == ("retry", 403, False)
    assert client.stats()["invalid_requests_in_window"] == 1


@pytest.mark.anyio
async def test_a_wait_past_max_wait_is_returned_not_slept(fake: FakeDiscord) -> None:
    """A pause longer than max_wait comes back as rate_limited at once, without a request."""
    fake.trigger_global_rate_limit(30)
    async with DiscordClient(max_wait=1) as client:
        first = await client.send(fake.url(HOOK), {"content": "x"})
        held = await client.send(fake.url(OTHER), {"content": "y"})
    assert first.kind == "rate_limited" and first.status == 429
    assert held.kind == "rate_limited" and held.status is None and held.is_global
    assert held.retry_after is not None and 25 < held.retry_after <= 30
    assert len(fake.requests) == 1
    assert client.stats()["held"] == 1


@pytest.mark.anyio
async def test_a_slow_answer_is_a_retry(fake: FakeDiscord) -> None:
    """An answer slower than the client's timeout gives a retry result."""
    fake.delay = 1.0
    async with DiscordClient(timeout=0.2) as client:
        result = await client.send(fake.url(HOOK), {"content": "slow"})
    assert result.kind == "retry" and "timed out" in result.error


@pytest.mark.anyio
async def test_an_unreachable_host_is_a_retry() -> None:
    """A refused connection gives a retry result naming the network error."""
    url = f"http://127.0.0.1:{closed_port()}/api/webhooks/{HOOK}/{TOKEN}"
    async with DiscordClient(timeout=2) as client:
        result = await client.send(url, {"content": "x"})
    assert result.kind == "retry" and result.error.startswith("network error")
    assert TOKEN not in result.error


@pytest.mark.anyio
async def test_a_url_that_is_not_a_webhook_is_fatal() -> None:
    """A URL without /webhooks/{id}/{token} is refused without a request."""
    async with DiscordClient() as client:
        result = await client.send(f"https://example.com/hooks/{TOKEN}", {"content": "x"})
    assert result.kind == "fatal" and result.disable_webhook
    assert TOKEN not in result.error


@pytest.mark.anyio
async def test_the_token_never_reaches_errors_or_logs(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """Across every outcome, no result error and no log record holds the webhook token."""
    caplog.set_level(logging.DEBUG)
    results = []
    async with DiscordClient(timeout=0.3) as client:
        results.append(await client.send(fake.url(HOOK), {"content": "ok"}))
        results.append(await client.send(fake.url("42", TOKEN), {"content": "x"}))
        results.append(await client.send(fake.url(OTHER, TOKEN), {"content": "x"}))
        results.append(await client.send(fake.url(HOOK), {"content": "x" * 2001}))
        fake.fail_next(1)
        results.append(await client.send(fake.url(HOOK), {"content": "x"}))
        fake.html_error_next(1)
        results.append(await client.send(fake.url(HOOK), {"content": "x"}))
        fake.delay = 0.6
        results.append(await client.send(fake.url(HOOK), {"content": "x"}))
        fake.delay = 0
        url = f"http://127.0.0.1:{closed_port()}/api/webhooks/{HOOK}/{TOKEN}"
        results.append(await client.send(url, {"content": "x"}))
    assert [r.kind for r in results] == [
        "sent",
        "fatal",
        "fatal",
        "fatal",
        "retry",
        "retry",
        "retry",
        "retry",
    ]
    assert all(r.error and TOKEN not in r.error for r in results[1:])
    assert any("/webhooks/" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage(), record.name
    assert TOKEN not in caplog.text


@pytest.mark.anyio
async def test_invalid_request_budget_pauses_all_sends(fake: FakeDiscord) -> None:
    """At half of invalid_limit invalid answers the client holds every send, sending nothing."""
    async with DiscordClient(invalid_limit=10, invalid_pause_fraction=0.5) as client:
        for _ in range(4):
            result = await client.send(fake.url(HOOK, "wrong"), {"content": "x"})
            assert result.kind == "fatal" and not client.paused()
        await client.send(fake.url(HOOK, "wrong"), {"content": "x"})
        assert client.paused()
        requests_so_far = len(fake.requests)
        held = await client.send(fake.url(OTHER), {"content": "valid, but held"})
        stats = client.stats()
    assert held.kind == "rate_limited" and held.is_global and held.status is None
    assert held.retry_after is not None and 590 < held.retry_after <= 600
    assert len(fake.requests) == requests_so_far
    assert stats["invalid_requests_in_window"] == 5 and stats["held"] == 1
    assert stats["paused_until"] is not None and stats["fatal"] == 5


@pytest.mark.anyio
async def test_the_invalid_request_window_slides(fake: FakeDiscord) -> None:
    """Once the oldest invalid answers leave the window, sending resumes."""
    now = [1000.0]
    async with DiscordClient(invalid_limit=4, invalid_window=60, clock=lambda: now[0]) as client:
        for _ in range(2):
            await client.send(fake.url(HOOK, "wrong"), {"content": "x"})
            now[0] += 10
        assert client.paused()
        now[0] += 41  # the first invalid answer is 61 s old
        assert not client.paused()
        result = await client.send(fake.url(OTHER), {"content": "resumed"})
    assert result.kind == "sent"
    assert client.stats()["invalid_requests_in_window"] == 1


@pytest.mark.anyio
async def test_a_caller_http_client_is_left_open() -> None:
    """An httpx client passed in is the caller's to close; the client's own one is closed."""
    async with httpx.AsyncClient() as http:
        async with DiscordClient(http) as client:
            pass
        assert not http.is_closed
    client = DiscordClient()
    await client.aclose()
    assert client._http.is_closed
