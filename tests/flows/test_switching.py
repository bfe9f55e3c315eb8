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
