"""The agents' HTTP API and live socket (bearer token with the ``agent`` role; admins may too).

Routes:
    GET  /api/handoff/queue                         waiting and claimed conversations (``?team=``)
    GET  /api/handoff/{conversation_id}             the live context package, notes, status
    POST /api/handoff/{conversation_id}/claim
    POST /api/handoff/{conversation_id}/messages    {"text"}
    POST /api/handoff/{conversation_id}/notes       {"text"}
    POST /api/handoff/{conversation_id}/transfer    {"team", "note"?}
    POST /api/handoff/{conversation_id}/return-to-bot
    POST /api/handoff/{conversation_id}/close       {"csat"?: bool}
    GET  /api/handoff/audit                         the audit trail (admin role)
    GET  /api/handoff/ws                            websocket: first message {"token"}; then live events

An agent sees only conversations waiting in the queue and those it claimed (admins: every claimed one),
masked (:mod:`bot.handoff.privacy`); the socket streams only those conversations' events, from their
escalation on (:mod:`bot.handoff.live`).

Refusals are JSON ``{"error": reason}`` with 400/401/403/404/409. The routes only translate; the
rules live in :class:`bot.handoff.service.HandoffService`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from bot.handoff.live import AgentFeed, live_event
from bot.handoff.service import AgentActionResult, HandoffService
from bot.infra.bus import Resync
from bot.infra.logs import get_logger
from bot.infra.settings import Principal
from bot.kernel.errors import RequestError, StoreError
from connectors.web.app import RUNTIME, query_int, read_json
from connectors.web.auth import require_role

log = get_logger(__name__)

PREFIX = "/api/handoff"
AUTH_TIMEOUT = 10.0


def _service(request: web.Request) -> tuple[HandoffService, Principal]:
    runtime = request.app[RUNTIME]
    principal = require_role(request, runtime.settings, "agent")
    if runtime.handoff is None:
        raise web.HTTPServiceUnavailable(text='{"error": "handoff is not configured"}', content_type="application/json")
    return runtime.handoff, principal


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _outcome(service: HandoffService, principal: Principal, outcome: AgentActionResult) -> web.Response:
    state = outcome.state
    return web.json_response({
        "conversation_id": state.conversation_id,
        "status": str(state.status),
        "agent": state.agent,
        "team": state.escalation.team if state.escalation else None,
        "events": [live_event(e) for e in service.agent_events(principal, outcome)],
    }, dumps=_dumps)


async def queue(request: web.Request) -> web.Response:
    service, principal = _service(request)
    team = request.query.get("team") or None
    entries = await service.list_queue(principal, team=team)
    return web.json_response({"queue": entries, "teams": service.config.all_teams}, dumps=_dumps)


async def view(request: web.Request) -> web.Response:
    service, principal = _service(request)
    return web.json_response(await service.view(principal, request.match_info["conversation_id"]), dumps=_dumps)


async def claim(request: web.Request) -> web.Response:
    service, principal = _service(request)
    outcome = await service.claim(principal, request.match_info["conversation_id"])
    return _outcome(service, principal, outcome)


async def messages(request: web.Request) -> web.Response:
    service, principal = _service(request)
    body = await read_json(request)
    outcome = await service.send(principal, request.match_info["conversation_id"], body.get("text"))
    return _outcome(service, principal, outcome)


async def notes(request: web.Request) -> web.Response:
    service, principal = _service(request)
    body = await read_json(request)
    outcome = await service.note(principal, request.match_info["conversation_id"], body.get("text"))
    return _outcome(service, principal, outcome)


async def transfer(request: web.Request) -> web.Response:
    service, principal = _service(request)
    body = await read_json(request)
    note = body.get("note") or None
    outcome = await service.transfer(principal, request.match_info["conversation_id"], body.get("team"), note)
    return _outcome(service, principal, outcome)


async def return_to_bot(request: web.Request) -> web.Response:
    service, principal = _service(request)
    outcome = await service.return_to_bot(principal, request.match_info["conversation_id"])
    return _outcome(service, principal, outcome)


async def close(request: web.Request) -> web.Response:
    service, principal = _service(request)
    body = await read_json(request) if request.can_read_body else {}
    csat = body.get("csat")
    if csat is not None and not isinstance(csat, bool):
        raise RequestError(f"'csat' must be true or false, got {csat!r}")
    outcome = await service.close(principal, request.match_info["conversation_id"], csat=csat)
    return _outcome(service, principal, outcome)


async def audit(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    require_role(request, runtime.settings, "admin")
    if runtime.handoff is None:
        raise web.HTTPServiceUnavailable(text='{"error": "handoff is not configured"}', content_type="application/json")
    limit = query_int(request, "limit", 200, 1, 1000)
    records = await runtime.handoff.audit.records(conversation_id=request.query.get("conversation_id"), limit=limit)
    return web.json_response({"audit": [r.to_dict() for r in records]}, dumps=_dumps)


async def live(request: web.Request) -> web.WebSocketResponse:
    """Live events for agents: authenticate with ``{"token": ...}`` first (tokens stay out of URLs and logs)."""
    runtime = request.app[RUNTIME]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    principal = await _authenticate(ws, runtime.settings)
    if principal is None:
        return ws
    service = runtime.handoff
    if service is None:
        await ws.send_str(_dumps({"type": "error", "error": "handoff is not configured"}))
        await ws.close(code=4404, message=b"handoff is not configured")
        return ws
    await service.audit.record(principal, "watch_live")
    async with runtime.engine.bus.subscribe(None) as inbox:
        feed = AgentFeed(service, principal)
        await feed.load()
        await ws.send_str(_dumps({"type": "ready", "agent": principal.name, "role": principal.role}))
        reader = asyncio.ensure_future(ws.receive())
        while not ws.closed:
            getter = asyncio.ensure_future(inbox.get())
            done, _ = await asyncio.wait({reader, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                conversation_id, event = getter.result()
                if isinstance(event, Resync):  # the bus may have missed events: reload and tell the console
                    try:
                        await feed.load()
                    except StoreError as exc:
                        log.warning("handoff_live_resync_failed", error=str(exc))
                    await ws.send_str(_dumps({"type": "resync", "reason": event.reason}))
                else:
                    for outgoing in await feed.messages(conversation_id, event):
                        await ws.send_str(_dumps(outgoing))
            else:
                getter.cancel()
            if reader in done:
                message = reader.result()
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                reader = asyncio.ensure_future(ws.receive())
        reader.cancel()
    await ws.close()
    return ws


async def _authenticate(ws: web.WebSocketResponse, settings: Any) -> Principal | None:
    try:
        message = await ws.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await ws.close(code=4401, message=b"authenticate first")
        return None
    token = None
    if message.type is WSMsgType.TEXT:
        try:
            body = json.loads(message.data)
        except json.JSONDecodeError:
            body = None
        token = body.get("token") if isinstance(body, dict) else None
    principal = settings.principal(token) if isinstance(token, str) and token else None
    if principal is None or not principal.may("agent"):
        await ws.send_str(_dumps({"type": "error", "error": "unknown token or the agent role is missing"}))
        await ws.close(code=4403, message=b"forbidden")
        log.info("handoff_socket_refused")
        return None
    return principal


def setup_routes(app: web.Application) -> None:
    """Mount the handoff API (and the helpdesk connectors' inbound endpoints and dispatcher)."""
    app.router.add_get(f"{PREFIX}/queue", queue)
    app.router.add_get(f"{PREFIX}/audit", audit)
    app.router.add_get(f"{PREFIX}/ws", live)
    app.router.add_get(PREFIX + "/{conversation_id}", view)
    app.router.add_post(PREFIX + "/{conversation_id}/claim", claim)
    app.router.add_post(PREFIX + "/{conversation_id}/messages", messages)
    app.router.add_post(PREFIX + "/{conversation_id}/notes", notes)
    app.router.add_post(PREFIX + "/{conversation_id}/transfer", transfer)
    app.router.add_post(PREFIX + "/{conversation_id}/return-to-bot", return_to_bot)
    app.router.add_post(PREFIX + "/{conversation_id}/close", close)
    from connectors.helpdesk.routes import setup_routes as setup_helpdesk

    setup_helpdesk(app)
