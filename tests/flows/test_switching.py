"""A new request while the bot waits for an answer switches to it and comes back (issue #16)."""

from __future__ import annotations

from tests.flows.conftest import Bot


async def test_a_new_request_during_verification_switches_and_returns_without_verifying_twice(bot: Bot) -> None:
    """Asked for an identifier, the customer asks to change the address instead: the bot says it switches, the
    change runs (with its own verification), and the order status resumes without asking to verify again."""
    await bot.say("where is my order")
    switched = await bot.text("can I change the delivery address?")
    assert "changing your delivery address first" in switched and "your order status" in switched
    await bot.say("ada@example.com")
    await bot.say("SW1A 1AA")
    await bot.say("A1002")
    await bot.say("221B Baker Street, London NW1 6XE")
    done = await bot.text("yes")
    assert "221B Baker Street" in (await bot.order("A1002")).address
    assert "check it's you" not in done and "Which order" in done
    assert [f.flow_id for f in (await bot.state()).flow_stack] == ["order_status"]


async def verified_changing_address(bot: Bot) -> None:
    await bot.say("I want to change my delivery address")
    await bot.say("ada@example.com")
    await bot.say("SW1A 1AA")
    await bot.say("A1002")


async def test_cancel_it_mid_flow_asks_which_cancel_and_stop_here_stops(bot: Bot) -> None:
    """"actually, cancel it" while giving a new address is not taken as the address (nor a knowledge question):
    the bot asks whether to cancel the order or stop; "Stop here" stops and nothing changes."""
    await verified_changing_address(bot)
    replies = await bot.say("actually, cancel it")
    which = next(r for r in replies if "or stop" in r.get("text", ""))
    assert [b["payload"] for b in which["buttons"]] == ['/cancel_order{"order_number": "A1002"}', "/cancel"]
    assert "stopped" in await bot.text("Stop here")
    state = await bot.state()
    assert state.flow_stack == [] and (await bot.order("A1002")).status == "processing"
    assert "actually" not in (await bot.order("A1002")).address


async def test_cancel_it_mid_flow_can_cancel_the_order(bot: Bot) -> None:
    """Choosing the order cancels it after the usual confirmation."""
    await verified_changing_address(bot)
    await bot.say("actually, cancel it")
    assert "Are you sure you want to cancel order A1002" in await bot.text("cancel order A1002")
    await bot.say("yes")
    assert (await bot.order("A1002")).status == "cancelled"
