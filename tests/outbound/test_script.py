"""The keypad dialogue, the disclosure policy and the greeting check, without a phone line (demo backend)."""

from __future__ import annotations

import pytest

from bot.flows.backend import DemoBackend
from bot.outbound import CallScript, OutboundConfig, Outcome, detect_voicemail_greeting, machine_answered, wording
from bot.outbound.script import Phase, proof_from_keys

SUBJECT = {"id": "P2001", "service": "Physiotherapy assessment", "clinician": "Dr. Rosalind Franklin",
           "start": "2026-11-27T09:30", "first_name": "Ada"}
PRIVATE = ("Ada", "Physiotherapy", "Franklin", "9:30", "27")


def _script(backend: DemoBackend, **config: object) -> CallScript:
    return CallScript(backend, OutboundConfig.model_validate(config), "a" * 16, "C001", dict(SUBJECT), "Ada")


@pytest.fixture
def backend() -> DemoBackend:
    return DemoBackend.from_seed_file()


async def _status(backend: DemoBackend) -> tuple[str, str]:
    appointment = next(a for a in await backend.list_appointments("C001") if a.id == "P2001")
    return appointment.status, appointment.start


@pytest.mark.parametrize(("policy", "shown", "hidden"), [
    ("verified_only", (), PRIVATE),
    ("name_only", ("Ada",), ("Physiotherapy", "Franklin", "9:30")),
    ("everything", ("Physiotherapy assessment with Dr. Rosalind Franklin", "9:30 a m"), ()),
])
def test_the_disclosure_policy_decides_what_is_said_before_verification(
        backend: DemoBackend, policy: str, shown: tuple[str, ...], hidden: tuple[str, ...]) -> None:
    """The opening, the voicemail and the SMS say only what ``outbound.disclosure`` allows."""
    script = _script(backend, disclosure=policy)
    config = script.config
    for text in (script.opening().say, script.voicemail().say, wording.reminder(config, SUBJECT, "Ada")):
        assert text.startswith(("Hello, this is Northwind Clinic", "Northwind Clinic:"))
        assert all(word in text for word in shown), text
        assert not any(word in text for word in hidden), text


async def test_date_of_birth_by_keypad_verifies_and_the_details_follow(backend: DemoBackend) -> None:
    """``10121985#`` (DDMMYYYY) verifies Ada; only then the appointment is described."""
    script = _script(backend)
    step = await script.keys("10121985")
    assert script.phase is Phase.OFFER and "Physiotherapy assessment with Dr. Rosalind Franklin" in step.say


async def test_three_wrong_proofs_end_the_call_without_details(backend: DemoBackend) -> None:
    """Wrong PINs get "try again" twice, then the call ends (outcome reached) and nothing was disclosed."""
    script = _script(backend)
    said = [(await script.keys(keys)).say for keys in ("1111", "01011990")]
    last = await script.keys("12")
    assert last.end and last.outcome is Outcome.REACHED
    assert not any(word in text for text in [*said, last.say] for word in PRIVATE)
    assert await _status(backend) == ("booked", "2026-11-27T09:30")


async def test_two_reschedules_to_an_offered_slot(backend: DemoBackend) -> None:
    """2 lists free times with the same clinician; picking 1 moves the appointment there in the backend."""
    script = _script(backend)
    await script.keys("4567")
    offered = await script.keys("2")
    assert "press 1 for Friday 27 November at 3 p m" in offered.say
    moved = await script.keys("1")
    assert moved.outcome is Outcome.RESCHEDULED and moved.end
    assert (await _status(backend))[1] == "2026-11-27T15:00"


async def test_three_then_one_cancels_and_the_same_key_twice_changes_nothing_twice(backend: DemoBackend) -> None:
    """3 asks to confirm, 1 cancels; a repeat of the attempt's key is not applied again (idempotency key)."""
    script = _script(backend)
    await script.keys("4567")
    await script.keys("3")
    cancelled = await script.keys("1")
    assert cancelled.outcome is Outcome.CANCELLED
    assert [c["op"] for c in backend.changes] == ["cancel_appointment"]
    again = _script(backend)
    await again.keys("4567")
    await again.keys("3")
    await again.keys("1")
    assert [c["op"] for c in backend.changes] == ["cancel_appointment"]


async def test_nine_and_spoken_stop_opt_out_and_zero_asks_for_a_person(backend: DemoBackend) -> None:
    """9 after verification and "stop" at any time end the call opted out; 0 hands off, even unverified."""
    nine = _script(backend)
    await nine.keys("4567")
    assert (await nine.keys("9")).outcome is Outcome.OPTED_OUT
    assert (await _script(backend).said("please stop calling me")).outcome is Outcome.OPTED_OUT
    person = await _script(backend).keys("0")
    assert person.handoff and person.outcome is Outcome.TRANSFERRED


def test_keypad_proofs() -> None:
    """Four to six digits are a PIN, eight a date of birth; other lengths are no proof."""
    assert proof_from_keys("4567").pin == "4567"  # type: ignore[union-attr]
    assert proof_from_keys("10121985").date_of_birth == "1985-12-10"  # type: ignore[union-attr]
    assert proof_from_keys("123") is None and proof_from_keys("12ab") is None


@pytest.mark.parametrize(("heard", "secs", "machine"), [
    ("hello", 0.6, False),
    ("yes hello who is this", 1.4, False),
    ("hi you've reached ada please leave a message after the tone", 3.0, True),
    ("the person you are calling is not available", 2.5, True),
    ("", 5.2, True),  # a long recording the recogniser could not follow
])
def test_the_greeting_check(heard: str, secs: float, machine: bool) -> None:
    """A short "hello" is a person; greeting phrases or a long first turn are a machine."""
    assert detect_voicemail_greeting(heard, speech_secs=secs) is machine


def test_twilio_answered_by() -> None:
    """``machine_*`` and ``fax`` are machines; ``human``, ``unknown`` and nothing are not."""
    assert machine_answered("machine_end_beep") and machine_answered("machine_start") and machine_answered("fax")
    assert not machine_answered("human") and not machine_answered("unknown") and not machine_answered(None)
