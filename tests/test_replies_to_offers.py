"""Short replies are read against what the bot just offered, over the REST channel (issue #16's first kind).

The phrasings are not in the demo's NLU data: they are what customers answer to "Would you like to talk to a
person?" and to the greeting's buttons.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.kernel.events import BotUttered, Escalated
from bot.nlu.acts import Act, chosen_button, reply_act

UNKNOWN = "what is the meaning of life"
"""A question the demo's documents cannot answer: the bot says so and offers a person."""


async def say(http: aiohttp.ClientSession, url: str, sender: str, text: str) -> list[dict[str, Any]]:
    async with http.post(url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = await response.json()
        return replies


@pytest.mark.parametrize("answer", ["yes please", "sure, do that", "ok", "yep", "go on then", "why not"])
async def test_yes_to_the_offer_of_a_person_hands_off(server: str, runtime: Runtime, answer: str) -> None:
    """After the don't-know reply offers a person, a plain yes is a request for one (reason ``requested``)."""
    async with aiohttp.ClientSession() as http:
        first = await say(http, server, "c", UNKNOWN)
        assert any(b["payload"] == "/human" for b in first[-1].get("buttons", []))
        await say(http, server, "c", answer)
    state = await runtime.engine.state("c")
    escalated = [e for e in state.events if isinstance(e, Escalated)]
    assert str(state.status) == "handoff" and escalated and escalated[0].reason == "requested"


@pytest.mark.parametrize("answer", ["nah, it's fine", "no thanks", "not now", "I'm good", "never mind"])
async def test_no_to_the_offer_continues_with_the_bot(server: str, runtime: Runtime, answer: str) -> None:
    """A refusal is answered politely; it neither hands off nor repeats the don't-know reply."""
    async with aiohttp.ClientSession() as http:
        await say(http, server, "c", UNKNOWN)
        replies = await say(http, server, "c", answer)
    state = await runtime.engine.state("c")
    assert str(state.status) == "bot" and not any(isinstance(e, Escalated) for e in state.events)
    last = [e for e in state.events if isinstance(e, BotUttered)][-1]
    assert last.response == "utter_offer_declined" and "help" in replies[0]["text"]


@pytest.mark.parametrize(("answer", "flow"), [("the second one", "authentication"), ("2", "authentication"),
                                              ("my appointments", "authentication"),
                                              ("where is my order", "authentication")])
async def test_a_choice_among_the_greetings_buttons_acts_as_the_button(
        server: str, runtime: Runtime, answer: str, flow: str) -> None:
    """"the second one" after the greeting's buttons starts what the second button starts."""
    async with aiohttp.ClientSession() as http:
        await say(http, server, "c", "hello")
        await say(http, server, "c", answer)
    state = await runtime.engine.state("c")
    assert state.active_flow == flow


async def test_ok_to_several_options_asks_which(server: str, runtime: Runtime) -> None:
    """"ok" to two buttons is not a knowledge question: the bot asks which one, with the same buttons."""
    async with aiohttp.ClientSession() as http:
        greeting = await say(http, server, "c", "hello")
        replies = await say(http, server, "c", "ok")
    assert [b["payload"] for b in replies[0]["buttons"]] == [b["payload"] for b in greeting[0]["buttons"]]
    assert "Which" in replies[0]["text"]


def test_long_or_unrelated_messages_are_not_bare_replies() -> None:
    """Only a short yes/no/choice is read against the buttons; anything longer is understood as usual."""
    buttons = [{"title": "Talk to a person", "payload": "/human"}]
    assert reply_act("yes but where is my order right now please") is None
    assert chosen_button("tell me about returns", buttons) is None
    assert reply_act("nah, it's fine") is Act.DENY and reply_act("sure, do that") is Act.AFFIRM
