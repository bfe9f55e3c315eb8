"""The aiohttp application every web-facing channel is served from.

Routes:
    GET  /health                            liveness and what is loaded
    POST /webhooks/rest/webhook             Rasa REST channel
    GET  /conversations/{id}/tracker        Rasa-like tracker JSON (bearer admin token)

Connectors translate between HTTP and :class:`~bot.engine.Engine`; they hold no business rules.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from bot.errors import RequestError, StoreError
from bot.logs import get_logger
from bot.messages import UserMessage
from bot.runtime import Runtime
from bot.tracker import tracker_json
from connectors.web.auth import require_role

log = get_logger(__name__)

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, reason: str) -> web.Response:
    """A JSON error body ``{"error": reason}`` with ``status``."""
    return web.json_response({"error": reason}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to every log line; map typed errors to 4xx/503 with a reason."""
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
        except RequestError as exc:
            return error(exc.status, str(exc))
        except StoreError as exc:
            log.error("store_unavailable", error=str(exc))
            return error(503, "conversation store unavailable; retry shortly")
        except web.HTTPRequestEntityTooLarge as exc:
            return error(413, f"request body too large ({exc.text})")
        response.headers["X-Request-Id"] = request_id
        return response


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400 naming what is wrong."""
    if request.content_type != "application/json":
        raise RequestError(f"expected Content-Type application/json, got {request.content_type!r}")
    return parse_json_object(await request.read())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, or :class:`RequestError` (HTTP 400) saying what is wrong."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(f"invalid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError("the JSON body must be an object")
    return body


async def health(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    return web.json_response({
        "status": "ok",
        "assistant": runtime.project.config.assistant_id,
        "database": runtime.database.dialect,
        "project_fingerprint": runtime.project.fingerprint[:12],
    })


async def rest_webhook(request: web.Request) -> web.Response:
    """Rasa REST channel: ``{"sender", "message", "metadata"}`` → ``[{"recipient_id", "text", "buttons"}]``."""
    body = await read_json(request)
    sender = body.get("sender", "default")
    message = body.get("message")
    metadata = body.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(sender, str):
        raise RequestError("'sender' must be a string")
    if not isinstance(message, str):
        raise RequestError("'message' is required and must be a string")
    if not isinstance(metadata, dict):
        raise RequestError("'metadata' must be an object")
    channel = metadata.get("channel", "rest")
    if not isinstance(channel, str):
        raise RequestError("'metadata.channel' must be a string")
    replies = await request.app[RUNTIME].engine.handle(sender, UserMessage(message, channel, metadata))
    return web.json_response([{"recipient_id": sender, **m.to_dict()} for m in replies])


async def tracker(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    require_role(request, runtime.settings, "admin")
    conversation_id = request.match_info["conversation_id"]
    state = await runtime.engine.state(conversation_id)
    if not state.events:
        return error(404, f"no conversation {conversation_id!r}")
    return web.json_response(tracker_json(state), dumps=lambda o: json.dumps(o, default=str))


#: Route modules of other connectors, each with ``setup_routes(app)``; mounted when the module exists.
ROUTE_MODULES = (
    "connectors.web.widget",
    "connectors.web.handoff_api",
    "connectors.web.agent_console",
    "connectors.web.ops_api",
    "connectors.web.ops_console",
    "connectors.voice.routes",
)


def module_exists(name: str) -> bool:
    """True when ``name`` can be imported (its parent packages exist and it does)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def create_app(runtime: Runtime) -> web.Application:
    """The web app for ``runtime``; closing the app closes the runtime."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=runtime.settings.max_body_bytes)
    app[RUNTIME] = runtime
    app.router.add_get("/health", health)
    app.router.add_post("/webhooks/rest/webhook", rest_webhook)
    app.router.add_get("/conversations/{conversation_id}/tracker", tracker)
    for module in ROUTE_MODULES:
        if module_exists(module):
            importlib.import_module(module).setup_routes(app)

    async def close_runtime(_app: web.Application) -> None:
        await runtime.close()

    app.on_cleanup.append(close_runtime)
    return app
