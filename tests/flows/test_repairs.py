"""Conversation repair mid-flow: correct, digress, cancel, switch and come back, ask for a human."""

from __future__ import annotations

from bot.kernel.conversation import Status
from bot.kernel.events import FlowCancelled
from tests.flows.conftest import Bot


async def start_cancel_of(bot: Bot, order: str) -> str:
    await bot.say("cancel my order")
    await bot.say("ada@example.com")
    await bot.say("10 December 1985")
    return await bot.text(order)


async def test_correcting_the_order_number_reruns_the_check(bot: Bot) -> None:
    """"Actually it's A1002" at the confirmation re-checks the new order and asks again about it."""
    assert "cancel order A1001" not in await start_cancel_of(bot, "A1001")
    await bot.say("cancel my order")
    reply = await bot.text("A1002")
    assert "cancel order A1002" in reply
    assert (await bot.state()).slots["order_number"] == "A1002"


async def test_correction_at_a_later_step(bot: Bot) -> None:
    """A correction while confirming changes the slot, re-runs the checks and asks to confirm the new order."""
    await bot.say("cancel my order")
    await bot.say("grace@example.com")
    await bot.say("3 March 1979")
    assert "cancel order A1004" in await bot.text("A1004")
    reply = await bot.text("sorry, I meant A1003")
    assert "updated the order number to A1003" in reply and "already shipped" in reply
    assert (await bot.order("A1004")).status == "processing"


async def test_digression_answers_from_knowledge_then_resumes_with_a_reminder(bot: Bot) -> None:
    """A knowledge question mid-flow gets its answer, then the bot repeats its open question."""
    await bot.say("I want to cancel my order")
    replies = await bot.say("what is your return policy?")
    texts = [r["text"] for r in replies]
    assert texts[0] == "You can return items within 30 days for a full refund."
    assert texts[1] == "Now, back to cancelling your order."
    assert "email address, phone number or order number" in texts[2]
    state = await bot.state()
    assert [f.flow_id for f in state.flow_stack] == ["cancel_order", "authentication"]
    assert "date of birth" in await bot.text("ada@example.com")


async def test_cancel_stops_the_flow_and_the_flows_that_called_it(bot: Bot) -> None:
    """"Never mind" during verification ends both verification and the order flow."""
    await bot.say("cancel my order")
    reply = await bot.text("never mind")
    assert "I've stopped cancelling your order" in reply
    state = await bot.state()
    assert state.flow_stack == []
    assert {e.flow_id for e in state.events if isinstance(e, FlowCancelled)} == {"cancel_order", "authentication"}
    assert state.slots.get("identifier") is None


async def test_switching_flows_and_coming_back(bot: Bot) -> None:
    """Mid-flow, a new request runs to its end and then the first flow resumes with a reminder."""
    await bot.say("where is my order?")
    await bot.say("ada@example.com")
    await bot.say("10 December 1985")
    assert "Which order is it about?" in await bot.text("what did I order?")
    assert [f.flow_id for f in (await bot.state()).flow_stack] == ["order_status", "order_items"]
    replies = await bot.say("A1002")
    texts = [r["text"] for r in replies]
    assert "Arc floor lamp" in texts[0]
    assert texts[1:] == ["Now, back to your order status.",
                         "Which order is it about? Please give me the order number (like A1001)."]
    assert "on its way" in await bot.text("A1001")
    assert (await bot.state()).flow_stack == []


async def test_smalltalk_mid_flow_is_answered_and_the_flow_resumes(bot: Bot) -> None:
    """"Are you a bot?" while collecting is answered and the question is repeated."""
    await bot.say("track my order")
    reply = await bot.text("are you a bot?")
    assert "virtual assistant" in reply and "Now, back to your order status." in reply
    assert "email address" in reply


async def test_asking_for_a_human_mid_flow_hands_off(bot: Bot) -> None:
    """Asking for a person during a flow escalates with reason requested."""
    await bot.say("cancel my order")
    assert "member of our team" in await bot.text("let me talk to a real person")
    state = await bot.state()
    assert state.status is Status.HANDOFF and state.escalation is not None
    assert state.escalation.reason == "requested"


async def test_invalid_answers_are_explained_and_asked_again(bot: Bot) -> None:
    """An answer that holds no order number gets the format hint and the question again."""
    await bot.say("where is my order")
    await bot.say("ada@example.com")
    await bot.say("10 December 1985")
    reply = await bot.text("the blue one")
    assert "look like A1001" in reply and "Which order is it about?" in reply
