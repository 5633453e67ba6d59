"""A fake Discord for webhook tests: real HTTP on loopback, behaving as Discord documents.

``FakeDiscord`` serves ``POST /api[/v{n}]/webhooks/{id}/{token}`` with Starlette under uvicorn
in a thread. Bodies are validated against the execute-webhook request schema of Discord's
OpenAPI spec (``../shared/discord/openapi.json``, or its execute-webhook part kept in
``tests/data/discord``; every ``$ref`` resolved through a
``referencing.Registry``) plus the documented rules a schema cannot state
(``payload_problems``). Rate limits are per webhook: ``rate_limit`` requests per
``rate_period`` seconds, announced in ``X-RateLimit-*`` headers. Switches inject global 429s,
shared-scope 429s, 5xx answers, HTML error pages and slow answers.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import math
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

# Discord's spec: ALPHAWIRE_DISCORD_SPEC when set, else the full spec beside the repository
# (../shared/discord) when there is one, else its execute-webhook part kept in the repository
# (tests/data/discord, see its SOURCE.md), so that a clone runs these tests as they are.
_FULL_SPEC = Path(__file__).resolve().parents[2] / "shared" / "discord" / "openapi.json"
_KEPT_SPEC = Path(__file__).resolve().parent / "data" / "discord" / "openapi-execute-webhook.json"
SPEC_PATH = Path(
    os.environ.get("ALPHAWIRE_DISCORD_SPEC", _FULL_SPEC if _FULL_SPEC.is_file() else _KEPT_SPEC)
)
SPEC_URI = "urn:discord-openapi"
REQUEST_SCHEMA_POINTER = (
    "#/paths/~1webhooks~1%7Bwebhook_id%7D~1%7Bwebhook_token%7D/post"
    "/requestBody/content/application~1json/schema/anyOf/0"
)
DISCORD_EPOCH_MS = 1_420_070_400_000
BUCKET = "f4c3d15c0rdb4ck3t"  # Discord's bucket hashes leave out the webhook id

_SNOWFLAKE = re.compile(r"(0|[1-9][0-9]{0,19})")
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
)
_BAD_GATEWAY = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>cloudflare</center><!-- {path} --></body></html>"
)


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if parts.scheme == "attachment":
        return bool(parts.netloc or parts.path)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


def _snowflake(value: object) -> bool:
    return not isinstance(value, str) or bool(_SNOWFLAKE.fullmatch(value) and int(value) < 2**64)


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("uri")(_uri)
    checker.checks("date-time")(_date_time)
    checker.checks("snowflake")(_snowflake)
    return checker


def request_validator() -> Draft202012Validator:
    """A validator of execute-webhook JSON bodies: the spec's own schema, formats checked.

    The operation's body is ``anyOf[IncomingWebhookRequestPartial,
    IncomingWebhookUpdateRequestPartial]``, tagged "exactly one". Both are open objects and
    the first holds every key of the second with the same constraints, plus ``username``,
    ``avatar_url``, ``tts``, ``thread_name`` and ``applied_tags``: under a plain ``anyOf`` the
    second would accept any value for those (an 81-character username passes), and under
    ``oneOf`` no body without them could pass. The first member is the documented
    execute-webhook body, so that is the schema checked.
    """
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(
            f"Discord's OpenAPI spec is not at {SPEC_PATH}; set ALPHAWIRE_DISCORD_SPEC to its path"
        )
    spec = json.loads(SPEC_PATH.read_text())
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return Draft202012Validator(
        {"$ref": SPEC_URI + REQUEST_SCHEMA_POINTER},
        registry=registry,
        format_checker=_format_checker(),
    )


@dataclass(frozen=True)
class Problem:
    """One reason Discord refuses a body: where (JSON path), an error code and a message."""

    path: tuple[str | int, ...]
    code: str
    message: str


def _schema_problems(validator: Draft202012Validator, body: Any) -> list[Problem]:
    problems = []
    for error in validator.iter_errors(body):
        best = best_match([error]) or error
        code = f"BASE_TYPE_{str(best.validator).upper()}"
        message = best.message[:200]
        if best.validator in ("maxLength", "maxItems"):
            message = f"Must be {best.validator_value} or fewer in length."
        problems.append(Problem(tuple(best.absolute_path), code, message))
    return problems


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def _rule_problems(body: dict[str, Any]) -> list[Problem]:
    """The documented rules the OpenAPI schema cannot express."""
    problems: list[Problem] = []
    embeds = body.get("embeds") if isinstance(body.get("embeds"), list) else []
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        where: tuple[str | int, ...] = ("embeds", i)
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        for key, required in (("footer", "text"), ("author", "name")):
            part = embed.get(key)
            if isinstance(part, dict):
                if _blank(part.get(required)):
                    problems.append(
                        Problem(
                            (*where, key, required), "BASE_TYPE_REQUIRED", "This field is required"
                        )
                    )
                else:
                    total += len(part[required])
        for key in ("image", "thumbnail"):
            part = embed.get(key)
            if isinstance(part, dict) and _blank(part.get("url")):
                problems.append(
                    Problem((*where, key, "url"), "BASE_TYPE_REQUIRED", "This field is required")
                )
        fields = embed.get("fields") if isinstance(embed.get("fields"), list) else []
        for j, item in enumerate(fields):
            if not isinstance(item, dict):
                continue
            for key in ("name", "value"):
                if isinstance(item.get(key), str):
                    total += len(item[key])
                    if not item[key].strip():
                        problems.append(
                            Problem(
                                (*where, "fields", j, key),
                                "BASE_TYPE_REQUIRED",
                                "This field is required",
                            )
                        )
    if total > 6000:
        problems.append(
            Problem(
                ("embeds",),
                "BASE_TYPE_MAX_LENGTH",
                f"Embed size exceeds maximum size of 6000 ({total})",
            )
        )
    username = body.get("username")
    if isinstance(username, str):
        folded = username.casefold()
        if not username.strip():
            problems.append(Problem(("username",), "BASE_TYPE_REQUIRED", "This field is required"))
        for word in ("clyde", "discord"):
            if word in folded:
                problems.append(
                    Problem(
                        ("username",),
                        "USERNAME_INVALID_CONTAINS",
                        f'Username cannot contain "{word}"',
                    )
                )
    mentions = body.get("allowed_mentions")
    if isinstance(mentions, dict):
        parse = mentions.get("parse") if isinstance(mentions.get("parse"), list) else []
        for key in ("users", "roles"):
            if key in parse and mentions.get(key):
                problems.append(
                    Problem(
                        ("allowed_mentions", key),
                        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        f'parse:["{key}"] and {key}: [ids] are mutually exclusive.',
                    )
                )
    return problems


def is_empty_message(body: dict[str, Any]) -> bool:
    """Discord's "Cannot send an empty message": no content (after trimming), embeds, etc."""
    if isinstance(body.get("content"), str) and body["content"].strip():
        return False
    return not any(body.get(key) for key in ("embeds", "components", "attachments", "poll"))


@functools.cache
def _validator() -> Draft202012Validator:
    return request_validator()


def payload_problems(body: Any) -> list[Problem]:
    """Every reason Discord would refuse ``body`` as an execute-webhook JSON body."""
    problems = _schema_problems(_validator(), body)
    if isinstance(body, dict):
        problems += _rule_problems(body)
    return problems


def error_tree(problems: list[Problem]) -> dict[str, Any]:
    """Discord's nested ``errors`` object: ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``."""
    tree: dict[str, Any] = {}
    for problem in problems:
        node = tree
        for part in problem.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return tree


class _QuietH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol without the access log.

    uvicorn writes access lines whenever the process-wide ``uvicorn.access`` logger has a
    handler (a hub started in the same test configures one), whatever ``access_log`` says;
    those lines would carry webhook tokens.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False


@dataclass
class RecordedRequest:
    """One request the fake answered."""

    webhook_id: str
    token: str
    status: int
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    response_headers: dict[str, str]
    at: float


@dataclass
class _Webhook:
    token: str
    channel_id: str
    name: str
    window_start: float = -math.inf
    window_count: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)


class FakeDiscord:
    """Discord's execute-webhook endpoint on a free loopback port; use as a context manager."""

    def __init__(self, *, rate_limit: int = 5, rate_period: float = 2.0) -> None:
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._webhooks: dict[str, _Webhook] = {}
        self._ids = itertools.count(1)
        self._global_until = 0.0
        self._shared_429s: list[float] = []
        self._failures: list[int] = []
        self._fail_until = 0.0
        self._fail_status = 503
        self._html_errors: list[int] = []
        self.delay = 0.0
        self._open = threading.Event()  # cleared by hold(): requests wait until release()
        self._open.set()
        self.held = 0  # requests that arrived while held
        self.app = Starlette(
            routes=[
                Route("/api/webhooks/{webhook_id}/{token}", self._execute, methods=["POST"]),
                Route(
                    "/api/v{version:int}/webhooks/{webhook_id}/{token}",
                    self._execute,
                    methods=["POST"],
                ),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeDiscord:
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says
        # TCP, and accepted sockets inherit the listener's. Without it every answer (headers
        # and body written separately) waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http=_QuietH11Protocol,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name=f"fake-discord-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake Discord did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None and self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(15)

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- set-up and switches ---------------------------------------------------------------

    def add_webhook(self, webhook_id: str, token: str, *, name: str = "Captain Hook") -> str:
        """Register a webhook; returns its URL."""
        with self._lock:
            self._webhooks[webhook_id] = _Webhook(
                token, channel_id=str(next(self._ids) + 10**17), name=name
            )
        return self.url(webhook_id)

    def url(self, webhook_id: str, token: str | None = None) -> str:
        """The webhook's full URL on this fake (another ``token`` to test refusals)."""
        if token is None:
            token = self._webhooks[webhook_id].token if webhook_id in self._webhooks else "no-token"
        return f"http://127.0.0.1:{self.port}/api/webhooks/{webhook_id}/{token}"

    def trigger_global_rate_limit(self, seconds: float) -> None:
        """Every request for the next ``seconds`` gets a global 429."""
        with self._lock:
            self._global_until = time.monotonic() + seconds

    def shared_429_next(self, count: int, retry_after: float = 0.2) -> None:
        """The next ``count`` requests get a 429 with ``X-RateLimit-Scope: shared``."""
        with self._lock:
            self._shared_429s += [retry_after] * count

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next ``count`` requests get ``status`` with a JSON error body."""
        with self._lock:
            self._failures += [status] * count

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Every request for the next ``seconds`` gets ``status``."""
        with self._lock:
            self._fail_until = time.monotonic() + seconds
            self._fail_status = status

    def html_error_next(self, count: int, status: int = 502) -> None:
        """The next ``count`` requests get a proxy's HTML error page (not JSON)."""
        with self._lock:
            self._html_errors += [status] * count

    # -- what happened ---------------------------------------------------------------------

    def messages(self, webhook_id: str) -> list[dict[str, Any]]:
        """The messages the webhook accepted, in order."""
        with self._lock:
            return list(self._webhooks[webhook_id].messages)

    def statuses(self, webhook_id: str | None = None) -> list[int]:
        """The status of every answered request (to one webhook), in order."""
        with self._lock:
            return [r.status for r in self.requests if webhook_id in (None, r.webhook_id)]

    # -- the endpoint ----------------------------------------------------------------------

    def hold(self) -> None:
        """Hold every request from now on without answering, until ``release``."""
        self._open.clear()

    def release(self) -> None:
        """Answer the held requests, and the ones after them, again."""
        self._open.set()

    async def _execute(self, request: Request) -> Response:
        if not self._open.is_set():
            with self._lock:
                self.held += 1
            await asyncio.to_thread(self._open.wait)  # set from the test's thread
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        raw = await request.body()
        webhook_id = request.path_params["webhook_id"]
        token = request.path_params["token"]
        with self._lock:
            response = self._answer(request, webhook_id, token, raw)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            self.requests.append(
                RecordedRequest(
                    webhook_id=webhook_id,
                    token=token,
                    status=response.status_code,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    query=dict(request.query_params),
                    body=body,
                    response_headers=dict(response.headers),
                    at=time.monotonic(),
                )
            )
        return response

    def _answer(self, request: Request, webhook_id: str, token: str, raw: bytes) -> Response:
        now = time.monotonic()
        webhook = self._webhooks.get(webhook_id)
        if webhook is None:
            return JSONResponse({"message": "Unknown Webhook", "code": 10015}, status_code=404)
        if token != webhook.token:
            return JSONResponse(
                {"message": "Invalid Webhook Token", "code": 50027}, status_code=401
            )
        if now < self._global_until:
            retry = self._global_until - now
            body = {
                "message": "You are being rate limited.",
                "retry_after": math.ceil(retry * 1000) / 1000,
                "global": True,
            }
            headers = {
                "Retry-After": str(math.ceil(retry)),
                "X-RateLimit-Global": "true",
                "X-RateLimit-Scope": "global",
            }
            return JSONResponse(body, status_code=429, headers=headers)
        if self._shared_429s:
            retry = self._shared_429s.pop(0)
            body = {
                "message": "The resource is being rate limited.",
                "retry_after": retry,
                "global": False,
            }
            headers = {"Retry-After": str(math.ceil(retry)), "X-RateLimit-Scope": "shared"}
            return JSONResponse(body, status_code=429, headers=headers)
        if self._html_errors:
            status = self._html_errors.pop(0)
            return HTMLResponse(_BAD_GATEWAY.format(path=request.url.path), status_code=status)
        if self._failures or now < self._fail_until:
            status = self._failures.pop(0) if self._failures else self._fail_status
            return JSONResponse({"message": "Internal Server Error", "code": 0}, status_code=status)
        limited, headers = self._take(webhook, now)
        if limited is not None:
            body = {
                "message": "You are being rate limited.",
                "retry_after": limited,
                "global": False,
            }
            headers |= {"Retry-After": str(math.ceil(limited)), "X-RateLimit-Scope": "user"}
            return JSONResponse(body, status_code=429, headers=headers)
        try:
            payload = json.loads(raw)
        except ValueError:
            return JSONResponse(
                {"message": "The request body contains invalid JSON.", "code": 50109},
                status_code=400,
                headers=headers,
            )
        problems = payload_problems(payload)
        if problems:
            body = {"code": 50035, "message": "Invalid Form Body", "errors": error_tree(problems)}
            return JSONResponse(body, status_code=400, headers=headers)
        if is_empty_message(payload):
            return JSONResponse(
                {"message": "Cannot send an empty message", "code": 50006},
                status_code=400,
                headers=headers,
            )
        thread_id = request.query_params.get("thread_id")
        if thread_id is not None and not _SNOWFLAKE.fullmatch(thread_id):
            error = {
                "thread_id": {
                    "_errors": [
                        {"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}
                    ]
                }
            }
            return JSONResponse(
                {"code": 50035, "message": "Invalid Form Body", "errors": error},
                status_code=400,
                headers=headers,
            )
        message = self._message(webhook_id, webhook, payload, thread_id)
        webhook.messages.append(message)
        if request.query_params.get("wait", "").lower() in ("true", "1"):
            return JSONResponse(message, status_code=200, headers=headers)
        return Response(status_code=204, headers=headers)

    def _take(self, webhook: _Webhook, now: float) -> tuple[float | None, dict[str, str]]:
        """Count a request against the webhook's fixed window: (retry_after or None, headers)."""
        if now >= webhook.window_start + self.rate_period:
            webhook.window_start, webhook.window_count = now, 0
        reset_after = webhook.window_start + self.rate_period - now
        # Rounded up: a client waiting exactly this long must find the window reset.
        reset_after = math.ceil(reset_after * 1000) / 1000
        limited = webhook.window_count >= self.rate_limit
        if not limited:
            webhook.window_count += 1
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.rate_limit - webhook.window_count),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": BUCKET,
        }
        return (reset_after if limited else None), headers

    def _message(
        self, webhook_id: str, webhook: _Webhook, payload: dict[str, Any], thread_id: str | None
    ) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        snowflake = str(((now_ms - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF))
        embeds = [{**embed, "type": "rich"} for embed in payload.get("embeds") or []]
        return {
            "id": snowflake,
            "type": 0,
            "content": payload.get("content") or "",
            "channel_id": thread_id or webhook.channel_id,
            "author": {
                "id": webhook_id,
                "username": payload.get("username") or webhook.name,
                "avatar": None,
                "discriminator": "0000",
                "bot": True,
            },
            "attachments": [],
            "embeds": embeds,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(payload.get("tts")),
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
            "webhook_id": webhook_id,
        }


def main() -> None:
    """Serve a fake Discord in its own process until stdin closes (for ``bench.alerts``).

    ``python -m tests.fake_discord [--webhooks N] [--rate-limit R]`` prints one webhook URL
    per line, then serves; its own CPU stays out of the measuring process.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--rate-limit", type=int, default=5)
    parser.add_argument("--rate-period", type=float, default=2.0)
    args = parser.parse_args()
    with FakeDiscord(rate_limit=args.rate_limit, rate_period=args.rate_period) as fake:
        for i in range(args.webhooks):
            print(fake.add_webhook(str(10**17 + i), f"token{i}"), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
