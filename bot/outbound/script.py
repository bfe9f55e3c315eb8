"""The dialogue of an answered confirmation call, by keypad: verify, then 1 confirm / 2 reschedule / 3 cancel /
0 a person / 9 no more calls. Channel-free: the voice connector feeds it keys and speaks its :class:`Step`.

Verification comes first (PIN, or date of birth as ``DDMMYYYY``, then ``#``): until it succeeds the call says
only what :mod:`bot.outbound.wording` allows. Every change to the backend carries an idempotency key made
of the attempt id, so a key pressed twice, or a step run again, changes nothing twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from bot.flows.backend.base import Backend, BackendConflict, FreeSlot, Verification
from bot.outbound import wording
from bot.outbound.config import OutboundConfig
from bot.outbound.model import Outcome


class Phase(enum.StrEnum):
    VERIFY = "verify"
    OFFER = "offer"
    PICK_SLOT = "pick_slot"
    CONFIRM_CANCEL = "confirm_cancel"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Step:
    """What the call does next: say ``say``; with an ``outcome`` the target's outcome is recorded; ``end``
    hangs up after speaking; ``handoff`` passes the call to a person."""

    say: str
    outcome: Outcome | None = None
    end: bool = False
    handoff: bool = False


def proof_from_keys(digits: str) -> Verification | None:
    """Four to six digits are a PIN; eight are a date of birth ``DDMMYYYY``; anything else is no proof."""
    if digits.isdigit() and 4 <= len(digits) <= 6:
        return Verification(pin=digits)
    if digits.isdigit() and len(digits) == 8:
        day, month, year = digits[:2], digits[2:4], digits[4:]
        return Verification(date_of_birth=f"{year}-{month}-{day}")
    return None


@dataclass(slots=True)
class CallScript:
    """One call's dialogue with ``customer_id`` about ``subject`` (an appointment: id, service, clinician, start)."""

    backend: Backend
    config: OutboundConfig
    attempt_id: str
    customer_id: str
    subject: dict[str, Any]
    first_name: str | None = None
    phase: Phase = Phase.VERIFY
    failures: int = 0
    slots: list[FreeSlot] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.phase is not Phase.VERIFY

    def opening(self) -> Step:
        return Step(wording.opening(self.config, self.subject, self.first_name))

    def voicemail(self) -> Step:
        return Step(wording.voicemail(self.config, self.subject, self.first_name), Outcome.VOICEMAIL, end=True)

    def _key(self, action: str) -> str:
        return f"outbound:{self.attempt_id}:{action}:{self.subject.get('id', '')}"

    async def keys(self, digits: str) -> Step:
        """The answer to ``digits`` (one key, or an entry ended by ``#``)."""
        if self.phase is Phase.DONE:
            return Step(wording.GOODBYE, end=True)
        if digits == "0":
            self.phase = Phase.DONE
            return Step(wording.TRANSFER, Outcome.TRANSFERRED, handoff=True)
        if self.phase is Phase.VERIFY:
            return await self._verify(digits)
        if self.phase is Phase.OFFER:
            return await self._offer(digits)
        if self.phase is Phase.PICK_SLOT:
            return await self._pick(digits)
        return await self._confirm_cancel(digits)

    async def said(self, words: str) -> Step:
        """Speech: "stop" opts out at any point; anything else is asked for on the keypad."""
        if "stop" in words.lower().split():
            return self._stop()
        return Step(wording.PRESS_A_KEY if self.verified else wording.ENTER_PROOF)

    def _stop(self) -> Step:
        self.phase = Phase.DONE
        return Step(wording.OPTED_OUT, Outcome.OPTED_OUT, end=True)

    async def _verify(self, digits: str) -> Step:
        proof = proof_from_keys(digits)
        if proof is not None and await self.backend.verify(self.customer_id, proof):
            self.phase = Phase.OFFER
            return Step(wording.offer(self.subject))
        self.failures += 1
        if self.failures >= self.config.verify_attempts:
            self.phase = Phase.DONE
            return Step(wording.NOT_VERIFIED, Outcome.REACHED, end=True)
        return Step(wording.TRY_AGAIN)

    async def _offer(self, key: str) -> Step:
        appointment_id = str(self.subject.get("id", ""))
        if key == "1":
            self.phase = Phase.DONE
            await self.backend.confirm_appointment(appointment_id, key=self._key("confirm"))
            return Step(wording.CONFIRMED, Outcome.CONFIRMED, end=True)
        if key == "2":
            self.slots = await self.backend.free_slots(appointment_id, limit=3)
            if not self.slots:
                return Step("Sorry, there are no other free times. Press 1 to keep this time, or 0 for a person.")
            self.phase = Phase.PICK_SLOT
            choices = ", ".join(f"press {n} for {wording.when(s.start)}" for n, s in enumerate(self.slots, 1))
            return Step(f"The free times are: {choices}.")
        if key == "3":
            self.phase = Phase.CONFIRM_CANCEL
            return Step("To cancel the appointment press 1; to keep it press 2.")
        if key == "9":
            return self._stop()
        return Step(wording.offer(self.subject))

    async def _pick(self, key: str) -> Step:
        if not key.isdigit() or not 1 <= int(key) <= len(self.slots):
            return Step(f"Please press a number from 1 to {len(self.slots)}.")
        slot = self.slots[int(key) - 1]
        try:
            await self.backend.reschedule_appointment(str(self.subject["id"]), slot.start, key=self._key("move"))
        except BackendConflict:
            self.phase = Phase.OFFER
            return Step("Sorry, that time was just taken. " + wording.offer(self.subject))
        self.phase = Phase.DONE
        return Step(f"Done: your appointment is now {wording.when(slot.start)}. Thank you, goodbye.",
                    Outcome.RESCHEDULED, end=True)

    async def _confirm_cancel(self, key: str) -> Step:
        if key == "1":
            self.phase = Phase.DONE
            await self.backend.cancel_appointment(str(self.subject["id"]), key=self._key("cancel"))
            return Step(wording.CANCELLED, Outcome.CANCELLED, end=True)
        self.phase = Phase.OFFER
        return Step(wording.offer(self.subject))
