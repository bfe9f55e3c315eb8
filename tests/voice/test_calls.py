"""Phone calls over a real websocket: a simulated Twilio caller (espeak-ng speech, DTMF) talks to the demo bot
served by the same aiohttp app as the chat, on a free local port."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.infra.embeddings import Embedder
from bot.kernel.conversation import ConversationState
from bot.kernel.events import ActionExecuted, BotUttered, Escalated, FlowCompleted, UserUttered
from bot.project import Project
from connectors.voice.caller import SimulatedCaller

ORDER_SPOKEN = "A one oh oh one"


async def _state(runtime: Runtime, conversation_id: str) -> ConversationState:
    return await runtime.engine.state(conversation_id)


async def test_twiml_connects_the_call_to_the_stream(server: str, runtime: Runtime) -> None:
    """POST /voice/twiml answers TwiML that connects the call to /voice/stream with a token for its conversation."""
    from connectors.voice.signing import read_stream_token

    async with aiohttp.ClientSession() as http, http.post(
        server + "/voice/twiml", data={"CallSid": "CA123", "From": "+15550100"}
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/xml"
        body = await resp.text()
    host = server.removeprefix("http://")
    assert f'<Stream url="ws://{host}/voice/stream">' in body
    token = re.search(r'<Parameter name="token" value="([^"]+)"/>', body)
    assert token is not None
    grant = read_stream_token(runtime.settings.secret, token.group(1), call_sid="CA123")
    assert grant.conversation_id == "voice-CA123"


async def test_caller_authenticates_by_keypad_and_runs_an_order_status_query(server: str, runtime: Runtime) -> None:
    """Keypad choice, phone number and PIN by DTMF verify the caller; the spoken order number is looked up."""
    async with SimulatedCaller.connect(server, call_sid="CAauth") as caller:
        await caller.wait_for_speech(within=10)
        await caller.press("1")  # "say or press one for: where is my order" (interrupts the greeting)
        ask_identifier = await caller.next_reply()
        await caller.press("02079460011#")
        ask_pin = await caller.next_reply()
        await caller.press("4567#")
        verified = await caller.next_reply()
        await caller.say(ORDER_SPOKEN)
        answer = await caller.next_reply()
    state = await _state(runtime, "voice-CAauth")
    assert state.slots["authenticated"] is True and state.slots["customer_id"] == "C001"
    keyed = [e for e in state.events if isinstance(e, UserUttered) and e.metadata.get("source") == "dtmf"]
    assert [e.text for e in keyed] == ["/check_order_status", "02079460011", "4567"]
    assert all(e.channel == "voice" for e in keyed)
    said = [e for e in state.events if isinstance(e, UserUttered) and e.metadata.get("source") == "speech"]
    # The order-number step listens with a "letter + four digits" grammar: whatever was heard has that form.
    assert len(said) == 1 and re.fullmatch(r"[A-Z]\d{4}", said[0].text), said[0].text
    looked_up = [e for e in state.events if isinstance(e, ActionExecuted) and e.name == "action_order_status"]
    assert len(looked_up) == 1 and looked_up[0].ok
    assert "order_status" in [e.flow_id for e in state.events if isinstance(e, FlowCompleted)] or \
        any(isinstance(e, BotUttered) and "couldn't find that order" in e.text for e in state.events)
    for reply in (ask_identifier, ask_pin, verified, answer):  # every answer was heard as audio on the line
        assert len(reply.audio) / 8000 > 1.0


async def test_barge_in_stops_the_bot_and_marks_the_answer(server: str, runtime: Runtime) -> None:
    """Talking over the greeting sends one `clear`, the greeting's audio stops there, and the greeting is recorded
    as interrupted (what happened, in order: no time budget, which belongs in benchmarks/)."""
    async with SimulatedCaller.connect(server, call_sid="CAbarge") as caller:
        await caller.wait_for_speech(within=10)
        await asyncio.sleep(1.5)  # well into the ~11 s greeting
        speech_started = time.monotonic()
        speaking = asyncio.create_task(caller.say("wait wait I want to talk to an agent please"))
        cleared_at = await caller.wait_for_clear(within=30)  # a bound for a hung test, not a latency check
        speech_ended = await speaking
        await caller.next_reply(within=30)
    # one clear answers the caller's speech (what a loaded machine does once the next reply starts is not this test's)
    assert [c for c in caller.clears if c <= speech_ended] == [cleared_at] and speech_started < cleared_at
    # Frames sent before the clear arrive before it (one ordered websocket): after it, until the caller has finished,
    # the bot sends nothing more of the greeting (a stray frame or two of the stopping pipeline at most).
    greeting_after_clear = sum(len(r.pcm) for r in caller.received if cleared_at < r.at <= speech_ended) / 8000
    assert greeting_after_clear < 0.2
    state = await _state(runtime, "voice-CAbarge")
    interrupted = [e for e in state.events if isinstance(e, BotUttered) and e.interrupted]
    assert len(interrupted) == 1 and interrupted[0].response == "utter_greet"
    greeting = state.events[0]
    assert isinstance(greeting, BotUttered)
    assert 0 < len(interrupted[0].text.split()) < len(greeting.text.split())


async def test_backchannel_does_not_cancel_the_bot(server: str, runtime: Runtime) -> None:
    """An "okay" while the bot speaks neither sends `clear` nor cuts the answer: the caller receives as much of
    the greeting as a caller who stays silent."""
    async with SimulatedCaller.connect(server, call_sid="CAquiet") as quiet:
        await quiet.wait_for_speech(within=10)
        await quiet.next_reply(within=30, gap=3.0)  # a loaded machine may stall the stream for a moment
    async with SimulatedCaller.connect(server, call_sid="CAmhm") as caller:
        await caller.wait_for_speech(within=10)
        await asyncio.sleep(1.0)
        await caller.say("okay")
        await caller.next_reply(within=30, gap=3.0)
    assert caller.clears == []
    whole_greeting = quiet.audio_after(0.0)
    assert whole_greeting > 0 and caller.audio_after(0.0) >= whole_greeting - 0.5  # seconds of audio, not of clock
    state = await _state(runtime, "voice-CAmhm")
    assert not any(isinstance(e, BotUttered) and e.interrupted for e in state.events)
    assert not any(isinstance(e, UserUttered) for e in state.events)


async def test_saying_agent_hands_off_with_the_transcript(server: str, runtime: Runtime) -> None:
    """Saying "agent" over the greeting escalates; the handoff context carries the voice transcript."""
    async with SimulatedCaller.connect(server, call_sid="CAagent") as caller:
        await caller.wait_for_speech(within=10)
        await caller.say("agent")
        await caller.next_reply(within=20)
    state = await _state(runtime, "voice-CAagent")
    heard = [e.text for e in state.events if isinstance(e, UserUttered)]
    assert str(state.status) == "handoff", heard
    escalated = next(e for e in state.events if isinstance(e, Escalated))
    assert escalated.reason == "requested"
    transcript = escalated.context["transcript"]
    assert any(line["from"] == "customer" and line["voice"] for line in transcript)
    assert any(line["from"] == "bot" and "Northwind assistant" in line["text"] for line in transcript)


async def test_pressing_zero_hands_off_and_other_calls_survive_protocol_errors(server: str, runtime: Runtime) -> None:
    """Malformed or out-of-order messages close only their call (code 1002); a healthy call presses 0: handoff."""
    async with SimulatedCaller.connect(server, call_sid="CAzero") as healthy:
        await healthy.wait_for_speech(within=10)
        async with SimulatedCaller.connect(server, start=False) as early:  # media before start
            await early.send_json({"event": "media", "media": {"payload": "/w=="}})
            await asyncio.wait_for(early.ws.receive(), 5)
            assert early.ws.close_code == 1002
        async with SimulatedCaller.connect(server, call_sid="CAbad") as bad:
            await bad.ws.send_str("{not json")
            for _ in range(100):
                if bad.ws.closed:
                    break
                await asyncio.sleep(0.05)
            assert bad.ws.close_code == 1002
        async with SimulatedCaller.connect(server, call_sid="CArestart") as twice:
            await twice.send_json({"event": "start", "start": {"streamSid": "MZ2"}})
            for _ in range(100):
                if twice.ws.closed:
                    break
                await asyncio.sleep(0.05)
            assert twice.ws.close_code == 1002
        await healthy.press("0")
        handoff = await healthy.next_reply()
        assert not healthy.ws.closed
    assert len(handoff.audio) > 0
    state = await _state(runtime, "voice-CAzero")
    assert str(state.status) == "handoff"
    escalated = next(e for e in state.events if isinstance(e, Escalated))
    assert [line["text"] for line in escalated.context["transcript"] if line["from"] == "customer"] == ["0"]


async def test_with_smart_turn_off_a_pause_ends_the_turn(demo_project: Project, embedder: Embedder,
                                                          tmp_path: Path) -> None:
    """``smart_turn: false``: the VAD stop ends the caller's turn, and the bot answers what was said."""
    import dataclasses

    from bot.app.runtime import build_runtime
    from bot.infra.settings import Settings
    from bot.testing.server import serve_app
    from connectors.web import create_app

    config = demo_project.config
    voice = config.voice.model_copy(update={"greeting": None,
                                            "turns": config.voice.turns.model_copy(update={"smart_turn": False})})
    project = dataclasses.replace(demo_project, config=config.model_copy(update={"voice": voice}))
    runtime = await build_runtime(Settings(database_url=f"sqlite:///{tmp_path}/plain.db",
                                           admin_token="test-admin-token", admin_token_generated=False),
                                  project, embedder=embedder)
    async with serve_app(create_app(runtime)) as url:  # the app closes the runtime on shutdown
        async with SimulatedCaller.connect(url, call_sid="CAplain") as caller:
            await caller.say("what are your opening hours")
            reply = await caller.next_reply(within=15)
        state = await runtime.engine.state("voice-CAplain")
    said = [e for e in state.events if isinstance(e, UserUttered)]
    assert len(said) == 1 and said[0].metadata["source"] == "speech"
    assert any(isinstance(e, BotUttered) for e in state.events[state.events.index(said[0]):])
    assert len(reply.audio) / 8000 > 1.0


async def test_handoff_transfers_the_call_with_dial_through_twilios_api(
        demo_project: Project, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With Twilio credentials and ``voice.handoff.dial``, pressing 0 updates the live call (Twilio's
    ``Calls/{sid}`` REST resource, here a local stand-in) with TwiML that dials the configured SIP URI
    and carries the conversation id; the caller hears what happens next first."""
    import dataclasses
    import urllib.parse

    from aiohttp import web

    from bot.app.runtime import build_runtime
    from bot.infra.settings import Settings
    from bot.testing.server import serve_app
    from connectors.voice.config import HandoffConfig
    from connectors.web import create_app

    updates: list[tuple[str, dict[str, str], str | None]] = []

    async def calls(request: web.Request) -> web.Response:
        form = await request.post()
        updates.append((request.path, {k: str(v) for k, v in form.items()}, request.headers.get("Authorization")))
        return web.json_response({"sid": request.match_info["call"], "status": "in-progress"})

    twilio = web.Application()
    twilio.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", calls)
    async with serve_app(twilio) as twilio_url:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC0123")
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret-token")
        monkeypatch.setenv("TWILIO_API_BASE", twilio_url)
        config = demo_project.config
        voice = config.voice.model_copy(update={"handoff": HandoffConfig(dial="sip:care@pbx.example.com")})
        project = dataclasses.replace(demo_project, config=config.model_copy(update={"voice": voice}))
        runtime = await build_runtime(Settings(database_url=f"sqlite:///{tmp_path}/dial.db",
                                               admin_token="test-admin-token", admin_token_generated=False),
                                      project, embedder=embedder)
        async with serve_app(create_app(runtime)) as url:
            async with SimulatedCaller.connect(url, call_sid="CAdial1", auth_token="secret-token") as caller:
                await caller.wait_for_speech(within=10)
                await caller.press("0")
                told = await caller.next_reply(within=15)
                for _ in range(100):
                    if updates:
                        break
                    await asyncio.sleep(0.05)
            state = await runtime.engine.state("voice-CAdial1")
    assert str(state.status) == "handoff"
    assert len(told.audio) / 8000 > 1.0  # the caller heard what happens next
    path, form, auth = updates[0]
    assert path == "/2010-04-01/Accounts/AC0123/Calls/CAdial1.json"
    assert auth is not None and auth.startswith("Basic ")
    assert "<Dial><Sip>sip:care@pbx.example.com?X-Careline-Conversation=voice-CAdial1</Sip></Dial>" in \
        urllib.parse.unquote(form["Twiml"])
