"""A fake OpenAI-compatible chat server: real HTTP on loopback, answering as the API documents.

``FakeLLM`` serves ``POST /v1/chat/completions`` with Starlette under uvicorn in a thread. The
request must carry ``model`` and a non-empty ``messages`` list of ``{role, content}`` (else 400
with OpenAI's error object ``{"error": {"message", "type", "param", "code"}}``); a wrong bearer
key is 401 ``invalid_api_key``. A reply is a ``chat.completion`` object: ``id``, ``object``,
``created``, ``model``, ``choices[0].message {role: assistant, content}`` with
``finish_reason`` (``length`` when ``max_tokens`` cut it), and ``usage`` (``prompt_tokens``,
``completion_tokens``, ``total_tokens``; counted here as whitespace-separated words). Switches:
``reply`` (the text, or a function of the request body), ``delay`` (seconds before answering),
``fail_status`` (answer 5xx/429 with the error object; 429 carries ``retry-after``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Reply = str | Callable[[dict[str, Any]], str]


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    headers = {"retry-after": "1"} if status == 429 else None
    return JSONResponse(body, status_code=status, headers=headers)


class FakeLLM:
    """An OpenAI-compatible ``/v1/chat/completions`` on a free loopback port."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.reply: Reply = "HEADLINE: ok\nSUMMARY: ok"
        self.delay = 0.0
        self.fail_status: int | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._release: asyncio.Event | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _complete(self, request: Request) -> JSONResponse:
        if self.api_key is not None and (
            request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        try:
            body = await request.json()
        except ValueError:
            return _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error(400, "you must provide a model parameter", "invalid_request_error")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages)
        ):
            return _error(
                400,
                "'messages' must be a non-empty array of {role, content}",
                "invalid_request_error",
            )
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body, messages)
        finally:
            self.in_flight -= 1

    async def _answer(self, body: dict[str, Any], messages: list[Any]) -> JSONResponse:
        if self.delay:
            assert self._release is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.delay)
        if self.fail_status is not None:
            if self.fail_status == 429:
                return _error(
                    429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"
                )
            return _error(
                self.fail_status,
                "The server had an error while processing your request.",
                "server_error",
            )
        text = self.reply(body) if callable(self.reply) else self.reply
        words = text.split()
        limit = body.get("max_tokens")
        finish = "stop"
        if isinstance(limit, int) and len(words) > limit:
            words, finish = words[:limit], "length"
            text = " ".join(words)
        prompt = sum(len(str(m["content"]).split()) for m in messages)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(words),
                    "total_tokens": prompt + len(words),
                },
            }
        )

    def start(self) -> FakeLLM:
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
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._release = asyncio.Event()
            self._loop = loop
            ready.set()
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name=f"fake-llm-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake LLM did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None and self._thread.is_alive():
            if self._release is not None:
                self._loop.call_soon_threadsafe(self._release.set)  # let slow replies finish
            self._server.should_exit = True
            self._thread.join(15)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
