"""Which order is it about? Told by the backend when there is no doubt, offered as buttons when there is (#16).

The demo flows collect ``order_number`` with the custom question ``action_ask_order_number`` (Rasa's
``action_ask_<slot>`` convention): the customer's only order is taken, so is the one order whose items the customer
named ("any news on my chair?"); with several and no clue the orders are offered as buttons, and "the lamp one"
picks by the words of a button.
"""

from __future__ import annotations

from tests.flows.conftest import Bot


def text(replies: list[dict]) -> str:
    return "\n".join(str(r.get("text", "")) for r in replies)


async def test_the_only_order_on_the_account_is_not_asked_for(bot: Bot) -> None:
    await bot.say("what's the status of my order")
    await bot.say("katherine@example.com")  # one order: A1006
    reply = text(await bot.say("23666"))
    assert "A1006" in reply and "Which order" not in reply


async def test_the_item_named_before_verifying_picks_the_order(bot: Bot) -> None:
    """Grace has a desk (A1003) and a chair (A1004): "any news on my chair?" is about A1004."""
    await bot.say("any news on my chair?")
    await bot.say("grace@example.com")
    reply = text(await bot.say("10001"))
    assert "Order A1004" in reply and "Which order" not in reply and "A1003" not in reply


async def test_several_orders_are_offered_and_a_reply_naming_one_picks_it(bot: Bot) -> None:
    await bot.say("cancel my order please")
    await bot.say("ada@example.com")
    replies = await bot.say("SW1A 1AA")
    asked = next(r for r in replies if "Which order" in str(r.get("text", "")))
    assert sorted(b["payload"] for b in asked["buttons"]) == ['/choose{"order_number": "A1001"}',
                                                              '/choose{"order_number": "A1002"}']
    assert asked["custom"] == {"account_data": True}
    assert "cancel order A1002" in text(await bot.say("the lamp one"))


async def test_a_wrong_answer_is_asked_again_with_the_same_choices(bot: Bot) -> None:
    await bot.say("where is my order")
    await bot.say("ada@example.com")
    await bot.say("SW1A 1AA")
    replies = await bot.say("the blue one")
    again = next(r for r in replies if "Which order" in str(r.get("text", "")))
    assert len(again["buttons"]) == 2
