"""Authentication: identify + verify, one-time codes, voice PINs, lockout after three failures."""

from __future__ import annotations

from bot.kernel.conversation import Status
from bot.kernel.messages import UserMessage
from tests.flows.conftest import Bot


async def said(bot: Bot, text: str, channel: str, metadata: dict[str, str] | None = None) -> str:
    """What the engine answers to ``text`` received on ``channel`` (set as a connector would set it)."""
    replies = await bot.runtime.engine.handle(bot.sender, UserMessage(text, channel, metadata or {}))
    return "\n".join(r.text for r in replies)


async def test_identify_by_email_and_verify_by_postcode(bot: Bot) -> None:
    """Email then postcode verifies the customer and the order flow continues."""
    assert "email address, phone number or order number" in await bot.text("where is my order?")
    assert "date of birth or your postcode" in await bot.text("ada@example.com")
    reply = await bot.text("my postcode is sw1a 1aa")
    assert "you're verified" in reply and "order number" in reply
    state = await bot.state()
    assert state.slots["authenticated"] is True and state.slots["customer_id"] == "C001"


async def test_identify_by_phone_and_verify_by_date_of_birth(bot: Bot) -> None:
    """A phone number in national format identifies; a spelled-out date of birth verifies."""
    await bot.say("I want to confirm my appointment")
    await bot.say("my number is 0161 496 0003")
    reply = await bot.text("I was born on 23 June 1990")
    assert "Alan" in reply and "Blood test" in reply


async def test_one_time_code_sent_through_the_backend_verifies(bot: Bot) -> None:
    """Asking for a code sends one through the backend; typing it verifies."""
    await bot.say("track my order")
    await bot.say("grace@example.com")
    assert "six-digit code" in await bot.text("/request_code")
    code = bot.backend.outbox[-1]["code"]
    assert bot.backend.outbox[-1]["to"] == "grace@example.com"
    assert "you're verified" in await bot.text(code)


async def test_voice_callers_verify_with_a_spoken_pin(bot: Bot) -> None:
    """On voice the bot asks for the PIN, and "four five six seven" is normalized to 4567."""
    assert "order number" in await said(bot, "where is my order", "voice")
    assert "PIN" in await said(bot, "ada at example dot com", "voice")
    assert "you're verified" in await said(bot, "four five six seven", "voice")


async def test_a_client_claiming_the_voice_channel_in_metadata_cannot_verify_with_a_pin(bot: Bot) -> None:
    """The channel is the one the server received the message on: ``metadata.channel = "voice"`` on a REST
    message neither gets the PIN question nor makes a typed PIN a proof."""
    claim = {"channel": "voice"}
    await said(bot, "where is my order", "rest", claim)
    asked = await said(bot, "ada@example.com", "rest", claim)
    assert "PIN" not in asked and "date of birth" in asked
    reply = await said(bot, "4567", "rest", claim)
    assert "don't match" in reply and "verified" not in reply
    state = await bot.state()
    assert not state.slots.get("authenticated") and state.slots["auth_attempts"] == 1


async def test_a_pin_is_not_accepted_on_text_channels(bot: Bot) -> None:
    """A typed PIN on the web is not one of the accepted proofs there, so it counts as a failure."""
    await bot.say("where is my order")
    await bot.say("ada@example.com")
    assert "don't match" in await bot.text("4567")
    assert (await bot.state()).slots["auth_attempts"] == 1


async def test_three_failed_verifications_lock_and_escalate(bot: Bot) -> None:
    """Three wrong answers lock verification and hand off with reason auth_failed."""
    await bot.say("where is my order")
    for attempt in range(3):
        await bot.say("ada@example.com")
        reply = await bot.text("my postcode is ZZ9 9ZZ")
        if attempt < 2:
            assert "don't match" in reply
    assert "locked" in reply and "member of our team" in reply
    state = await bot.state()
    assert state.status is Status.HANDOFF
    assert state.escalation is not None and state.escalation.reason == "auth_failed"
    assert state.slots["auth_locked"] is True and not state.slots.get("authenticated")


async def test_lock_holds_for_the_rest_of_the_conversation(bot: Bot) -> None:
    """After an agent hands back, a locked conversation cannot try verification again."""
    from bot.kernel.events import ReturnedToBot

    await bot.say("where is my order")
    for _ in range(3):
        await bot.say("ada@example.com")
        await bot.say("SW1A 9ZZ")
    await bot.runtime.engine.record(bot.sender, [ReturnedToBot(agent="a1")])
    reply = await bot.text("where is my order A1002?")
    assert "locked" in reply
    assert "processing" not in reply and "prepared" not in reply


async def test_verified_customers_are_not_asked_again(bot: Bot) -> None:
    """Once verified, a second account flow goes straight to its question."""
    await bot.say("where is my order")
    await bot.say("ada@example.com")
    await bot.say("10 December 1985")
    await bot.say("A1001")
    reply = await bot.text("what's in my order A1002?")
    assert "Arc floor lamp" in reply and "verify" not in reply.lower()


async def test_without_a_database_the_lockout_still_spans_conversations(bot: Bot) -> None:
    """A runner wired the old way (``flow_runner(project, backend)``) keeps the lockout in memory: after two
    conversations of wrong postcodes the right one is refused in a third conversation of the same process."""
    for sender in ("guess-1", "guess-2"):
        await bot.say("where is my order", sender=sender)
        for _ in range(3):
            await bot.say("ada@example.com", sender=sender)
            await bot.say("my postcode is ZZ9 9ZZ", sender=sender)
    await bot.say("where is my order", sender="guess-3")
    await bot.say("ada@example.com", sender="guess-3")
    assert "don't match" in await bot.text("my postcode is SW1A 1AA", sender="guess-3")
    assert not (await bot.state("guess-3")).slots.get("authenticated")
