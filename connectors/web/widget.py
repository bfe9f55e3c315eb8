"""The embeddable web chat: the widget's files, a demo shop page, the chat websocket and its REST fallback.

Routes:
    GET  /                                           demo shop page showing the widget
    GET  /widget.js, /widget.css                     the widget (plain JS and CSS, no framework)
    GET  /widget/config                              public settings: title, colour, greeting, limits
    GET  /ws/chat?conversation_id=ID                 the chat websocket
    GET  /widget/conversations/{id}/items?since=N    the customer's view of the conversation (REST fallback)
    POST /widget/conversations/{id}/messages         send ``{"id", "text", "label"?}`` (REST fallback)

Websocket frames are JSON objects with a ``type``. The browser sends ``message`` (``id``, ``text``,
optional ``label`` shown instead of a button payload, optional ``start``) and ``ping``. The server
sends ``history`` once per connection (``items``: the conversation so far, for resuming after a
reload), then ``item`` for every new visible event, ``ack`` (``id``, ``replies``) once a message is
stored, ``error`` (``id``, ``code``, ``reason``; ``retry_after`` seconds with code ``rate_limited``) when
one is refused or a frame is malformed (the socket stays open), and ``pong``. A message's ``id`` is also its
client message id: a retry with the same id, on any worker, is answered once. The customer's
satisfaction rating is an ordinary message: the bot's CSAT question carries 1-5 quick replies.

Every route checks the ``Origin`` against ``widget.allowed_origins``; messages are length-capped by
``limits.max_message_chars`` and rate-limited per client source
(``limits.max_messages_per_minute_per_client``, across conversations) and per client in one conversation
(``widget.messages_per_minute`` and ``burst``, across reconnects, the REST fallback and the workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from bot.app.runtime import Runtime
from bot.infra.bus import Resync
from bot.infra.logs import get_logger
from bot.infra.ratelimit import Rate
from bot.kernel.errors import MessageTooLong, RateLimited, RequestError, StoreError
from bot.kernel.events import Event
from bot.kernel.messages import UserMessage
from connectors.web.app import RUNTIME, admit_client, client_source, limiter, parse_json_object, query_int, read_json
from connectors.web.widget_config import WidgetConfig
from connectors.web.widget_protocol import (
    CLIENT_ID,
    CONVERSATION_ID,
    MAX_LABEL,
    RecentIds,
    origin_allowed,
    public_item,
    public_items,
)

log = get_logger(__name__)
#: The largest ``since`` cursor read (an event index: no conversation holds a billion events).
MAX_CURSOR = 10**9

STATIC = Path(__file__).parent / "static" / "widget"
DEMO_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
SLOW_DOWN = "You're sending messages too quickly; please wait a moment."


@dataclass(slots=True)
class WidgetState:
    """What the widget routes share in one process: open sockets and recent message ids."""

    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    recent: RecentIds = field(default_factory=RecentIds)


WIDGET: web.AppKey[WidgetState] = web.AppKey("widget", WidgetState)


def _settings(request: web.Request) -> tuple[Runtime, WidgetConfig]:
    runtime = request.app[RUNTIME]
    return runtime, runtime.project.config.widget


def _check_origin(request: web.Request, config: WidgetConfig) -> None:
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.host, config.allowed_origins):
        log.warning("widget_origin_refused", origin=origin, path=request.path)
        raise web.HTTPForbidden(text=json.dumps({"error": f"origin {origin!r} may not use this chat"}),
                                content_type="application/json")


def _conversation_id(value: str | None) -> str:
    if value is None or not CONVERSATION_ID.match(value):
        raise RequestError(f"conversation id {value!r} must be 'w_' and 22 to 64 letters, digits, - or _")
    return value


def _cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Let an allow-listed page read the answer (the origin check already ran)."""
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def refusal(client_id: str | None, code: str, reason: str, **extra: Any) -> dict[str, Any]:
    """An ``error`` frame for a message or rating the server did not accept."""
    return {"type": "error", "id": client_id, "code": code, "reason": reason, **extra}


async def deliver(request: web.Request, conversation_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    """Hand one customer message to the engine; the ``ack`` or ``error`` frame to answer with.

    Checked in order: the frame's fields, the duplicate fast path (an id this process stored lately), the
    limits of the client (across its conversations) and of this client in this conversation (across its
    connections), then the engine's own checks. A refused message is not stored and may be sent again.
    """
    runtime, config = _settings(request)
    client_id, text, label = frame.get("id"), frame.get("text"), frame.get("label")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        return refusal(None, "bad_request", "'id' must be 1 to 64 letters, digits, - or _")
    if not isinstance(text, str):
        return refusal(client_id, "bad_request", "'text' must be a string")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
        return refusal(client_id, "bad_request", f"'label' must be a string of at most {MAX_LABEL} characters")
    recent = request.app[WIDGET].recent
    key = (conversation_id, client_id)
    if not recent.add(key):
        return {"type": "ack", "id": client_id, "replies": 0, "duplicate": True}
    metadata: dict[str, Any] = {"client_id": client_id}
    if frame.get("start") is True:
        metadata["widget_start"] = True
    if label:
        metadata["button_title"] = label
    source = client_source(request)
    try:
        await admit_client(request, source)
        await limiter(request.app).check(
            f"{runtime.project.config.assistant_id}:widget:{conversation_id}:{runtime.settings.client_key(source)}",
            Rate(config.messages_per_minute, config.burst), SLOW_DOWN)
        replies = await runtime.engine.handle(
            conversation_id, UserMessage(text, "web", metadata, source=source, message_id=client_id))
    except RateLimited as exc:
        recent.discard(key)
        log.warning("widget_rate_limited", retry_after=exc.retry_after)
        return refusal(client_id, "rate_limited", SLOW_DOWN, retry_after=math.ceil(exc.retry_after))
    except MessageTooLong as exc:
        recent.discard(key)
        return refusal(client_id, "too_long", str(exc))
    except RequestError as exc:
        recent.discard(key)
        return refusal(client_id, "closed" if exc.status == 409 else "bad_request", str(exc))
    except StoreError as exc:
        recent.discard(key)
        log.error("widget_store_unavailable", error=str(exc))
        return refusal(client_id, "unavailable", "The chat is briefly unavailable; your message will be retried.")
    return {"type": "ack", "id": client_id, "replies": len(replies)}


class _Socket:
    """One browser connection: sends are serialized; a closed peer is not an error."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            if not self.ws.closed:
                with contextlib.suppress(ConnectionResetError):
                    await self.ws.send_json(frame)


async def _history(sock: _Socket, runtime: Runtime, conversation_id: str, limit: int) -> set[tuple[str, float]]:
    """Send the conversation as stored (a ``history`` frame) and return the events it covered."""
    state = await runtime.engine.state(conversation_id)
    await sock.send({"type": "history", "conversation_id": conversation_id, "status": str(state.status),
                     "items": public_items(state.events)[-limit:]})
    return {(e.type, e.timestamp) for e in state.events[-100:]}


async def _forward(sock: _Socket, queue: asyncio.Queue[tuple[str, Event]], seen: set[tuple[str, float]],
                   reload: Callable[[], Awaitable[set[tuple[str, float]]]]) -> None:
    """Send every new visible event; skip those already in the history frame. After a :class:`Resync`
    (the bus may have missed events) the whole history is sent again from the store."""
    while True:
        _, event = await queue.get()
        if isinstance(event, Resync):
            try:
                seen = await reload()
            except StoreError as exc:
                log.warning("widget_resync_failed", error=str(exc))
            else:
                log.info("widget_resynced", reason=event.reason)
            continue
        if (event.type, event.timestamp) in seen:
            continue
        item = public_item(event)
        if item is not None:
            await sock.send({"type": "item", "item": item})


async def _read(request: web.Request, sock: _Socket, conversation_id: str) -> None:
    async for msg in sock.ws:
        if msg.type is not WSMsgType.TEXT:
            if msg.type is WSMsgType.BINARY:
                await sock.send(refusal(None, "bad_request", "frames must be JSON text"))
            continue
        try:
            frame = parse_json_object(msg.data)
        except RequestError as exc:
            await sock.send(refusal(None, "bad_request", f"frames must be JSON objects: {exc}"))
            continue
        kind = frame.get("type")
        if kind == "ping":
            await sock.send({"type": "pong"})
        elif kind == "message":
            await sock.send(await deliver(request, conversation_id, frame))
        else:
            await sock.send(refusal(None, "bad_request", f"unknown frame type {str(kind)[:40]!r}"))


async def chat_socket(request: web.Request) -> web.StreamResponse:
    """``GET /ws/chat``: the live conversation (history first, then new items as they happen)."""
    runtime, config = _settings(request)
    _check_origin(request, config)
    conversation_id = _conversation_id(request.query.get("conversation_id"))
    cap = runtime.project.config.limits.max_message_chars
    ws = web.WebSocketResponse(heartbeat=config.heartbeat_seconds, max_msg_size=cap * 6 + 1024)
    await ws.prepare(request)
    sockets = request.app[WIDGET].sockets
    sockets.add(ws)
    sock = _Socket(ws)
    with structlog.contextvars.bound_contextvars(conversation_id=conversation_id, channel="web"):
        log.info("widget_connected", origin=request.headers.get("Origin"))
        try:
            async with runtime.engine.bus.subscribe(conversation_id) as queue:
                def reload() -> Awaitable[set[tuple[str, float]]]:
                    return _history(sock, runtime, conversation_id, config.history_limit)

                seen = await reload()
                pump = asyncio.create_task(_forward(sock, queue, seen, reload))
                try:
                    await _read(request, sock, conversation_id)
                finally:
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
        finally:
            sockets.discard(ws)
            log.info("widget_disconnected", close_code=ws.close_code)
    return ws


async def items(request: web.Request) -> web.StreamResponse:
    """``GET .../items?since=N``: visible items of events ``N`` onwards and the next cursor."""
    runtime, config = _settings(request)
    _check_origin(request, config)
    conversation_id = _conversation_id(request.match_info["conversation_id"])
    since = query_int(request, "since", 0, 0, MAX_CURSOR)
    state = await runtime.engine.state(conversation_id)
    visible = public_items(state.events[since:])
    if since == 0:
        visible = visible[-config.history_limit:]
    body = {"conversation_id": conversation_id, "status": str(state.status), "items": visible,
            "next": len(state.events)}
    return _cors(request, web.json_response(body))


_STATUS = {"rate_limited": 429, "too_long": 413, "closed": 409, "unavailable": 503}


async def post_message(request: web.Request) -> web.StreamResponse:
    """``POST .../messages``: one customer message over plain HTTP (when websockets are blocked)."""
    _, config = _settings(request)
    _check_origin(request, config)
    conversation_id = _conversation_id(request.match_info["conversation_id"])
    frame = await read_json(request)
    answer = await deliver(request, conversation_id, frame)
    status = _STATUS.get(answer.get("code", ""), 400) if answer["type"] == "error" else 200
    response = web.json_response(answer, status=status)
    if "retry_after" in answer:
        response.headers["Retry-After"] = str(answer["retry_after"])
    return _cors(request, response)


async def preflight(request: web.Request) -> web.StreamResponse:
    """CORS preflight for an allow-listed page posting JSON."""
    _, config = _settings(request)
    _check_origin(request, config)
    response = web.Response(status=204, headers={"Access-Control-Allow-Methods": "GET, POST",
                                                 "Access-Control-Allow-Headers": "Content-Type",
                                                 "Access-Control-Max-Age": "600"})
    return _cors(request, response)


async def widget_config(request: web.Request) -> web.StreamResponse:
    """``GET /widget/config``: what the browser needs to draw the widget."""
    runtime, config = _settings(request)
    _check_origin(request, config)
    body = {"title": config.title, "brand_color": config.brand_color, "greeting": config.greeting,
            "start_payload": config.start_payload, "heartbeat_seconds": config.heartbeat_seconds,
            "max_message_chars": runtime.project.config.limits.max_message_chars}
    return _cors(request, web.json_response(body))


def _static(name: str, content_type: str, **headers: str) -> Any:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Content-Type": content_type, "Cache-Control": "no-cache",
                                                        "X-Content-Type-Options": "nosniff", **headers})

    return serve


async def close_sockets(app: web.Application) -> None:
    """On shutdown, tell every open chat to reconnect later."""
    for ws in list(app[WIDGET].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def setup_routes(app: web.Application) -> None:
    """Mount the widget's routes on ``app``."""
    app[WIDGET] = WidgetState()
    app.router.add_get("/", _static("demo.html", "text/html; charset=utf-8", **{
        "Content-Security-Policy": DEMO_CSP, "Referrer-Policy": "no-referrer"}))
    app.router.add_get("/demo.css", _static("demo.css", "text/css; charset=utf-8"))
    app.router.add_get("/widget.js", _static("widget.js", "text/javascript; charset=utf-8",
                                             **{"Access-Control-Allow-Origin": "*"}))
    app.router.add_get("/widget.css", _static("widget.css", "text/css; charset=utf-8",
                                              **{"Access-Control-Allow-Origin": "*"}))
    app.router.add_get("/widget/config", widget_config)
    app.router.add_get("/ws/chat", chat_socket)
    base = "/widget/conversations/{conversation_id}"
    app.router.add_get(base + "/items", items)
    app.router.add_post(base + "/messages", post_message)
    app.router.add_route("OPTIONS", base + "/messages", preflight)
    app.on_shutdown.append(close_sockets)
