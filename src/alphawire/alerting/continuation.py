"""An embed too big for one Discord message, spread over continuation messages.

Discord takes at most 25 fields, a 4,096-character description, 1,024-character field values
and 6,000 characters per message's embeds. An alert's embed over any of these is not cut:
``split_embed`` spreads it over several embeds, one per message, in reading order, and
``build_payloads`` marks the messages ``(1/3)``, ``(2/3)``, ... The first embed has the
author, title, link and thumbnail; the last the footer, image and timestamp; all have the
colour. A description over 4,096 characters goes on in the next embed's description (split
after a newline or space where it can), a field value over 1,024 characters goes on in a field
named ``NAME (cont.)``, and a title over 256 characters goes on at the start of the description.

Bounded: at most ``MAX_EMBED_MESSAGES`` (20) messages per embed (about 100,000 characters);
past that, the last one says how many fields and characters were left out. The only texts
still shortened (with ``… [truncated]``) are labels: field names over 256 characters, author
names over 256 and footers over 2,048.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alphawire.alerting.payloads import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    TITLE_LIMIT,
    TRUNCATED,
    _author,
    _clip,
    _color,
    _field_texts,
    _footer,
    _media,
    _split_point,
    _text,
    _timestamp,
    _url,
    embed_size,
)

MAX_EMBED_MESSAGES = 20
CONTINUED = " (cont.)"
_VISIBLE = ("author", "title", "description", "fields", "footer", "image", "thumbnail")


def split_embed(embed: Any, max_embeds: int = MAX_EMBED_MESSAGES) -> list[dict[str, Any]]:
    """``embed`` repaired and spread over embeds that each fit one message; [] when empty."""
    if not isinstance(embed, Mapping):
        return []
    head: dict[str, Any] = {}
    if (author := _author(embed.get("author"))) is not None:
        head["author"] = author
    description = _text(embed.get("description")) or ""
    if (title := _text(embed.get("title"))) is not None:
        if len(title) > TITLE_LIMIT:
            description = (
                "…" + title[TITLE_LIMIT - 1 :] + ("\n\n" + description if description else "")
            )
            title = title[: TITLE_LIMIT - 1] + "…"
        head["title"] = title
    if (link := _url(embed.get("url"))) is not None:
        head["url"] = link
    if (media := _media(embed.get("thumbnail"))) is not None:
        head["thumbnail"] = media
    tail: dict[str, Any] = {}
    if (footer := _footer(embed.get("footer"))) is not None:
        tail["footer"] = footer
    if (media := _media(embed.get("image"))) is not None:
        tail["image"] = media
    if (moment := _timestamp(embed.get("timestamp"))) is not None:
        tail["timestamp"] = moment

    embeds: list[dict[str, Any]] = []
    current = dict(head)
    for index, chunk in enumerate(_pieces(description, DESCRIPTION_LIMIT)):
        if index:
            embeds.append(current)
            current = {}
        current["description"] = chunk
    for field in _fields(embed.get("fields")):
        held = current.get("fields", [])
        size = len(field["name"]) + len(field["value"])
        if len(held) == FIELDS_LIMIT or embed_size(current) + size > EMBED_TOTAL_LIMIT:
            embeds.append(current)
            current = {}
        current.setdefault("fields", []).append(field)
    footer_size = len(tail.get("footer", {}).get("text", ""))
    if embed_size(current) + footer_size > EMBED_TOTAL_LIMIT:
        embeds.append(current)
        current = {}
    current.update(tail)
    embeds.append(current)
    embeds = [e for e in embeds if any(key in e for key in _VISIBLE)]
    color = _color(embed.get("color"))
    if color is not None:
        for part in embeds:
            part["color"] = color
    return _bounded(embeds, max_embeds)


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, split where a reader would."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = _split_point(text, start, limit)
        pieces.append(text[start:end])
        start = end
    return pieces


def _fields(value: Any) -> list[dict[str, Any]]:
    """The fields repaired, a value over the limit going on in ``NAME (cont.)`` fields."""
    fields: list[dict[str, Any]] = []
    for name, text, inline in _field_texts(value):
        for index, piece in enumerate(_pieces(text, FIELD_VALUE_LIMIT)):
            label = name if not index else _clip(name, FIELD_NAME_LIMIT - len(CONTINUED))
            field: dict[str, Any] = {"name": label + (CONTINUED if index else ""), "value": piece}
            if inline is not None:
                field["inline"] = inline
            fields.append(field)
    return fields


def _bounded(embeds: list[dict[str, Any]], max_embeds: int) -> list[dict[str, Any]]:
    if len(embeds) <= max_embeds:
        return embeds
    kept, rest = embeds[: max_embeds - 1], embeds[max_embeds - 1 :]
    fields = sum(len(e.get("fields", ())) for e in rest)
    chars = sum(embed_size(e) for e in rest)
    note = {
        "description": f"{TRUNCATED}: {fields} more fields and {chars} more characters not "
        f"shown (an alert's embed is sent in at most {max_embeds} messages)"
    }
    if "color" in embeds[0]:
        note["color"] = embeds[0]["color"]
    return [*kept, note]
