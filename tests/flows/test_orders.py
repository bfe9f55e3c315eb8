"""Order updates: status and ETA, items, address change and cancellation before shipping, problems."""

from __future__ import annotations

from bot.kernel.conversation import Status
from tests.flows.conftest import Bot


async def verify_ada(bot: Bot, first: str) -> str:
    await bot.say(first)
    await bot.say("ada@example.com")
    return await bot.text("10 December 1985")


async def test_status_and_eta_of_a_shipped_order(bot: Bot) -> None:
    """A prefilled order number is answered right after verification, marked as account data."""
    await bot.say("what's the status of A1001?")
    replies = await bot.say("10 December 1985")
    status = next(r for r in replies if "A1001" in r["text"])
    assert "on its way" in status["text"] and "26 Nov" in status["text"]
    assert status["custom"] == {"account_data": True}


async def test_items_of_an_order(bot: Bot) -> None:
    """The items flow lists the products and quantities."""
    await verify_ada(bot, "what did I order?")
    reply = await bot.text("A1002")
    assert "1 × Arc floor lamp, brass" in reply and "2 × Velvet cushion, green" in reply


async def test_someone_elses_order_is_not_found(bot: Bot) -> None:
    """A verified customer cannot read another customer's order."""
    await verify_ada(bot, "where is my order")
    reply = await bot.text("A1003")
    assert "couldn't find that order" in reply and "Oak desk" not in reply


async def test_change_address_before_shipping_changes_the_backend(bot: Bot) -> None:
    """The new address is confirmed, then stored by the backend."""
    await verify_ada(bot, "I need to change my delivery address")
    assert "new delivery address" in await bot.text("A1002")
    assert "12 Elm Road, Bristol BS1 4DJ" in await bot.text("12 Elm Road, Bristol BS1 4DJ")
    assert "will be delivered to 12 Elm Road" in await bot.text("yes")
    order = await bot.backend.get_order("A1002")
    assert order is not None and order.address == "12 Elm Road, Bristol BS1 4DJ"


async def test_address_cannot_change_after_shipping(bot: Bot) -> None:
    """A shipped order's address is refused and the backend keeps the old one."""
    await verify_ada(bot, "change the address for my order")
    assert "already shipped" in await bot.text("A1001")
    order = await bot.backend.get_order("A1001")
    assert order is not None and order.address.startswith("10 Downing Street")


async def test_cancel_with_confirmation(bot: Bot) -> None:
    """Cancelling asks first; "yes" cancels in the backend."""
    await verify_ada(bot, "cancel my order")
    assert "Are you sure" in await bot.text("A1002")
    assert "is cancelled" in await bot.text("yes please")
    order = await bot.backend.get_order("A1002")
    assert order is not None and order.status == "cancelled"


async def test_declining_the_cancellation_keeps_the_order(bot: Bot) -> None:
    """Answering no leaves the order untouched."""
    await verify_ada(bot, "cancel my order")
    await bot.say("A1002")
    assert "haven't changed anything" in await bot.text("no, keep it")
    order = await bot.backend.get_order("A1002")
    assert order is not None and order.status == "processing"


async def test_shipped_orders_cannot_be_cancelled(bot: Bot) -> None:
    """Cancellation after shipping is refused."""
    assert "already shipped" in await verify_ada(bot, "I want to cancel order A1001")
    assert (await bot.order("A1001")).status == "shipped"
    state = await bot.state()
    assert state.active_flow is None


async def test_damaged_delivery_is_recorded_and_handed_off_with_context(bot: Bot) -> None:
    """A damaged delivery opens a case and escalates to the deliveries team with the order in context."""
    await verify_ada(bot, "my order arrived damaged")
    assert "missing or damaged" in await bot.text("A1001")
    reply = await bot.text('/inform{"problem_type": "damaged"}')
    assert "opened case CASE-" in reply and "member of our team" in reply
    state = await bot.state()
    assert state.status is Status.HANDOFF
    assert state.escalation is not None and state.escalation.team == "deliveries"
    assert state.slots["order_number"] == "A1001" and state.slots["problem_type"] == "damaged"
