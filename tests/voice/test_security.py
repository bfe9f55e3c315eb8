"""Who may open a call: Twilio-signed webhooks, a stream token minted by the TwiML, and a conversation id the
caller never chooses. Over a real socket; most tests serve the app without loading speech models, which
proves the token is checked before anything a call needs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import aiohttp
import pytest
from structlog.testing import capture_logs

from bot.kernel.events import BotUttered, UserUttered
from bot.kernel.messages import UserMessage
from bot.pipeline.engine import Engine
from bot.project import Project
from connectors.voice import routes
from connectors.voice.errors import StreamRefused
from connectors.voice.signing import StreamGrant, StreamTokens, read_stream_token, twilio_signature

AUTH_TOKEN = "twilio-auth-token-for-tests"
CALL_SID = "CA" + "ab12" * 8
FORM = {"CallSid": CALL_SID, "AccountSid": "AC" + "0" * 32, "From": "+15550100", "To": "+15550199"}
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


@pytest.fixture(autouse=True)
def _no_twilio_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A developer's Twilio credentials never decide what a test sees."""
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    yield


@asynccontextmanager
async def voice_server(runtime: Any) -> AsyncIterator[str]:
    """The demo app for ``runtime`` on a free port, with the speech models left unloaded."""
    from bot.testing.server import serve_app
    from connectors.web import create_app

    app = create_app(runtime)
    app.on_startup.remove(routes._load_models)
    async with serve_app(app) as url:
        yield url


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    """Twilio's documented scheme, written out here independently of the code under test."""
    data = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


async def post_twiml(url: str, form: dict[str, str], headers: dict[str, str] | None = None,
                     path: str = "/voice/twiml") -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(url + path, data=form, headers=headers or {}) as resp:
        return resp.status, await resp.text()


def stream_token(twiml: str) -> str:
    """The token parameter of a TwiML ``<Stream>``."""
    match = re.search(r'<Parameter name="token" value="([^"]+)"/>', twiml)
    assert match, twiml
    return match.group(1)


async def open_stream(url: str, parameters: dict[str, str], call_sid: str | None = CALL_SID,
                      headers: dict[str, str] | None = None) -> int | None:
    """Open ``/voice/stream`` like Twilio (connected, start with ``parameters``); the code it is closed with."""
    return (await stream_closed(url, parameters, call_sid, headers))[0]


async def stream_closed(url: str, parameters: dict[str, str], call_sid: str | None = CALL_SID,
                        headers: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Like :func:`open_stream`; the close code and the reason the server gave."""
    start: dict[str, Any] = {"streamSid": "MZ1", "accountSid": "AC" + "0" * 32, "tracks": ["inbound"],
                             "customParameters": parameters,
                             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
    if call_sid is not None:
        start["callSid"] = call_sid
    ws_url = url.replace("http://", "ws://") + "/voice/stream"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, headers=headers or {}) as ws:
        await ws.send_str(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send_str(json.dumps({"event": "start", "streamSid": "MZ1", "start": start}))
        message = await ws.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return ws.close_code, str(message.extra or "")


# --- the signatures themselves ---------------------------------------------------------------------------


def test_twilio_signature_matches_the_example_in_twilios_docs() -> None:
    """The documented example (auth token 12345, myapp.php?foo=1&bar=2, five call parameters) signs to
    0/KCTR6DLpKmkAf8muzZqo1nDgQ=."""
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    assert twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params.items()) == \
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_stream_token_reads_back_only_for_its_call_before_it_expires() -> None:
    """A minted token names its conversation and caller; another secret, a changed byte, another CallSid,
    expiry and a second use are each refused with a reason."""
    tokens = StreamTokens(b"k" * 32, ttl_secs=60)
    token = tokens.mint("voice-CA1", "CA1", "+15550100", now=1000.0)
    grant = read_stream_token(b"k" * 32, token, call_sid="CA1", now=1059.0)
    assert (grant.conversation_id, grant.caller, grant.source) == ("voice-CA1", "+15550100", "caller:+15550100")
    version, _payload, mac = token.split(".")
    forged_claims = base64.urlsafe_b64encode(json.dumps({"c": "web-chat", "s": "CA1", "f": None, "e": 9999,
                                                         "n": "x"}).encode()).decode().rstrip("=")
    refusals = {
        "signature": lambda: read_stream_token(b"x" * 32, token, call_sid="CA1", now=1001.0),
        "signature is invalid": lambda: read_stream_token(b"k" * 32, f"{version}.{forged_claims}.{mac}",
                                                          call_sid="CA1", now=1001.0),
        "another call": lambda: read_stream_token(b"k" * 32, token, call_sid="CA2", now=1001.0),
        "expired": lambda: read_stream_token(b"k" * 32, token, call_sid="CA1", now=1060.0),
        "no token": lambda: read_stream_token(b"k" * 32, None, call_sid="CA1"),
        "malformed": lambda: read_stream_token(b"k" * 32, "v1.\udcff", call_sid="CA1"),
    }
    for reason, attempt in refusals.items():
        with pytest.raises(StreamRefused, match=reason):
            attempt()
    assert tokens.redeem(token, call_sid="CA1", now=1001.0).conversation_id == "voice-CA1"
    with pytest.raises(StreamRefused, match="already used"):
        tokens.redeem(token, call_sid="CA1", now=1002.0)


def test_a_token_minted_by_one_worker_opens_the_stream_on_another_with_the_shared_secret() -> None:
    """Workers sharing CARELINE_SECRET accept each other's tokens (TwiML and stream may reach different
    workers); a worker with its own random secret does not."""
    from bot.infra.settings import Settings

    env = {"CARELINE_SECRET": "a-secret-every-worker-shares-0123456789"}
    twiml_worker, stream_worker = Settings.from_env(env), Settings.from_env(env)
    token = StreamTokens(twiml_worker.secret).mint("voice-CA7", "CA7", None)
    assert StreamTokens(stream_worker.secret).redeem(token, call_sid="CA7").conversation_id == "voice-CA7"
    with pytest.raises(StreamRefused, match="signature"):
        StreamTokens(Settings().secret).redeem(token, call_sid="CA7")


def test_a_voice_turn_source_is_the_caller_id_else_the_call() -> None:
    """The engine keys limits on ``caller:<From>`` when Twilio passed one, else on ``call:<CallSid>``."""
    assert StreamGrant("voice-CA9", "CA9", "+15550100", 0, "n").source == "caller:+15550100"
    assert StreamGrant("voice-CA9", "CA9", None, 0, "n").source == "call:CA9"


# --- POST /voice/twiml ----------------------------------------------------------------------------------


async def test_twiml_mints_the_conversation_and_a_token_for_the_calls_stream(runtime: Any) -> None:
    """The TwiML passes one parameter, a token signed with the server secret that names ``voice-<CallSid>``,
    the caller id and an expiry within ``voice.stream_token_secs``; no conversation id is handed out to echo."""
    async with voice_server(runtime) as url:
        status, body = await post_twiml(url, FORM)
    assert status == 200
    assert re.findall(r'<Parameter name="([^"]+)"', body) == ["token"]
    grant = read_stream_token(runtime.settings.secret, stream_token(body), call_sid=CALL_SID)
    assert grant.conversation_id == f"voice-{CALL_SID}" and grant.caller == "+15550100"
    assert 0 < grant.expires_at - time.time() <= runtime.project.config.voice.stream_token_secs


async def test_twiml_without_a_call_sid_gets_a_fresh_random_conversation(runtime: Any) -> None:
    """Two TwiML requests without a CallSid get two different server-chosen conversations."""
    async with voice_server(runtime) as url:
        bodies = [(await post_twiml(url, {}))[1] for _ in range(2)]
    ids = {read_stream_token(runtime.settings.secret, stream_token(b), call_sid=None).conversation_id
           for b in bodies}
    assert len(ids) == 2 and all(i.startswith("voice-") for i in ids)


async def test_twiml_refuses_a_call_sid_that_is_not_one(runtime: Any) -> None:
    """A CallSid with anything but letters and digits is a 400 with a reason, not a conversation id."""
    async with voice_server(runtime) as url:
        status, body = await post_twiml(url, {**FORM, "CallSid": "../web-chat"})
    assert status == 400 and "CallSid" in json.loads(body)["error"]


async def test_twiml_form_that_is_not_utf8_is_a_400(runtime: Any) -> None:
    """Raw bytes that are not UTF-8 in the webhook form are refused with a reason, not a server error."""
    async with voice_server(runtime) as url, aiohttp.ClientSession() as http, http.post(
            url + "/voice/twiml", data=b"CallSid=CA1&From=\xff",
            headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
        assert resp.status == 400 and "UTF-8" in (await resp.json())["error"]


async def test_signed_twiml_is_accepted(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With TWILIO_AUTH_TOKEN set, a request signed over the URL and sorted form gets its TwiML."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    async with voice_server(runtime) as url:
        status, body = await post_twiml(url, FORM, {"X-Twilio-Signature": sign(AUTH_TOKEN, url + "/voice/twiml", FORM)})
    assert status == 200 and "<Stream" in body


async def test_signature_is_checked_against_the_url_the_proxy_was_called_on(
        runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a proxy, Twilio signs the public https URL (query included): X-Forwarded-Proto/Host are honoured,
    and the stream URL in the TwiML is the public wss one."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    public = "https://voice.example.com/voice/twiml?tenant=north"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.example.com",
               "X-Twilio-Signature": sign(AUTH_TOKEN, public, FORM)}
    async with voice_server(runtime) as url:
        status, body = await post_twiml(url, FORM, headers, path="/voice/twiml?tenant=north")
        local_status, _ = await post_twiml(url, FORM, {"X-Twilio-Signature": headers["X-Twilio-Signature"]},
                                           path="/voice/twiml?tenant=north")
    assert status == 200 and '<Stream url="wss://voice.example.com/voice/stream">' in body
    assert local_status == 403  # the same signature does not fit the URL the request really reached


@pytest.mark.parametrize("attack", ["missing", "wrong token", "tampered after signing", "other url"])
async def test_twiml_without_a_valid_signature_is_forbidden(
        runtime: Any, monkeypatch: pytest.MonkeyPatch, attack: str) -> None:
    """With TWILIO_AUTH_TOKEN set, a missing signature, one made with another key, a form changed after
    signing or a signature for another URL is answered 403 with a JSON reason, and mints no token."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    async with voice_server(runtime) as url:
        target = url + "/voice/twiml"
        form, headers = dict(FORM), {"X-Twilio-Signature": sign(AUTH_TOKEN, target, FORM)}
        if attack == "missing":
            headers = {}
        elif attack == "wrong token":
            headers["X-Twilio-Signature"] = sign("not-the-auth-token", target, FORM)
        elif attack == "tampered after signing":
            form["From"] = "+15550666"
        else:
            headers["X-Twilio-Signature"] = sign(AUTH_TOKEN, url + "/voice/other", FORM)
        status, body = await post_twiml(url, form, headers)
    assert status == 403
    assert "X-Twilio-Signature" in json.loads(body)["error"]
    assert "<Stream" not in body


async def test_without_an_auth_token_webhooks_are_unsigned_and_that_is_logged_at_start(runtime: Any) -> None:
    """TWILIO_AUTH_TOKEN unset: a warning at start says webhooks are unsigned, and unsigned TwiML is served."""
    with capture_logs() as captured:
        async with voice_server(runtime) as url:
            status, _ = await post_twiml(url, FORM)
    assert status == 200
    assert [e for e in captured if e["event"] == "voice_webhooks_unsigned" and e["log_level"] == "warning"]


# --- GET /voice/stream ----------------------------------------------------------------------------------


async def test_a_stream_is_refused_without_a_valid_token_and_nothing_is_stored(runtime: Any) -> None:
    """No token, a conversation id of the caller's choosing (a verified web chat), a token signed with
    another key, an expired one or one minted for another call: each stream is closed with 1008 (policy
    violation) and no conversation is touched."""
    await runtime.engine.handle("web-chat", UserMessage("hello", "rest", source="ip:203.0.113.7"))
    before = len((await runtime.engine.state("web-chat")).events)
    secret = runtime.settings.secret
    attempts = {
        "no token": {},
        "caller-chosen conversation": {"conversation_id": "web-chat"},
        "foreign key": {"token": StreamTokens(b"y" * 32).mint("web-chat", CALL_SID, None)},
        "expired": {"token": StreamTokens(secret).mint("web-chat", CALL_SID, None, now=time.time() - 120)},
        "other call": {"token": StreamTokens(secret).mint("web-chat", "CAother", None)},
        "garbage": {"token": "v1.not-base64!.x", "conversation_id": "web-chat"},
    }
    async with voice_server(runtime) as url:  # the app closes the runtime when it stops: check inside
        codes = {name: await open_stream(url, params) for name, params in attempts.items()}
        assert codes == dict.fromkeys(attempts, POLICY_VIOLATION)
        assert len((await runtime.engine.state("web-chat")).events) == before
        assert [c.conversation_id for c in await runtime.engine.store.list()] == ["web-chat"]


async def test_the_twiml_token_gets_past_the_check_once(runtime: Any) -> None:
    """The token from /voice/twiml, with the same CallSid in ``start``, passes the token check (the line is
    then busy only because no speech model is loaded here); the same token a second time is refused."""
    async with voice_server(runtime) as url:
        _, body = await post_twiml(url, FORM)
        token = stream_token(body)
        first = await open_stream(url, {"token": token})
        replay = await open_stream(url, {"token": token})
        missing_sid = await open_stream(url, {"token": stream_token((await post_twiml(url, FORM))[1])},
                                        call_sid=None)
    assert (first, replay, missing_sid) == (TRY_AGAIN_LATER, POLICY_VIOLATION, POLICY_VIOLATION)


async def test_sockets_that_never_start_do_not_take_the_lines(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """As many idle sockets as ``voice.max_concurrent_calls`` leave a real call free to pass its token check;
    past MAX_PENDING_HANDSHAKES idle sockets, a new one is turned away at once."""
    monkeypatch.setattr(routes, "MAX_PENDING_HANDSHAKES", 10)
    lines = runtime.project.config.voice.max_concurrent_calls
    async with voice_server(runtime) as url, aiohttp.ClientSession() as http:
        ws_url = url.replace("http://", "ws://") + "/voice/stream"
        idle = [await http.ws_connect(ws_url) for _ in range(lines)]
        await asyncio.sleep(0.2)
        code, reason = await stream_closed(url, {"token": stream_token((await post_twiml(url, FORM))[1])})
        idle += [await http.ws_connect(ws_url) for _ in range(10 - lines)]
        await asyncio.sleep(0.2)
        async with http.ws_connect(ws_url) as extra:
            turned_away = await extra.receive(timeout=2)
        for ws in idle:
            await ws.close()
    assert (code, reason) == (TRY_AGAIN_LATER, "busy: speech models not loaded")
    assert turned_away.type is aiohttp.WSMsgType.CLOSE and turned_away.data == TRY_AGAIN_LATER


async def test_with_an_auth_token_the_stream_handshake_must_be_signed_too(
        runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twilio signs the media stream's websocket handshake: with TWILIO_AUTH_TOKEN set, an unsigned or
    wrongly signed handshake is refused with 403 before the websocket opens; a signed one reaches the
    token check."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    async with voice_server(runtime) as url:
        _, body = await post_twiml(url, FORM, {"X-Twilio-Signature": sign(AUTH_TOKEN, url + "/voice/twiml", FORM)})
        token = stream_token(body)
        ws_url = url.replace("http://", "ws://") + "/voice/stream"
        refused = []
        for headers in ({}, {"X-Twilio-Signature": sign("not-the-auth-token", ws_url, {})}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
                await open_stream(url, {"token": token}, headers=headers)
            refused.append(handshake.value.status)
        signed = await open_stream(url, {"token": token}, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, ws_url, {})})
    assert refused == [403, 403]
    assert signed == TRY_AGAIN_LATER  # past the signature and the token; busy only for want of models


async def test_a_call_runs_in_the_minted_conversation_with_the_caller_as_source(server: str, runtime: Any) -> None:
    """A real call that also sends ``conversation_id`` of a verified web chat runs in ``voice-<CallSid>``; the
    web chat is untouched, and the caller's key press is stored with the pseudonym of ``caller:<From>``."""
    from connectors.voice.caller import SimulatedCaller

    await runtime.engine.handle("web-chat", UserMessage("hello", "rest", source="ip:203.0.113.7"))
    before = len((await runtime.engine.state("web-chat")).events)
    async with SimulatedCaller.connect(server, call_sid=CALL_SID, caller_id="+15550100",
                                       parameters={"conversation_id": "web-chat"}) as caller:
        await caller.wait_for_speech(within=15)
        await caller.press("0")
        await caller.next_reply(within=15)
    assert caller.conversation_id == f"voice-{CALL_SID}"
    assert len((await runtime.engine.state("web-chat")).events) == before
    state = await runtime.engine.state(f"voice-{CALL_SID}")
    assert any(isinstance(e, BotUttered) for e in state.events)
    said = [e for e in state.events if isinstance(e, UserUttered)]
    assert said and all(e.channel == "voice" for e in said)
    assert {e.client for e in said} == {runtime.settings.client_key("caller:+15550100")}


# --- the bridge hands the connector's source to the engine ---------------------------------------------


class _RecordingEngine:
    """Stands in for the engine: records each message, refuses the second one as rate limited."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def handle(self, conversation_id: str, message: UserMessage) -> list[Any]:
        from bot.kernel.errors import RateLimited

        self.messages.append(message)
        if len(self.messages) > 1:
            raise RateLimited("too many turns", retry_after=30)
        return []

    async def state(self, conversation_id: str) -> Any:
        from bot.kernel.conversation import ConversationState

        return ConversationState(conversation_id)


async def test_bridge_sends_voice_turns_with_the_call_source_and_speaks_a_refusal(
        demo_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every turn reaches the engine on channel voice with the source the connector set (``caller:<From>``),
    the caller's metadata kept apart as data; a rate-limited turn is answered with a spoken "wait"."""
    from bot.kernel.messages import BotMessage
    from connectors.voice.bridge import SLOW_DOWN, EngineBridge

    engine = _RecordingEngine()
    bridge = EngineBridge(cast(Engine, engine), demo_project, "voice-CA1", demo_project.config.voice,
                          metadata={"call_sid": "CA1"}, source="caller:+15550100")
    spoken: list[list[BotMessage]] = []

    async def say(messages: list[BotMessage], *, record: bool) -> None:
        spoken.append(messages)

    async def expect(*_args: Any) -> None:
        return None

    monkeypatch.setattr(bridge, "_say", say)
    monkeypatch.setattr(bridge, "_expect", expect)
    await bridge._turn("where is my order", {"source": "speech"})
    await bridge._turn("4567", {"source": "dtmf"})
    assert [(m.channel, m.source) for m in engine.messages] == [("voice", "caller:+15550100")] * 2
    assert engine.messages[0].metadata == {"call_sid": "CA1", "source": "speech"}
    assert [m.text for m in spoken[-1]] == [SLOW_DOWN]
