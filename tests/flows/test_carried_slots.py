"""Values carried from an earlier message meet the same checks as an answer to the step (issue #16)."""

from __future__ import annotations

from tests.flows.conftest import Bot


async def test_a_time_from_the_opening_message_is_checked_against_the_offered_slots(bot: Bot) -> None:
    """"move my appointment to December 5th at 4pm": once verified, the time (not offered) is refused with the
    step's reason and the question asked, as if it had been typed at the question; nothing moves."""
    await bot.say("can I move my appointment to December 5th at 4pm")
    await bot.say("grace@example.com")
    reply = "\n".join(r.get("text", "") for r in await bot.say("10001"))
    assert "pick one of the times I offered" in reply and "Which time suits you" in reply
    [kept] = await bot.backend.list_appointments("C002")
    assert kept.start == "2026-11-30T14:00"
    state = await bot.state()
    assert state.slots.get("new_slot") is None


async def test_a_code_in_the_opening_payload_is_not_taken_before_one_was_sent(bot: Bot) -> None:
    """``/check_order_status{"otp_code": ...}`` does not fill the one-time code: the step asks after sending."""
    await bot.say('/check_order_status{"otp_code": "123456"}')
    state = await bot.state()
    assert state.slots.get("otp_code") is None
    await bot.say('/check_order_status{"otp_code": "x"}')
    assert (await bot.state()).slots.get("otp_code") is None


async def test_an_order_number_given_to_identify_is_not_asked_for_again(bot: Bot) -> None:
    """Identifying with A1002 and verifying answers about A1002: no "Which order is it about?" after it."""
    await bot.say("where is my order")
    await bot.say("A1002")
    reply = "\n".join(r.get("text", "") for r in await bot.say("SW1A 1AA"))
    assert "Order A1002" in reply and "Which order" not in reply


async def test_an_order_number_of_someone_else_is_not_disclosed_by_being_remembered(bot: Bot) -> None:
    """A number said before verifying is still checked against the verified account when it is used."""
    await bot.say("is there any news about order A1003")  # Grace's order
    await bot.say("ada@example.com")
    reply = "\n".join(r.get("text", "") for r in await bot.say("SW1A 1AA"))
    assert "A1003" not in reply.replace("order A1003", "") and "couldn't find that order" in reply
