"""The demo's calendar follows the day it starts (``make run``), while tests and evaluations keep the seed's day."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.flows.backend.demo import DEMO_SEED, moved_to
from bot.flows.setup import demo_backend
from bot.infra import environment
from bot.project import Project


def test_moving_the_seed_keeps_every_distance_from_today_and_leaves_birthdays() -> None:
    """Moved to 2027-03-10, an ETA 3 days after the seed's today is 2027-03-13 and an appointment keeps its time."""
    seed = json.loads(DEMO_SEED.read_text())
    seed_today = date.fromisoformat(seed["today"])
    moved = moved_to(seed, date(2027, 3, 10))
    assert moved["today"] == "2027-03-10"
    for before, after in zip(seed["orders"], moved["orders"], strict=True):
        if before.get("eta"):
            gap = (date.fromisoformat(before["eta"]) - seed_today).days
            assert (date.fromisoformat(after["eta"]) - date(2027, 3, 10)).days == gap
    first, first_moved = seed["appointments"][0], moved["appointments"][0]
    assert first["start"][10:] == first_moved["start"][10:]  # the same time of day
    assert [c["date_of_birth"] for c in moved["customers"]] == [c["date_of_birth"] for c in seed["customers"]]


def test_the_demo_today_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset: the seed's own day; ``today``: the real date; a date; anything else is refused with the format."""
    assert environment.demo_today({}) is None
    assert environment.demo_today({"CARELINE_DEMO_TODAY": "today"}) == date.today()
    assert environment.demo_today({"CARELINE_DEMO_TODAY": "2027-01-05"}) == date(2027, 1, 5)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        environment.demo_today({"CARELINE_DEMO_TODAY": "05/01/2027"})


async def test_the_demo_backend_answers_on_the_moved_calendar(demo_project: Project,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With CARELINE_DEMO_TODAY set, upcoming appointments and free slots are counted from that day."""
    monkeypatch.delenv("CARELINE_DEMO_TODAY", raising=False)
    frozen = demo_backend(demo_project)
    monkeypatch.setenv("CARELINE_DEMO_TODAY", "2030-06-01")
    moved = demo_backend(demo_project)
    assert frozen.today == json.loads(DEMO_SEED.read_text())["today"] and moved.today == "2030-06-01"
    customer = json.loads(DEMO_SEED.read_text())["appointments"][0]["customer_id"]
    upcoming, upcoming_moved = await frozen.list_appointments(customer), await moved.list_appointments(customer)
    assert upcoming and len(upcoming_moved) == len(upcoming)
    assert all(a.start >= "2030-06-01" for a in upcoming_moved)
