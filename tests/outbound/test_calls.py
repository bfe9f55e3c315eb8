"""Campaign calls against the local Twilio stand-in: the scheduler places the call through Twilio's REST API,
the stand-in answers it as Twilio would, and a simulated caller (espeak-ng audio, DTMF) talks to the bot
over the same Media Streams pipeline incoming calls use."""

from __future__ import annotations

from bot.kernel.events import BotUttered
from connectors.outbound.bridge import conversation_id
from connectors.voice.caller import SimulatedCaller
from tests.outbound.conftest import APPOINTMENT_DAY, AUTH_TOKEN, FROM_NUMBER, Line

#: What an unverified callee must not hear about Ada's appointment (P2001).
ACCOUNT_DATA = ("Ada", "Physiotherapy", "Franklin", "27", "9:30")


async def _bot_lines(line: Line, attempt_id: str) -> list[str]:
    state = await line.runtime.engine.state(conversation_id(attempt_id))
    return [e.text for e in state.events if isinstance(e, BotUttered) and not e.interrupted]


async def test_a_called_customer_verifies_and_confirms_by_keypad(line: Line) -> None:
    """The call is placed with machine detection; after the PIN the customer presses 1 and the backend's
    appointment is confirmed; before the PIN the call named only the clinic and "an appointment"."""
    campaign = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY})
    made = await line.service.tick()
    assert [a.target_id for a in made] == ["P2001"]
    call = await line.twilio.next_call()
    assert call.to == "+442079460011" and call.from_ == FROM_NUMBER
    assert call.form["MachineDetection"] == "Enable" and call.authorization and call.authorization.startswith("Basic ")
    async with SimulatedCaller.answer(call.url, line.twilio.answer_form(call), auth_token=AUTH_TOKEN) as caller:
        opening = await caller.next_reply(within=15)
        await caller.press("4567#")
        offer = await caller.next_reply(within=15)
        await caller.press("1")
        confirmed = await caller.next_reply(within=15)
    assert await line.twilio.end_call(call) == 204
    appointments = await line.runtime.backend.list_appointments("C001")  # type: ignore[union-attr]
    assert next(a for a in appointments if a.id == "P2001").status == "confirmed"
    view = await line.service.view(campaign.id)
    assert view["targets"][0]["outcome"] == "confirmed" and view["targets"][0]["status"] == "done"
    assert [a["outcome"] for a in view["attempts"]] == ["confirmed"]  # the status callback did not overwrite it
    said = await _bot_lines(line, made[0].id)
    assert said[0].startswith("Hello, this is Northwind Clinic calling about an appointment.")
    assert not any(word in said[0] for word in ACCOUNT_DATA)
    assert "Physiotherapy assessment with Dr. Rosalind Franklin" in said[1]
    assert said[-1].startswith("Your appointment is confirmed")
    for reply in (opening, offer, confirmed):
        assert len(reply.audio) / 8000 > 1.0  # each was heard on the line


async def test_an_answering_machine_gets_the_short_voicemail(line: Line) -> None:
    """Twilio's machine detection saying ``machine_end_beep`` gets TwiML that says the voicemail and hangs up; it
    names only the clinic and "an appointment", the outcome is voicemail and no further attempt follows."""
    campaign = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY})
    await line.service.tick()
    call = await line.twilio.next_call()
    twiml = await line.twilio.answer(call, answered_by="machine_end_beep")
    assert "<Say>Hello, this is Northwind Clinic with a message about an appointment." in twiml
    assert twiml.endswith("<Hangup/></Response>") and "<Stream" not in twiml
    assert not any(word in twiml for word in ACCOUNT_DATA)
    assert await line.twilio.end_call(call) == 204
    line.clock.advance(3 * 3600)
    assert await line.service.tick() == []
    view = await line.service.view(campaign.id)
    assert view["outcomes"] == {"voicemail": 1} and view["campaign"]["status"] == "done"


async def test_a_greeting_heard_on_an_answered_call_gets_the_voicemail(line: Line) -> None:
    """When Twilio cannot tell (``unknown``), our own check hears a long recorded greeting at pick-up and leaves
    the voicemail instead of starting the dialogue."""
    campaign = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY})
    made = await line.service.tick()
    call = await line.twilio.next_call()
    form = line.twilio.answer_form(call, answered_by="unknown")
    async with SimulatedCaller.answer(call.url, form, auth_token=AUTH_TOKEN) as caller:
        await caller.say("Hi, you have reached Ada. I can't take your call right now, please leave a message "
                         "after the tone.")
        message = await caller.next_reply(within=25)
    assert len(message.audio) / 8000 > 2.0
    said = await _bot_lines(line, made[0].id)
    assert said and said[0].startswith("Hello, this is Northwind Clinic with a message about an appointment.")
    assert (await line.service.view(campaign.id))["outcomes"] == {"voicemail": 1}


async def test_zero_on_the_call_hands_off_to_a_person(line: Line) -> None:
    """0 (before verifying) is recorded as transferred and the conversation goes to the handoff queue, as 0 does
    on an incoming call."""
    campaign = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY})
    made = await line.service.tick()
    call = await line.twilio.next_call()
    async with SimulatedCaller.answer(call.url, line.twilio.answer_form(call), auth_token=AUTH_TOKEN) as caller:
        await caller.next_reply(within=15)
        await caller.press("0#")
        told = await caller.next_reply(within=15)
    assert len(told.audio) / 8000 > 1.0
    state = await line.runtime.engine.state(conversation_id(made[0].id))
    assert str(state.status) == "handoff"
    assert (await line.service.view(campaign.id))["outcomes"] == {"transferred": 1}
