"""Customers write dates, phone numbers and postcodes the way their country does (issue #16, everyday formats).

The demo project's locale is ``en-GB``: 10/12/1985 is 10 December and national numbers are British first; an
American number is still read as American when it is valid only there.
"""

from __future__ import annotations

import pytest

from bot.nlu.entities import Entity, builtin_extractors
from tests.flows.conftest import Bot


def found(locale: str, text: str) -> list[tuple[str, object]]:
    entities: list[Entity] = []
    for extract in builtin_extractors(locale):
        entities.extend(extract(text))
    return [(e.entity, e.value) for e in entities if e.entity in ("date", "phone")]


@pytest.mark.parametrize(("text", "gb", "us"), [
    ("10/12/1985", "1985-12-10", "1985-10-12"),
    ("10.12.85", "1985-12-10", "1985-10-12"),
    ("10 Dec 85", "1985-12-10", "1985-12-10"),
    ("December 10th, 1985", "1985-12-10", "1985-12-10"),
    ("the 3rd of march 79", "1979-03-03", "1979-03-03"),
])
def test_dates_follow_the_locale_and_two_digit_years_are_in_the_past(text: str, gb: str, us: str) -> None:
    """Day-first in en-GB, month-first in en-US; "85" is 1985, not 2085."""
    assert ("date", gb) in found("en-GB", text)
    assert ("date", us) in found("en-US", text)


@pytest.mark.parametrize(("text", "phone"), [
    ("(415) 555-0100", "+14155550100"), ("020 7946 0011", "+442079460011"), ("07700 900123", "+447700900123"),
    ("+1 212 555 0102", "+12125550102"),
])
def test_national_phone_numbers_are_read_where_they_are_valid(text: str, phone: str) -> None:
    assert ("phone", phone) in found("en-GB", text)


def test_a_date_written_with_dashes_is_not_a_phone_number() -> None:
    assert [kind for kind, _ in found("en-GB", "1985-12-10")] == ["date"]


@pytest.mark.parametrize("proof", ["10/12/1985", "10.12.85", "10th December 1985", "sw1a1aa"])
async def test_a_british_customer_verifies_with_a_day_first_date_or_a_bare_postcode(bot: Bot, proof: str) -> None:
    """Ada (a UK account, born 10 December 1985, SW1A 1AA) verifies however she writes it."""
    await bot.say("where is my order")
    await bot.say("ada@example.com")
    await bot.say(proof)
    state = await bot.state()
    assert state.slots.get("authenticated") is True, bot.transcript
