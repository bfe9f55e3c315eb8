"""A scripted OpenAI-compatible chat-completions server for tests (yours too).

    async with ScriptedLLM(replies=["Refunds take 5 business days [1]."]) as llm:
        config = LLMConfig(base_url=llm.base_url, model="test")
        ...
        assert llm.requests[0]["messages"][-1]["content"].endswith("How long do refunds take?")

Each ``POST /v1/chat/completions`` (non-streaming) takes the next scripted reply: a string, a callable
``(request_json) -> str``, or an :class:`Fail` (an HTTP error status). The last reply repeats when the script runs
out. ``delay`` (seconds) holds every answer back, to exercise client timeouts. Requests are recorded in
``requests``. The server listens on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with HTTP ``status`` and an OpenAI-style error body."""

    status: int = 500
    message: str = "scripted failure"


class ScriptedLLM:
    """An aiohttp app speaking the chat-completions wire format, answering from a script."""

    def __init__(self, replies: Sequence[str | Callable[[dict[str, Any]], str] | Fail] = ("OK",), *,
                 delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        """``http://127.0.0.1:PORT/v1`` once started (what ``LLMConfig.base_url`` wants)."""

    def script(self, *replies: str | Callable[[dict[str, Any]], str] | Fail, delay: float | None = None) -> None:
        """Replace the remaining replies (and optionally the delay)."""
        self.replies = list(replies)
        if delay is not None:
            self.delay = delay

    def _next(self) -> str | Callable[[dict[str, Any]], str] | Fail:
        if len(self.replies) > 1:
            return self.replies.pop(0)
        return self.replies[0] if self.replies else "OK"

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        reply = self._next()
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(reply, Fail):
            return web.json_response({"error": {"message": reply.message, "type": "server_error", "code": None}},
                                     status=reply.status)
        content = reply(body) if callable(reply) else reply
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                      "total_tokens": prompt_tokens + len(content.split())},
        })

    def app(self) -> web.Application:
        """The aiohttp application (mount it yourself, or use ``async with``)."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        return app

    async def start(self) -> str:
        """Listen on 127.0.0.1 and a free port; returns :attr:`base_url`."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ScriptedLLM:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
