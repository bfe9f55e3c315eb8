"""Choices over the times or appointments just shown, in the customer's words, over the REST channel (issue #16):
a weekday, "the later time", a clock time, a part of the day, a day of the month, the start of a service's name."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.nlu.acts import chosen_button

SLOTS = [{"title": "Tue 1 Dec at 09:00"}, {"title": "Wed 2 Dec at 13:30"}]
VISITS = [{"title": "Physiotherapy assessment with Dr. Rosalind Franklin on Fri 27 Nov at 09:30"},
          {"title": "Dental hygiene with Dr. Edward Jenner on Tue 8 Dec at 10:00"}]


async def say(http: aiohttp.ClientSession, url: str, sender: str, text: str) -> list[dict[str, Any]]:
    async with http.post(url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = await response.json()
        return replies


@pytest.mark.parametrize(("answer", "expected"), [
    ("the Wednesday one", 1), ("the later time please", 1), ("earlier one", 0), ("tuesday morning works", 0),
    ("1.30pm", 1), ("13:30", 1), ("wednesday afternoon", 1)])
def test_a_time_is_chosen_by_its_day_clock_or_order(answer: str, expected: int) -> None:
    """A weekday, a clock time, a part of the day or "earlier/later" picks the one offered time that fits."""
    assert chosen_button(answer, SLOTS) == SLOTS[expected]


@pytest.mark.parametrize(("answer", "expected"), [
    ("the physio one", 0), ("the one on the 8th", 1), ("friday's", 0), ("the dental one", 1)])
def test_an_appointment_is_chosen_by_its_day_or_the_start_of_its_name(answer: str, expected: int) -> None:
    """A day of the month, a weekday or the start of the service's name picks that appointment."""
    assert chosen_button(answer, VISITS) == VISITS[expected]


@pytest.mark.parametrize("answer", ["tuesday 9am", "the 3rd", "later"])
def test_a_time_that_fits_none_or_both_chooses_nothing(answer: str) -> None:
    """A time that fits no offered button (or, for "later" without times, is not a choice) picks nothing."""
    assert chosen_button(answer, [{"title": "Wed 2 Dec at 13:30"}, {"title": "Yes"}]) is None


async def test_the_wednesday_one_reschedules_to_wednesday_over_rest(server: str, runtime: Runtime) -> None:
    """Grace verifies, is offered Tuesday and Wednesday, says "the Wednesday one" and is asked to confirm it."""
    async with aiohttp.ClientSession() as http:
        await say(http, server, "g", "I need to reschedule my appointment")
        await say(http, server, "g", "grace@example.com")
        offered = await say(http, server, "g", "10001")
        assert any("Wed 2 Dec" in b["title"] for r in offered for b in r.get("buttons", []))
        asked = await say(http, server, "g", "the Wednesday one")
    state = await runtime.engine.state("g")
    assert str(state.slots.get("new_slot", "")).endswith("T13:30")
    assert any("13:30" in r.get("text", "") for r in asked)  # the confirmation names the chosen time
