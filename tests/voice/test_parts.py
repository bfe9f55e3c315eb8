"""The voice channel's parts without a call: Media Streams parsing, spoken choices, grammars, TwiML, backchannels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.kernel.conversation import ConversationState
from bot.kernel.events import FlowStarted, FlowStepReached
from bot.kernel.messages import BotMessage, Button
from bot.project import Project
from connectors.voice.bridge import expected_answer
from connectors.voice.config import HandoffConfig, TwilioCredentials
from connectors.voice.errors import CallProtocolError
from connectors.voice.lm import Expect, Expectation, SpeechModel, grammar, spell_digits
from connectors.voice.serializer import CallStopped, StrictTwilioSerializer, parse_message, parse_start
from connectors.voice.speech import choose, is_backchannel, spoken_text
from connectors.voice.twiml import connect_stream, dial

BUTTONS = (Button("Where is my order?", "/check_order_status"), Button("My appointments", "/confirm_appointment"))


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"no_event": 1}', b'{"event": "media"}'])
def test_malformed_messages_are_protocol_errors(raw: str | bytes) -> None:
    """Non-JSON, non-objects, a missing event and binary frames raise CallProtocolError."""
    with pytest.raises(CallProtocolError):
        parse_message(raw)


def test_start_needs_a_stream_sid_and_keeps_custom_parameters() -> None:
    """``start`` without a streamSid is refused; its custom parameters are kept as strings."""
    with pytest.raises(CallProtocolError, match="streamSid"):
        parse_start({"event": "start", "start": {}})
    start = parse_start({"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1",
                                                     "customParameters": {"conversation_id": "c-1"}}})
    assert (start.stream_sid, start.call_sid, start.custom_parameters) == ("MZ1", "CA1", {"conversation_id": "c-1"})


def test_serializer_refuses_bad_media_and_late_start_and_stops_on_stop() -> None:
    """After start: bad base64 and a second start are protocol errors, a bad DTMF digit too; stop ends the call."""
    serializer = StrictTwilioSerializer(parse_start({"event": "start", "start": {"streamSid": "MZ1"}}),
                                        params=StrictTwilioSerializer.InputParams(auto_hang_up=False))

    async def feed(message: str) -> object:
        return await serializer.deserialize(message)

    for bad in ('{"event": "media", "media": {"payload": "***"}}', '{"event": "start", "start": {}}',
                '{"event": "dtmf", "dtmf": {"digit": "x"}}', '{"event": "media", "media": {}}'):
        with pytest.raises(CallProtocolError):
            asyncio.run(feed(bad))
    assert asyncio.run(feed('{"event": "mark", "mark": {"name": "m1"}}')) is None and serializer.marks == ["m1"]
    with pytest.raises(CallStopped):
        asyncio.run(feed('{"event": "stop"}'))


def test_buttons_are_spoken_as_numbered_choices() -> None:
    """Buttons become "say or press one for ..., or two for ..."."""
    text = spoken_text(BotMessage("How can I help?", BUTTONS))
    assert text == "How can I help? Say or press one for Where is my order, or two for My appointments."


@pytest.mark.parametrize(("said", "payload"), [
    ("two", "/confirm_appointment"), ("where is my order", "/check_order_status"),
    ("my appointments please", "/confirm_appointment"), ("tell me a joke", None)])
def test_spoken_choice_picks_a_button(said: str, payload: str | None) -> None:
    """A number word or most of a button's title picks that button; anything else picks none."""
    assert choose(said, BUTTONS) == payload


@pytest.mark.parametrize(("text", "expected"), [
    ("mhm", True), ("okay you do", True), ("uh yeah", True), ("okay", True),
    ("stop", False), ("no I want an agent", False), ("I need to change my delivery address now", False)])
def test_backchannels_are_short_acknowledgements(text: str, expected: bool) -> None:
    """Short utterances opening with "mhm"/"okay"/"yeah" are backchannels; commands and sentences are not."""
    assert is_backchannel(text, ["mhm", "okay", "ok", "yeah", "uh huh"]) is expected


def test_domain_model_and_grammars(demo_project: Project, tmp_path: Path) -> None:
    """The project's LM knows its words; closed answers get exact-length grammars with escape words."""
    model = SpeechModel.build(demo_project, folder=tmp_path)
    assert {"order", "agent", "appointment", "four"} <= model.vocabulary
    assert "\\data\\" in model.arpa.read_text()
    pin = grammar(Expectation(Expect.DIGITS, digits=4), model.vocabulary)
    assert pin is not None and "<digit> <digit> <digit> <digit>" in pin and "| agent" in pin
    code = grammar(Expectation(Expect.CODE, digits=4), model.vocabulary)
    assert code is not None and "<letter> <digit> <digit> <digit> <digit>" in code
    assert grammar(Expectation(Expect.OPEN), model.vocabulary) is None
    assert grammar(Expectation(Expect.CHOICE, ("Yes",)), model.vocabulary) is None
    assert spell_digits("A1001").split() == ["A", "one", "zero", "zero", "one"]


def test_flow_steps_set_what_the_recognizer_expects(demo_project: Project) -> None:
    """The PIN-less identifier is open, the order number is a code, no active step means no expectation."""
    state = ConversationState("c")
    assert expected_answer(state, demo_project) is None
    for event in (FlowStarted(flow_id="order_status"), FlowStepReached(flow_id="order_status", step_id="1")):
        state.apply(event)
    assert expected_answer(state, demo_project) == Expectation(Expect.CODE, digits=4)
    state.apply(FlowStarted(flow_id="authentication"))
    state.apply(FlowStepReached(flow_id="authentication", step_id="identify"))
    assert expected_answer(state, demo_project) == Expectation()


def test_twiml_connects_and_dials_with_the_conversation_id() -> None:
    """Connect carries parameters (escaped); Dial to a SIP URI carries the conversation id as a header."""
    xml = connect_stream("wss://bot.example/voice/stream", {"conversation_id": 'a"b'})
    assert '<Parameter name="conversation_id" value="a&quot;b"/>' in xml
    sip = dial(HandoffConfig(dial="sip:desk@pbx.example"), "voice-CA1")
    assert "<Sip>sip:desk@pbx.example?X-Careline-Conversation=voice-CA1</Sip>" in sip
    assert "<Number>+15550100</Number>" in dial(HandoffConfig(dial="+15550100", caller_id="+15550199"), "c")
    with pytest.raises(ValueError, match=r"handoff\.dial"):
        dial(HandoffConfig(), "c")


def test_twilio_credentials_come_from_the_environment_only_when_complete() -> None:
    """Both the account SID and the auth token are needed; otherwise the call stays on the line."""
    assert TwilioCredentials.from_env({"TWILIO_ACCOUNT_SID": "AC1"}) is None
    creds = TwilioCredentials.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"})
    assert creds is not None and creds.api_base == "https://api.twilio.com"


def test_call_command_is_mounted_on_the_cli() -> None:
    """``careline call --help`` documents the simulated caller."""
    from careline.cli import main

    result = CliRunner().invoke(main, ["call", "--help"])
    assert result.exit_code == 0 and "dtmf:" in result.output
