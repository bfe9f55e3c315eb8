"""Built-in entities and spoken-form normalization."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.nlu.entities import extract_all, extract_dates
from bot.nlu.normalize import normalize_spoken, spoken_year


def values(text: str) -> list[tuple[str, object]]:
    return [(e.entity, e.value) for e in extract_all(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("what is the status of a1001?", [("order_number", "A1001")]),
    ("order A-1002 please", [("order_number", "A1002")]),
    ("my email is Ada@Example.com", [("email", "ada@example.com")]),
    ("call me on +44 20 7946 0011", [("phone", "+442079460011")]),
    ("it's 0161 496 0003", [("phone", "+441614960003")]),
    ("my postcode is sw1a 1aa", [("postcode", "SW1A 1AA")]),
    ("zip 10001", [("postcode", "10001")]),
    ("my pin is 4567", [("pin", "4567")]),
    ("yes please", [("yes_no", True)]),
    ("no, keep it", [("yes_no", False)]),
    ("the second one", [("ordinal", 2)]),
    ("the last one", [("ordinal", -1)]),
    ("born 10 December 1985", [("date", "1985-12-10")]),
    ("1985-12-10", [("date", "1985-12-10")]),
])
def test_builtin_entities_have_canonical_values(text: str, expected: list) -> None:
    """Each extractor returns the canonical value, and overlapping guesses are dropped."""
    assert values(text) == expected


def test_relative_dates_and_times_resolve_against_now() -> None:
    """"next Tuesday at 3pm" is a date and a datetime relative to the given now."""
    found = {e.entity: e.value for e in extract_dates("next Tuesday at 3pm", now=datetime(2026, 11, 23, 10, 0))}
    assert found["datetime"].endswith("T15:00") and found["date"] in ("2026-11-24", "2026-12-01")


@pytest.mark.parametrize(("spoken", "written"), [
    ("four five six seven", "4567"),
    ("a one zero zero one", "A1001"),
    ("my order is a one zero zero one please", "my order is A1001 please"),
    ("double three four five", "3345"),
    ("the third of March nineteen eighty", "1980-03-03"),
    ("I was born on the tenth of December nineteen eighty five", "I was born on 1985-12-10"),
    ("twenty first of June two thousand and five", "2005-06-21"),
    ("john at example dot com", "john@example.com"),
    ("I want one thing", "I want one thing"),
    ("the second one", "the second one"),
])
def test_spoken_forms_normalize(spoken: str, written: str) -> None:
    """Voice transcripts' numbers, codes, dates and emails become their written forms; other text is kept."""
    assert normalize_spoken(spoken) == written


def test_spoken_years() -> None:
    """Years said as words convert; nonsense does not."""
    assert [spoken_year(t) for t in ("nineteen eighty", "nineteen oh five", "two thousand", "nineteen banana")] == [
        1980, 1905, 2000, None]
