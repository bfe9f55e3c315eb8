"""Voice routes on the shared aiohttp app (mounted by :func:`connectors.web.app.create_app`).

    POST /voice/twiml     Twilio's voice webhook: TwiML connecting the call to the stream below
    GET  /voice/stream    Twilio Media Streams websocket: one pipecat pipeline per call

Trust (see :mod:`.signing`): with ``TWILIO_AUTH_TOKEN`` set, a webhook (and the stream's websocket
handshake, which Twilio signs too) without a valid ``X-Twilio-Signature`` is answered 403 (unset:
accepted, with a warning at start). The TwiML mints the
call's conversation id (``voice-<CallSid>``, random without one) and a short-lived signed token for its
stream; a stream whose ``start`` carries no valid token for its CallSid is closed with code 1008 before
anything runs or is stored, and the conversation id always comes from that token.

A call whose messages are malformed or out of order is closed with websocket code 1002; other calls
keep running. Beyond ``voice.max_concurrent_calls`` new calls hear an apology and are hung up.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from bot.infra.logs import get_logger
from bot.kernel.errors import RequestError
from connectors.voice.config import TwilioCredentials, webhook_auth_token
from connectors.voice.errors import CallProtocolError, StreamRefused, WebhookForbidden
from connectors.voice.logs import route_pipecat_logs
from connectors.voice.serializer import StreamStart, parse_message, parse_start
from connectors.voice.signing import StreamGrant, StreamTokens, twilio_signature_valid
from connectors.voice.twiml import connect_stream, say_and_hang_up

log = get_logger(__name__)

START_TIMEOUT_SECS = 10.0
#: Websockets allowed at once between opening and a valid ``start`` (each waits at most START_TIMEOUT_SECS).
MAX_PENDING_HANDSHAKES = 64
MAX_MESSAGE_BYTES = 64 * 1024
BUSY = "Sorry, all our lines are busy right now. Please call again in a few minutes."
#: The stream parameter that carries the token (Twilio returns it in ``start.customParameters``).
TOKEN_PARAMETER = "token"  # noqa: S105 - a parameter name, not a credential
#: A Twilio CallSid (``CA`` + 32 hex digits) and anything of that shape a test or a proxy uses.
CALL_SID = re.compile(r"[A-Za-z0-9]{1,64}")
#: A caller id as Twilio sends it in ``From`` (``+4420...``, ``client:alice``, ``sip:a@b``, ``anonymous``).
CALLER_ID = re.compile(r"[!-~]{1,64}")


@dataclass(slots=True)
class VoiceState:
    """Per-app voice state: shared models (loaded at start-up) and the calls in progress."""

    credentials: TwilioCredentials | None
    tokens: StreamTokens
    webhook_token: str | None = None
    """``TWILIO_AUTH_TOKEN``: set, every Twilio webhook must be signed with it."""
    models: object | None = None
    calls: dict[str, asyncio.Task[None] | None] = field(default_factory=dict)
    """Admitted calls in progress (bounded by ``voice.max_concurrent_calls``)."""
    handshakes: int = 0
    """Websockets that have not yet shown a valid ``start`` (bounded by :data:`MAX_PENDING_HANDSHAKES`)."""
    bridges: dict[str, object] = field(default_factory=dict)
    """Conversation-id prefix → the bridge factory its calls run with (the outbound connector registers
    ``outbound-``); the id comes from the server-minted stream token, never from the caller."""


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
    webhook_token = webhook_auth_token()
    if webhook_token is None:
        log.warning("voice_webhooks_unsigned",
                    hint="set TWILIO_AUTH_TOKEN so /voice/twiml accepts only requests Twilio signed")
    tokens = StreamTokens(runtime.settings.secret, ttl_secs=runtime.project.config.voice.stream_token_secs)
    app[VOICE] = VoiceState(TwilioCredentials.from_env(), tokens, webhook_token)
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
    proto = _forwarded(request, "X-Forwarded-Proto") or request.scheme
    scheme = "wss" if proto in ("https", "wss") else "ws"
    host = _forwarded(request, "X-Forwarded-Host") or request.host
    return f"{scheme}://{host}/voice/stream"


def request_url(request: web.Request, *, websocket: bool = False) -> str:
    """The URL the caller's proxy was asked for (``X-Forwarded-Proto``/``Host`` honoured), query included:
    the URL Twilio signs; ``websocket``: with the ``ws``/``wss`` scheme a ``<Stream>`` URL has."""
    proto = _forwarded(request, "X-Forwarded-Proto") or request.scheme
    if websocket:
        proto = "wss" if proto in ("https", "wss") else "ws"
    host = _forwarded(request, "X-Forwarded-Host") or request.host
    return f"{proto}://{host}{request.raw_path}"


def _forwarded(request: web.Request, header: str) -> str | None:
    """The first (client-most) value of a forwarding header."""
    value = request.headers.get(header, "").split(",")[0].strip()
    return value or None


async def twilio_form(request: web.Request) -> dict[str, str]:
    """The webhook's form parameters, after checking Twilio signed them when ``TWILIO_AUTH_TOKEN`` is set;
    :class:`WebhookForbidden` (HTTP 403) otherwise. Every Twilio webhook route reads its form through this."""
    try:
        form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    except ValueError as exc:  # raw bytes that are not UTF-8 (percent-escapes decode with replacement)
        raise RequestError("the webhook form is not UTF-8 application/x-www-form-urlencoded") from exc
    items = [(str(k), str(v)) for k, v in form.items()]
    check_twilio_signature(request, items, urls=[request_url(request)])
    return dict(items)


def check_twilio_signature(request: web.Request, params: list[tuple[str, str]], *, urls: list[str]) -> None:
    """With ``TWILIO_AUTH_TOKEN`` set, :class:`WebhookForbidden` (HTTP 403) unless ``X-Twilio-Signature`` is
    Twilio's signature of one of ``urls`` (the ways the URL Twilio called can be written) with ``params``."""
    token = request.app[VOICE].webhook_token
    if token is None:
        return
    signature = request.headers.get("X-Twilio-Signature")
    if not any(twilio_signature_valid(token, url, params, signature) for url in urls):
        reason = "missing X-Twilio-Signature" if not signature else "X-Twilio-Signature does not match"
        log.warning("voice_webhook_refused", reason=reason, path=request.path)
        raise WebhookForbidden(f"{reason} (Twilio signs every webhook with the account's auth token)")


async def twiml(request: web.Request) -> web.Response:
    """Answer Twilio's voice webhook with ``<Connect><Stream>`` carrying the call's stream token (or busy)."""
    state = request.app[VOICE]
    config = _runtime(request.app).project.config.voice
    form = await twilio_form(request)
    call_sid = form.get("CallSid", "")
    if call_sid and not CALL_SID.fullmatch(call_sid):
        raise RequestError("CallSid must be 1-64 letters and digits")
    caller = form.get("From") if CALLER_ID.fullmatch(form.get("From", "")) else None
    if len(state.calls) >= config.max_concurrent_calls:
        log.warning("voice_busy", calls=len(state.calls))
        return web.Response(text=say_and_hang_up(BUSY), content_type="text/xml")
    conversation_id = f"voice-{call_sid}" if call_sid else f"voice-{uuid.uuid4().hex}"
    token = state.tokens.mint(conversation_id, call_sid, caller)
    log.info("voice_call_answered", conversation_id=conversation_id)
    body = connect_stream(stream_url(request), {TOKEN_PARAMETER: token})
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
    """One call's Media Stream: signature, handshake and token, then the pipeline until the call ends.

    Sockets still in the handshake are bounded apart from calls (:data:`MAX_PENDING_HANDSHAKES`), so
    sockets that never say ``start`` cannot hold the lines that admitted calls need."""
    from connectors.voice.pipeline import run_call

    state = request.app[VOICE]
    runtime = _runtime(request.app)
    # Twilio signs the handshake over the wss:// URL the TwiML named (accepted as https:// too).
    check_twilio_signature(request, [], urls=[request_url(request, websocket=True), request_url(request)])
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30)
    await ws.prepare(request)
    if state.handshakes >= MAX_PENDING_HANDSHAKES:
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"busy")
        return ws
    state.handshakes += 1
    try:
        admitted = await _admit(ws, state)
    finally:
        state.handshakes -= 1
    if admitted is None:
        return ws
    start, grant = admitted
    if state.models is None or len(state.calls) >= runtime.project.config.voice.max_concurrent_calls:
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                       message=b"busy" if state.models is not None else b"busy: speech models not loaded")
        return ws
    key = uuid.uuid4().hex
    state.calls[key] = None
    try:
        conversation_id = grant.conversation_id
        log.info("voice_call_started", conversation_id=conversation_id)
        factory = next((f for prefix, f in state.bridges.items() if conversation_id.startswith(prefix)), None)
        result = await run_call(ws, start, runtime, state.models,  # type: ignore[arg-type]
                                conversation_id=conversation_id, source=grant.source,
                                bridge_factory=factory)  # type: ignore[arg-type]
        log.info("voice_call_ended", conversation_id=conversation_id, turns=len(result.bridge.log.turns),
                 close_code=int(result.close_code))
    finally:
        state.calls.pop(key, None)
        if not ws.closed:
            await ws.close()
    return ws


async def _admit(ws: web.WebSocketResponse, state: VoiceState) -> tuple[StreamStart, StreamGrant] | None:
    """The call's ``start`` and the grant of its token; ``None`` once ``ws`` was closed for a broken
    handshake (1002), no ``start`` in time or a missing, forged, expired or foreign token (1008)."""
    try:
        start = await _read_start(ws)
    except CallProtocolError as exc:
        log.warning("voice_protocol_error", error=str(exc), phase="handshake")
        await ws.close(code=CallProtocolError.close_code, message=str(exc)[:120].encode())
        return None
    except (TimeoutError, ConnectionResetError) as exc:
        log.info("voice_no_start", error=str(exc) or type(exc).__name__)
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"no start message")
        return None
    try:
        grant = state.tokens.redeem(start.custom_parameters.get(TOKEN_PARAMETER), call_sid=start.call_sid)
    except StreamRefused as exc:
        log.warning("voice_stream_refused", reason=str(exc))
        await ws.close(code=StreamRefused.close_code, message=b"stream token refused")
        return None
    return start, grant
