"""Appointment confirmations: find, confirm, reschedule to an offered slot, cancel — the backend changes."""

from __future__ import annotations

from tests.flows.conftest import Bot


async def verify(bot: Bot, first: str, email: str, proof: str) -> list[dict]:
    await bot.say(first)
    await bot.say(email)
    return await bot.say(proof)


async def test_single_appointment_is_found_and_confirmed(bot: Bot) -> None:
    """Grace's only appointment is shown; "yes" confirms it in the backend."""
    replies = await verify(bot, "confirm my appointment", "grace@example.com", "10001")
    text = "\n".join(r["text"] for r in replies)
    assert "Annual check-up with Dr. Jonas Salk on Mon 30 Nov at 14:00" in text
    assert "Shall I confirm" in text
    assert "is confirmed" in await bot.text("yes")
    [appointment] = await bot.backend.list_appointments("C002")
    assert appointment.status == "confirmed"


async def test_several_appointments_offer_a_choice_by_button(bot: Bot) -> None:
    """With two appointments the customer picks one with a button payload."""
    replies = await verify(bot, "I want to confirm my appointment", "ada@example.com", "SW1A 1AA")
    choice = next(r for r in replies if r.get("buttons"))
    assert [b["payload"] for b in choice["buttons"]] == ['/choose{"appointment_id": "P2001"}',
                                                          '/choose{"appointment_id": "P2006"}']
    assert "Dental hygiene" in await bot.text(choice["buttons"][1]["payload"])
    await bot.say("yes")
    statuses = {a.id: a.status for a in await bot.backend.list_appointments("C001")}
    assert statuses == {"P2001": "booked", "P2006": "confirmed"}


async def test_reschedule_to_an_offered_slot_chosen_by_ordinal(bot: Bot) -> None:
    """"The second one" picks the second offered time; the backend moves the appointment."""
    replies = await verify(bot, "I need to reschedule my appointment", "grace@example.com", "10001")
    offer = next(r for r in replies if r.get("buttons"))
    assert [b["title"] for b in offer["buttons"]] == ["Tue 1 Dec at 09:00", "Wed 2 Dec at 13:30"]
    assert "Move your Annual check-up" in await bot.text("the second one")
    assert "Wed 2 Dec at 13:30" in await bot.text("yes")
    [moved] = await bot.backend.list_appointments("C002")
    assert moved.start == "2026-12-02T13:30"
    freed = await bot.backend.free_slots("P2002", limit=5)
    assert "2026-11-30T14:00" in [s.start for s in freed]


async def test_reschedule_rejects_a_time_that_was_not_offered(bot: Bot) -> None:
    """A time outside the offered slots is refused and the question asked again."""
    await verify(bot, "can I move my appointment", "grace@example.com", "10001")
    reply = await bot.text("December 5th at 4pm")
    assert "pick one of the times I offered" in reply and "Which time suits you" in reply
    [kept] = await bot.backend.list_appointments("C002")
    assert kept.start == "2026-11-30T14:00"


async def test_cancel_appointment_with_confirmation(bot: Bot) -> None:
    """Cancelling asks first; "yes" cancels in the backend."""
    await verify(bot, "cancel my appointment", "grace@example.com", "10001")
    assert "is cancelled" in await bot.text("yes")
    assert await bot.backend.list_appointments("C002") == []
