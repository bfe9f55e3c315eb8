"""The aiohttp application every web-facing channel is served from.

Routes:
    GET  /health, /ready                    liveness and readiness (connectors/web/health.py)
    POST /webhooks/rest/webhook             Rasa REST channel (for trusted backends)
    GET  /conversations/{id}/tracker        Rasa-like tracker JSON (bearer admin token)

Connectors translate between HTTP and :class:`~bot.pipeline.engine.Engine`; they hold no business rules.

The REST channel takes Rasa's body ``{"sender", "message", "metadata"?}`` plus an optional ``"message_id"``
(1 to 64 letters, digits, ``-`` or ``_``): a retry with the same id is answered once, on any worker. Its
channel is always ``rest``; ``metadata`` is the client's own data, stored and never trusted. With
``CARELINE_REST_TOKEN`` set it requires ``Authorization: Bearer <token>``. Messages are rate-limited per
client source (``limits.max_messages_per_minute_per_client``, shared by workers through Redis): over the
limit the answer is 429 with ``Retry-After`` and nothing is stored. The source is the peer address
(``ip:203.0.113.7``; ``X-Forwarded-For`` is not trusted) on an open channel; with the token, the caller is a
backend relaying for many customers from one address, so each sender is its own client (``rest-sender:ID``).

Every JSON body (REST, widget, handoff and ops APIs) goes through :func:`parse_json_object`, which refuses
with a 400 naming the problem what the standard parser accepts but the rest of the system cannot hold:
nesting deeper than :data:`MAX_DEPTH`, integers longer than :data:`MAX_INT_DIGITS` digits, non-finite
numbers (``NaN``, ``Infinity``, ``1e999``), lone surrogates and NUL characters.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import structlog
from aiohttp import web

from bot.app.runtime import Runtime
from bot.infra.logs import get_logger
from bot.infra.ratelimit import Limiter, Rate, make_limiter
from bot.kernel.errors import RateLimited, RequestError, StoreError, Unauthorized
from bot.kernel.messages import UserMessage
from bot.kernel.tracker import tracker_json
from connectors.web.auth import require_rest_token, require_role

log = get_logger(__name__)

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
#: The rate limiter every connector of the app shares (in Redis when ``CARELINE_REDIS_URL`` is set).
LIMITER: web.AppKey[Limiter] = web.AppKey("limiter", Limiter)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Deepest nesting of arrays and objects a JSON body may have.
MAX_DEPTH = 32
#: Most digits an integer in a JSON body may have.
MAX_INT_DIGITS = 100
#: Client message ids: the same id again is a retry of the same message.
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_TOKENS = re.compile(r'"(?:[^"\\]+|\\.)*"?|[\[\]{}]', re.DOTALL)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def error(status: int, reason: str, **extra: Any) -> web.Response:
    """A JSON error body ``{"error": reason, **extra}`` with ``status``."""
    return web.json_response({"error": reason, **extra}, status=status)


def refused(exc: RequestError) -> web.Response:
    """The answer to a refused request: its status and reason, plus ``Retry-After`` or ``WWW-Authenticate``."""
    if isinstance(exc, RateLimited):
        wait = math.ceil(exc.retry_after)
        response = error(exc.status, str(exc), retry_after=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    response = error(exc.status, str(exc))
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to every log line; map typed errors to 4xx/503 with a reason."""
    request_id = request.headers.get("X-Request-Id", "")
    if not MESSAGE_ID.match(request_id):
        request_id = uuid.uuid4().hex[:16]
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
        except RequestError as exc:
            response = refused(exc)
        except StoreError as exc:
            log.error("store_unavailable", error=str(exc))
            response = error(503, "conversation store unavailable; retry shortly")
        except web.HTTPRequestEntityTooLarge as exc:
            response = error(413, f"request body too large ({exc.text})")
        response.headers["X-Request-Id"] = request_id
        return response


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400 naming what is wrong."""
    if request.content_type != "application/json":
        raise RequestError(f"expected Content-Type application/json, got {request.content_type!r}")
    return parse_json_object(await request.read())


def parse_json_object(raw: bytes | str) -> dict[str, Any]:
    """``raw`` (UTF-8) as a JSON object that can be stored and replayed, or :class:`RequestError` (HTTP 400)
    saying what is wrong."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise RequestError(f"invalid JSON: the body is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    _check_depth(text)
    try:
        body = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise RequestError(f"invalid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError("the JSON body must be an object")
    _check_strings(body, "$")
    return body


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before parsing (brackets inside strings do not count)."""
    depth = 0
    for token in _TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise RequestError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        elif bracket in "]}":
            depth -= 1


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise RequestError(f"invalid JSON: an integer has {len(digits.lstrip('-'))} digits; at most "
                           f"{MAX_INT_DIGITS} are accepted")
    return int(digits)


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise RequestError(f"invalid JSON: the number {literal[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise RequestError(f"invalid JSON: {name} is not a number JSON allows")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or a lone surrogate), or ``None`` when it can."""
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return None
    char = bad.group()
    return "a NUL character" if char == "\x00" else f"a lone surrogate U+{ord(char):04X}"


def _check_strings(value: Any, path: str) -> None:
    """Refuse NUL characters and lone surrogates in every key and string under ``value``."""
    if isinstance(value, str):
        problem = unstorable(value)
        if problem:
            raise RequestError(f"invalid JSON: {problem} in the string at {path}")
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = unstorable(key)
            if problem:
                raise RequestError(f"invalid JSON: {problem} in a key of {path}")
            _check_strings(item, f"{path}.{key}" if len(key) <= 40 else f"{path}.{key[:40]}…")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


def check_text(value: str, what: str) -> str:
    """``value`` when it can be stored; else :class:`RequestError` naming ``what`` and the problem."""
    problem = unstorable(value)
    if problem:
        raise RequestError(f"{what} contains {problem}")
    return value


def message_id_of(value: Any) -> str | None:
    """A client message id (``None`` when not given), or :class:`RequestError` when malformed."""
    if value is None:
        return None
    if not isinstance(value, str) or not MESSAGE_ID.match(value):
        raise RequestError("'message_id' must be 1 to 64 letters, digits, - or _")
    return value


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as a whole number from ``low`` to ``high`` (``default`` when absent), or a
    400 naming the bounds (signs, huge digit runs and other text included)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))) or not low <= int(raw) <= high:
        shown = raw if len(raw) <= 20 else raw[:20] + "…"
        raise RequestError(f"'{name}' must be an integer from {low} to {high}, got {shown!r}")
    return int(raw)


def client_source(request: web.Request) -> str:
    """Who sent ``request`` as this server saw it: the peer address (``X-Forwarded-For`` is not trusted)."""
    return f"ip:{request.remote or 'unknown'}"


def limiter(app: web.Application) -> Limiter:
    """The app's shared rate limiter."""
    return app[LIMITER]


async def admit_client(request: web.Request, source: str) -> None:
    """Spend one of ``source``'s messages of this minute, across its conversations and the workers, or raise
    :class:`~bot.kernel.errors.RateLimited` (nothing is stored)."""
    runtime = request.app[RUNTIME]
    per_minute = runtime.project.config.limits.max_messages_per_minute_per_client
    key = f"{runtime.project.config.assistant_id}:client:{runtime.settings.client_key(source)}"
    try:
        await limiter(request.app).check(key, Rate(per_minute, per_minute),
                                         "too many messages from your address; wait before sending more")
    except RateLimited as exc:
        log.warning("client_rate_limited", retry_after=exc.retry_after)
        raise


async def rest_webhook(request: web.Request) -> web.Response:
    """Rasa REST channel: ``{"sender", "message", "metadata"?, "message_id"?}`` →
    ``[{"recipient_id", "text", "buttons"}]``."""
    runtime = request.app[RUNTIME]
    trusted = require_rest_token(request, runtime.settings)
    body = await read_json(request)
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(sender, str) or not sender:
        raise RequestError("'sender' is required and must be a non-empty string (the conversation id)")
    if not isinstance(message, str):
        raise RequestError("'message' is required and must be a string")
    if not isinstance(metadata, dict):
        raise RequestError("'metadata' must be an object")
    message_id = message_id_of(body.get("message_id"))
    source = f"rest-sender:{sender}" if trusted else client_source(request)
    await admit_client(request, source)
    replies = await runtime.engine.handle(
        sender, UserMessage(message, "rest", metadata, source=source, message_id=message_id))
    return web.json_response([{"recipient_id": sender, **m.to_dict()} for m in replies])


async def tracker(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    require_role(request, runtime.settings, "admin")
    conversation_id = check_text(request.match_info["conversation_id"], "the conversation id")
    state = await runtime.engine.state(conversation_id)
    if not state.events:
        return error(404, f"no conversation {conversation_id!r}")
    return web.json_response(tracker_json(state), dumps=lambda o: json.dumps(o, default=str))


def route_modules() -> tuple[ModuleType, ...]:
    """The modules that add routes to the app, in mounting order; each has ``setup_routes(app)``.

    Imported here rather than at the top because each of them imports this module's helpers
    (``RUNTIME``, ``read_json``...). The voice connector's routes are served by the same app."""
    from connectors.outbound import routes as outbound_routes
    from connectors.voice import routes as voice_routes
    from connectors.web import (
        agent_console,
        customers_api,
        handoff_api,
        health,
        ops_api,
        ops_console,
        qa_api,
        rasa_api,
        widget,
        widget_identity,
    )

    return (health, widget, widget_identity, handoff_api, agent_console, ops_api, customers_api, ops_console,
            qa_api, rasa_api, voice_routes, outbound_routes)


def create_app(runtime: Runtime) -> web.Application:
    """The web app for ``runtime``; closing the app closes the runtime."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=runtime.settings.max_body_bytes)
    app[RUNTIME] = runtime
    app[LIMITER] = make_limiter(runtime.settings.redis_url)
    app.router.add_post("/webhooks/rest/webhook", rest_webhook)
    app.router.add_get("/conversations/{conversation_id}/tracker", tracker)
    for module in route_modules():
        module.setup_routes(app)

    async def close_runtime(_app: web.Application) -> None:
        await app[LIMITER].close()
        await runtime.close()

    app.on_cleanup.append(close_runtime)
    return app
