"""Voice routes on the shared aiohttp app (mounted by :func:`connectors.web.app.create_app`).

    POST /voice/twiml     Twilio's voice webhook: TwiML connecting the call to the stream below
    GET  /voice/stream    Twilio Media Streams websocket: one pipecat pipeline per call

A call whose messages are malformed or out of order is closed with websocket code 1002; other calls
keep running. Beyond ``voice.max_concurrent_calls`` new calls hear an apology and are hung up.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from bot.logs import get_logger
from connectors.voice.config import TwilioCredentials
from connectors.voice.errors import CallProtocolError
from connectors.voice.logs import route_pipecat_logs
from connectors.voice.serializer import StreamStart, parse_message, parse_start
from connectors.voice.twiml import connect_stream, say_and_hang_up

log = get_logger(__name__)

START_TIMEOUT_SECS = 10.0
MAX_MESSAGE_BYTES = 64 * 1024
BUSY = "Sorry, all our lines are busy right now. Please call again in a few minutes."


@dataclass(slots=True)
class VoiceState:
    """Per-app voice state: shared models (loaded at start-up) and the calls in progress."""

    credentials: TwilioCredentials | None
    models: object | None = None
    calls: dict[str, asyncio.Task[None] | None] = field(default_factory=dict)


VOICE: web.AppKey[VoiceState] = web.AppKey("voice", VoiceState)


def _runtime(app: web.Application):  # type: ignore[no-untyped-def]
    from connectors.web.app import RUNTIME

    return app[RUNTIME]


def setup_routes(app: web.Application) -> None:
    """Mount the voice routes when the project's ``voice.enabled`` (reads Twilio credentials from the env)."""
    runtime = _runtime(app)
    if not runtime.project.config.voice.enabled:
        return
    route_pipecat_logs()
    app[VOICE] = VoiceState(TwilioCredentials.from_env())
    app.router.add_post("/voice/twiml", twiml)
    app.router.add_get("/voice/stream", stream)
    app.on_startup.append(_load_models)


async def _load_models(app: web.Application) -> None:
    from connectors.voice.pipeline import VoiceModels

    state = app[VOICE]
    state.models = await asyncio.to_thread(VoiceModels.load, _runtime(app), credentials=state.credentials)
    log.info("voice_ready", domain_lm=getattr(state.models, "speech", None) is not None)


def stream_url(request: web.Request) -> str:
    """``wss://host/voice/stream`` as the caller's proxy sees it (``X-Forwarded-Proto``/``Host`` honoured)."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme)
    scheme = "wss" if proto in ("https", "wss") else "ws"
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{scheme}://{host}/voice/stream"


async def twiml(request: web.Request) -> web.Response:
    """Answer Twilio's voice webhook with ``<Connect><Stream>`` (or a busy message)."""
    state = request.app[VOICE]
    config = _runtime(request.app).project.config.voice
    form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    call_sid = str(form.get("CallSid") or "")
    if len(state.calls) >= config.max_concurrent_calls:
        log.warning("voice_busy", calls=len(state.calls))
        return web.Response(text=say_and_hang_up(BUSY), content_type="text/xml")
    conversation_id = f"voice-{call_sid}" if call_sid else f"voice-{uuid.uuid4().hex[:16]}"
    body = connect_stream(stream_url(request), {"conversation_id": conversation_id})
    return web.Response(text=body, content_type="text/xml")


async def _read_start(ws: web.WebSocketResponse) -> StreamStart:
    """Read ``connected`` (optional) then ``start``; anything else first is a protocol error."""
    async with asyncio.timeout(START_TIMEOUT_SECS):
        while True:
            message = await ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                raise ConnectionResetError("closed before 'start'")
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            parsed = parse_message(message.data)
            if parsed["event"] == "connected":
                continue
            if parsed["event"] != "start":
                raise CallProtocolError(f"expected 'start', got '{parsed['event'][:40]}' first")
            return parse_start(parsed)


async def stream(request: web.Request) -> web.StreamResponse:
    """One call's Media Stream: handshake, then the pipeline until the call ends."""
    from connectors.voice.pipeline import run_call

    state = request.app[VOICE]
    runtime = _runtime(request.app)
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30)
    await ws.prepare(request)
    key = uuid.uuid4().hex
    if state.models is None or len(state.calls) >= runtime.project.config.voice.max_concurrent_calls:
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"busy")
        return ws
    state.calls[key] = None
    try:
        try:
            start = await _read_start(ws)
        except CallProtocolError as exc:
            log.warning("voice_protocol_error", error=str(exc), phase="handshake")
            await ws.close(code=CallProtocolError.close_code, message=str(exc)[:120].encode())
            return ws
        except (TimeoutError, ConnectionResetError) as exc:
            log.info("voice_no_start", error=str(exc) or type(exc).__name__)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"no start message")
            return ws
        conversation_id = start.custom_parameters.get("conversation_id") or f"voice-{start.call_sid or key[:16]}"
        log.info("voice_call_started", conversation_id=conversation_id)
        result = await run_call(ws, start, runtime, state.models, conversation_id=conversation_id)  # type: ignore[arg-type]
        log.info("voice_call_ended", conversation_id=conversation_id, turns=len(result.bridge.log.turns),
                 close_code=int(result.close_code))
    finally:
        state.calls.pop(key, None)
        if not ws.closed:
            await ws.close()
    return ws
