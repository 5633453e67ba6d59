"""Execute-webhook payloads repaired to Discord's documented limits.

``build_payloads`` turns alert text and an embed into bodies Discord accepts: deterministic
(the same alert always gives the same parts, which a resumed delivery relies on) and never
empty. Sources: Discord's developer documentation (Execute Webhook, Embed Limits, Usernames
and Nicknames) and its OpenAPI spec; the documentation wins where they differ. Lengths are
counted in code points, as Discord counts them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

# Discord's documented limits (characters are code points).
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_LIMIT = 10  # embeds in one message
USERNAME_LIMIT = 80
URL_LIMIT = 2048
COLOR_MAX = 0xFFFFFF
MENTION_IDS_LIMIT = 100

DEFAULT_USERNAME = "alphawire"
DEFAULT_MAX_PARTS = 20
TRUNCATED = "… [truncated]"
EMPTY_CONTENT = "(empty alert)"
BLANK = "\u200b"  # what Discord shows as an empty field name or value
MENTION_TYPES = ("roles", "users", "everyone")
FORBIDDEN_IN_USERNAME = ("discord", "clyde")
RESERVED_USERNAMES = ("everyone", "here", "system message")


_SNOWFLAKE = re.compile(r"(0|[1-9][0-9]{0,19})")
_DROPPED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


# -- payload repair -------------------------------------------------------------------------


def build_payloads(
    content: str,
    embed: Mapping[str, Any] | None = None,
    *,
    username: str | None = None,
    avatar_url: str | None = None,
    allowed_mentions: Mapping[str, Any] | None = None,
    max_parts: int = DEFAULT_MAX_PARTS,
) -> list[dict[str, Any]]:
    """Execute-webhook bodies for one alert, repaired to Discord's limits; send them in order.

    The result is deterministic (same input, same output) and never empty. The rules:

    - Content over 2000 characters is split into continuation messages, each ending in
      ``"\\n(i/n)"``; splits fall after the last newline, else the last space, in the second
      half of a part, else at the limit (never before a combining mark). Past ``max_parts``
      messages the last part ends with ``"… [truncated N more characters]"``.
    - Content that is empty, only whitespace or not a string is left out; with no embed
      either, the content is ``"(empty alert)"``.
    - The embed goes on the last message. Only keys Discord lets webhooks set are kept:
      ``title``, ``description``, ``url``, ``timestamp``, ``color``, ``footer`` (``text``,
      ``icon_url``), ``image`` and ``thumbnail`` (``url``), ``author`` (``name``, ``url``,
      ``icon_url``) and ``fields`` (``name``, ``value``, ``inline``); the rest is dropped
      (``type``, ``provider`` and ``video`` included, which Discord ignores for webhooks).
    - Texts must be strings (numbers are written out; lone surrogates, which JSON cannot
      carry, become U+FFFD here and in the content); blank ones are dropped, except field
      names and values, which become a zero-width space. A footer without text, an author
      without a name and an image or thumbnail without a URL are dropped. URLs must be
      http(s) with a host, at most 2048 characters. ``timestamp`` must be ISO 8601 (or a
      datetime) and is sent in UTC. ``color`` must be an integer 0..0xFFFFFF or a
      ``"#RRGGBB"``/``"0xRRGGBB"`` string; anything else is dropped. An embed left with
      nothing to show is dropped.
    - Texts over their limit (title and author name 256, description 4096, field name 256,
      field value 1024, footer 2048) are cut and end in ``"… [truncated]"``. Over 25 fields,
      the first 24 are kept and the 25th says how many were left out.
    - Over 6000 characters in all (title, description, field names and values, footer text,
      author name), the embed is cut in reading order (author name, title, description,
      fields, footer): the text where the limit falls ends in ``"… [truncated]"`` and
      everything after it is dropped.
    - ``username`` loses control, zero-width and other non-rendering characters, has
      whitespace runs collapsed and is cut to 80 characters; if it is then empty, contains
      "discord" or "clyde" (any case, after NFKC), or is "everyone", "here" or "system
      message", it becomes ``"alphawire"``. An invalid ``avatar_url`` is dropped.
    - ``allowed_mentions`` defaults to ``{"parse": []}`` (alert text pings nobody). A given
      one keeps only ``parse`` types roles/users/everyone, up to 100 snowflake ``users`` and
      ``roles`` and a boolean ``replied_user``; a type listed both in ``parse`` and by IDs
      (which Discord rejects) keeps the narrower ID list.
    """
    from alphawire.alerting.continuation import split_embed  # it builds on this module

    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    text = _valid_unicode(content) if isinstance(content, str) else ""
    embeds = split_embed(embed) if embed is not None else []
    # The first embed rides on the last content message; each further one is a message.
    extra = max(0, len(embeds) - 1)
    if not text.strip():
        parts = [] if embeds else [EMPTY_CONTENT]
        if extra:
            parts = [_part_marker(i, len(embeds)).lstrip() for i in range(1, len(embeds) + 1)]
    else:
        parts = _split_content(text, max_parts, extra)
    common: dict[str, Any] = {}
    name = repair_username(username)
    if name is not None:
        common["username"] = name
    avatar = _url(avatar_url)
    if avatar is not None:
        common["avatar_url"] = avatar
    common["allowed_mentions"] = repair_allowed_mentions(allowed_mentions)
    if not text.strip() and extra:
        payloads = [{"content": part, **common} for part in parts]
        for payload, part in zip(payloads, embeds, strict=True):
            payload["embeds"] = [part]
        return payloads
    payloads = [{"content": part, **common} for part in parts] or [dict(common)]
    if embeds:
        payloads[-1]["embeds"] = [embeds[0]]
        count = len(payloads) + extra
        for index, part in enumerate(embeds[1:], len(payloads) + 1):
            marker = _part_marker(index, count).lstrip()
            payloads.append({"content": marker, **common, "embeds": [part]})
    return payloads


def merge_payloads(payloads: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], int]:
    """One message for the leading ``payloads`` (each one alert's whole message): how many.

    Greedy and in order, never reordering: contents are joined by newlines up to 2000
    characters, embeds listed up to 10 and 6000 characters in all; the first payload that
    would break a limit, and everything after it, is left out. The first is always taken.
    Other keys (``username``, ``avatar_url``, ``allowed_mentions``) are the first one's:
    payloads of one route share them.
    """
    merged = dict(payloads[0])
    texts = [merged["content"]] if merged.get("content") else []
    embeds = list(merged.get("embeds") or [])
    length = sum(map(len, texts)) + max(0, len(texts) - 1)
    size = sum(embed_size(e) for e in embeds)
    taken = 1
    for payload in payloads[1:]:
        text = payload.get("content") or ""
        more = list(payload.get("embeds") or [])
        grown = length + len(text) + (1 if texts and text else 0)
        grown_size = size + sum(embed_size(e) for e in more)
        if (
            grown > CONTENT_LIMIT
            or len(embeds) + len(more) > EMBEDS_LIMIT
            or grown_size > EMBED_TOTAL_LIMIT
        ):
            break
        if text:
            texts.append(text)
        embeds += more
        length, size, taken = grown, grown_size, taken + 1
    merged.pop("content", None)
    merged.pop("embeds", None)
    if texts:
        merged["content"] = "\n".join(texts)
    if embeds:
        merged["embeds"] = embeds
    return merged, taken


def _part_marker(index: int, count: int) -> str:
    return f"\n({index}/{count})"


def _split_content(text: str, max_parts: int, extra: int = 0) -> list[str]:
    """Content parts, each marked ``(i/n)`` when the alert takes several messages; ``extra``
    messages (continuation embeds) follow them and count in ``n``."""
    if len(text) <= CONTENT_LIMIT and not extra:
        return [text]
    digits = 1
    while True:
        widest = 10**digits - 1
        chunks = _chunks(text, CONTENT_LIMIT - len(_part_marker(widest, widest)), max_parts)
        if len(str(len(chunks) + extra)) <= digits:
            break
        digits = len(str(len(chunks) + extra))
    count = len(chunks) + extra
    return [chunk + _part_marker(i, count) for i, chunk in enumerate(chunks, 1)]


def _chunks(text: str, room: int, max_parts: int) -> list[str]:
    chunks: list[str] = []
    start = 0
    while start < len(text):
        if len(chunks) == max_parts - 1 and len(text) - start > room:
            # The last part allowed: keep what fits and say how much is left out.
            keep = room - len(_content_truncation(len(text)))
            chunks.append(
                text[start : start + keep] + _content_truncation(len(text) - start - keep)
            )
            break
        end = _split_point(text, start, room)
        chunks.append(text[start:end])
        start = end
    return chunks


def _content_truncation(omitted: int) -> str:
    return f"… [truncated {omitted} more characters]"


def _split_point(text: str, start: int, room: int) -> int:
    end = start + room
    if end >= len(text):
        return len(text)
    window = text[start:end]
    for separator in ("\n", " "):
        at = window.rfind(separator)
        if at >= room // 2:
            return start + at + 1
    # A hard cut: do not strand a combining mark or joiner at the start of the next part.
    cut = end
    while cut > start + room // 2 and _joins_previous(text[cut]):
        cut -= 1
    return cut


def _joins_previous(char: str) -> bool:
    return bool(unicodedata.combining(char)) or char in "\u200d\ufe0e\ufe0f"


def _valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (which JSON cannot carry as UTF-8) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return _valid_unicode(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    """``text`` shortened to end in the truncation marker, ``limit`` characters at most."""
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def _url(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > URL_LIMIT:
        return None
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def _timestamp(value: Any) -> str | None:
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value)
        else:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def _color(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip().lower().removeprefix("#").removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{6}", digits):
            return None
        value = int(digits, 16)
    if isinstance(value, int) and 0 <= value <= COLOR_MAX:
        return value
    return None


def _media(value: Any) -> dict[str, str] | None:
    url = _url(value.get("url")) if isinstance(value, Mapping) else None
    return {"url": url} if url is not None else None


def repair_embed(embed: Mapping[str, Any]) -> dict[str, Any] | None:
    """One embed repaired to the rules of ``build_payloads``; None when nothing is left."""
    if not isinstance(embed, Mapping):
        return None
    out: dict[str, Any] = {}
    if (author := _author(embed.get("author"))) is not None:
        out["author"] = author
    for key, limit in (("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT)):
        if (text := _text(embed.get(key))) is not None:
            out[key] = _clip(text, limit)
    if (link := _url(embed.get("url"))) is not None:
        out["url"] = link
    fields = _fields(embed.get("fields"))
    if fields:
        out["fields"] = fields
    if (footer := _footer(embed.get("footer"))) is not None:
        out["footer"] = footer
    for key in ("image", "thumbnail"):
        if (media := _media(embed.get(key))) is not None:
            out[key] = media
    if (moment := _timestamp(embed.get("timestamp"))) is not None:
        out["timestamp"] = moment
    if (color := _color(embed.get("color"))) is not None:
        out["color"] = color
    visible = ("author", "title", "description", "fields", "footer", "image", "thumbnail")
    if not any(key in out for key in visible):
        return None
    _fit_total(out)
    return out


def _author(value: Any) -> dict[str, str] | None:
    """An embed's author: its name (cut to the limit) and valid links; None without a name."""
    if not isinstance(value, Mapping) or (name := _text(value.get("name"))) is None:
        return None
    author = {"name": _clip(name, AUTHOR_LIMIT)}
    for key in ("url", "icon_url"):
        if (link := _url(value.get(key))) is not None:
            author[key] = link
    return author


def _footer(value: Any) -> dict[str, str] | None:
    """An embed's footer: its text (cut to the limit) and a valid icon; None without text."""
    if not isinstance(value, Mapping) or (text := _text(value.get("text"))) is None:
        return None
    footer = {"text": _clip(text, FOOTER_LIMIT)}
    if (link := _url(value.get("icon_url"))) is not None:
        footer["icon_url"] = link
    return footer


def _field_texts(value: Any) -> list[tuple[str, str, bool | None]]:
    """Each field with a name or a value: its name (cut to the limit), its whole value (a
    blank one is a zero-width space) and its ``inline`` flag (None unless a bool)."""
    if not isinstance(value, list | tuple):
        return []
    out: list[tuple[str, str, bool | None]] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        name, text = _text(item.get("name")), _text(item.get("value"))
        if name is None and text is None:
            continue
        inline = item.get("inline")
        out.append(
            (
                _clip(name or BLANK, FIELD_NAME_LIMIT),
                text or BLANK,
                inline if isinstance(inline, bool) else None,
            )
        )
    return out


def _fields(value: Any) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for name, text, inline in _field_texts(value):
        field: dict[str, Any] = {"name": name, "value": _clip(text, FIELD_VALUE_LIMIT)}
        if inline is not None:
            field["inline"] = inline
        fields.append(field)
    if len(fields) > FIELDS_LIMIT:
        left_out = len(fields) - (FIELDS_LIMIT - 1)
        fields = fields[: FIELDS_LIMIT - 1]
        fields.append({"name": TRUNCATED, "value": f"{left_out} more fields not shown"})
    return fields


def embed_size(embed: Mapping[str, Any]) -> int:
    """The characters Discord counts towards the 6000 limit in one embed."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    for field in embed.get("fields") or ():
        size += len(field.get("name") or "") + len(field.get("value") or "")
    return size


def _fit_total(embed: dict[str, Any]) -> None:
    if embed_size(embed) <= EMBED_TOTAL_LIMIT:
        return
    # Author name, title and description fit within their own limits (4608 at most), so the
    # cut falls in the fields or the footer. A cut text keeps one character and the marker.
    reserve = len(TRUNCATED) + 1
    used = embed_size(
        {key: embed[key] for key in ("author", "title", "description") if key in embed}
    )
    fields: list[dict[str, Any]] = embed.get("fields", [])
    for index, field in enumerate(fields):
        size = len(field["name"]) + len(field["value"])
        if used + size > EMBED_TOTAL_LIMIT - reserve:
            room = EMBED_TOTAL_LIMIT - used
            if room - len(field["name"]) >= reserve:
                field["value"] = _cut(
                    field["value"], min(FIELD_VALUE_LIMIT, room - len(field["name"]))
                )
            else:
                field["name"] = _cut(field["name"], min(FIELD_NAME_LIMIT, room - 1))
                field["value"] = "…"
            del fields[index + 1 :]
            embed.pop("footer", None)
            return
        used += size
    footer = embed["footer"]  # the only text left: the total was over the limit
    footer["text"] = _cut(footer["text"], min(FOOTER_LIMIT, EMBED_TOTAL_LIMIT - used))


def repair_username(username: str | None) -> str | None:
    """A webhook username Discord accepts (see ``build_payloads``); None keeps the default."""
    if username is None:
        return None
    kept = "".join(
        ch for ch in str(username) if unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    name = " ".join(kept.split())[:USERNAME_LIMIT].rstrip()
    folded = unicodedata.normalize("NFKC", name).casefold()
    if not name or folded in RESERVED_USERNAMES:
        return DEFAULT_USERNAME
    if any(word in folded for word in FORBIDDEN_IN_USERNAME):
        return DEFAULT_USERNAME
    return name


def repair_allowed_mentions(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """An allowed-mentions object Discord accepts; none given means no pings at all."""
    if not isinstance(value, Mapping):
        return {"parse": []}
    parse: list[str] = []
    if isinstance(value.get("parse"), list | tuple):
        for kind in value["parse"]:
            if kind in MENTION_TYPES and kind not in parse:
                parse.append(kind)
    out: dict[str, Any] = {"parse": parse}
    for key in ("users", "roles"):
        ids = _snowflakes(value.get(key))
        if ids:
            out[key] = ids
            if key in parse:
                parse.remove(key)
    if isinstance(value.get("replied_user"), bool):
        out["replied_user"] = value["replied_user"]
    return out


def _snowflakes(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    ids: list[str] = []
    for item in value:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if isinstance(text, str) and is_snowflake(text) and text not in ids:
            ids.append(text)
    return ids[:MENTION_IDS_LIMIT]


def is_snowflake(text: str) -> bool:
    return bool(_SNOWFLAKE.fullmatch(text)) and int(text) < 2**64
