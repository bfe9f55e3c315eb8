"""Done when (#23): verify in the web chat, then call with the same customer (the simulated caller over the
real websocket): after verifying on the phone, the voice bot offers to finish the open matter and resumes it."""

from __future__ import annotations

from bot.app.runtime import Runtime
from bot.kernel.events import BotUttered, MatterOffered, MatterResumed
from connectors.voice.caller import SimulatedCaller
from tests.customers.test_continuity import leave_address_change_open


async def test_caller_verified_by_keypad_is_offered_the_chat_matter_and_resumes_it(server: str,
                                                                                    runtime: Runtime) -> None:
    """Keypad menu, phone number and PIN verify the caller; the bot then offers the address change of A1002
    left open in the chat, and "1" takes it up: the next question is the chat flow's open one."""
    chat = await leave_address_change_open(runtime)
    async with SimulatedCaller.connect(server, call_sid="CAresume", caller_id="+442079460011") as caller:
        await caller.wait_for_speech(within=10)
        await caller.press("1")
        await caller.next_reply()
        await caller.press("02079460011#")
        await caller.next_reply()
        await caller.press("4567#")
        offered = await caller.next_reply(within=30)
        await caller.press("1#")
        resumed = await caller.next_reply(within=30)
    state = await runtime.engine.state("voice-CAresume")
    assert state.slots["customer_id"] == "C001"
    offers = [e for e in state.events if isinstance(e, MatterOffered)]
    assert [(o.from_conversation, o.flow_id) for o in offers] == [(chat, "change_delivery_address")]
    said = [e.text for e in state.events if isinstance(e, BotUttered)]
    assert any("changing your delivery address of A1002" in text for text in said)
    assert [e.accepted for e in state.events if isinstance(e, MatterResumed)] == [True]
    assert [f.flow_id for f in state.flow_stack] == ["change_delivery_address"]
    assert said[-1] == "What's the new delivery address?"
    assert len(offered.audio) / 8000 > 1.0 and len(resumed.audio) / 8000 > 1.0  # both were spoken on the line
    assert runtime.customers is not None
    assert {link.conversation_id for link in await runtime.customers.links("C001")} == {chat, "voice-CAresume"}
    assert await runtime.customers.hinted("phone", "+44 20 7946 0011") == ["C001"]
