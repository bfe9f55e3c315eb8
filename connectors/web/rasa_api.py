"""The Rasa HTTP endpoints Rasa frontends and tools call besides the REST webhook and the tracker.

Routes:
    GET  /webhooks/rest/     the REST channel's health, as Rasa answers it: ``{"status": "ok"}`` (no data)
    POST /model/parse        ``{"text"}`` → Rasa's parse result (intent, entities, ranking); admin token

``/model/parse`` classifies only: no conversation is touched. Its text is bounded like a message
(``max_message_chars``); the work runs off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.kernel.errors import RequestError
from bot.nlu.base import Understanding
from connectors.web.app import RUNTIME, read_json
from connectors.web.auth import require_role


async def rest_health(request: web.Request) -> web.Response:
    """Rasa's REST channel health check."""
    return web.json_response({"status": "ok"})


def parse_result(text: str, understanding: Understanding) -> dict[str, Any]:
    """Rasa's ``/model/parse`` shape for one understanding."""
    return {
        "text": text,
        "intent": {"name": understanding.intent, "confidence": understanding.confidence},
        "entities": [{"entity": e.entity, "value": e.value, "start": e.start, "end": e.end,
                      "extractor": e.extractor} for e in understanding.entities],
        "intent_ranking": [{"name": name, "confidence": score} for name, score in understanding.ranking],
    }


async def model_parse(request: web.Request) -> web.Response:
    """``POST /model/parse``: what the project's understanding makes of ``text`` (admin token)."""
    runtime = request.app[RUNTIME]
    require_role(request, runtime.settings, "admin")
    body = await read_json(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RequestError("'text' is required and must be a non-empty string")
    limit = runtime.project.config.limits.max_message_chars
    if len(text) > limit:
        raise RequestError(f"'text' is longer than {limit} characters")
    if runtime.understander is None:
        return web.json_response({"error": "this server has no understanding model loaded"}, status=409)
    understanding = await asyncio.to_thread(runtime.understander.understand, text)
    return web.json_response(parse_result(text, understanding))


def setup_routes(app: web.Application) -> None:
    """Mount ``GET /webhooks/rest/`` and ``POST /model/parse``."""
    app.router.add_get("/webhooks/rest/", rest_health)
    app.router.add_post("/model/parse", model_parse)
