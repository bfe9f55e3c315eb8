"""Authentication actions: identify + verify (date of birth, postcode, voice PIN or one-time code)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.flows.actions.base import BackendAction
from bot.flows.backend.base import Verification
from bot.logs import get_logger

log = get_logger(__name__)

MAX_ATTEMPTS = 3
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def proof_from(value: str, channel: str | None) -> Verification | None:
    """What kind of proof ``value`` is: a date of birth, a 4-digit PIN (voice only) or a postcode."""
    text = value.strip()
    if ISO_DATE.match(text):
        return Verification(date_of_birth=text)
    if re.fullmatch(r"\d{4}", text):
        return Verification(pin=text) if channel == "voice" else None
    if re.fullmatch(r"[A-Za-z0-9 ]{3,10}", text) and any(ch.isdigit() for ch in text):
        return Verification(postcode=text)
    return None


class ActionVerifyIdentity(BackendAction):
    """Check the identifier and proof; on the third failure lock authentication for the conversation."""

    action_name = "action_verify_identity"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        if tracker.get_slot("auth_locked"):
            return []
        identifier = tracker.get_slot("identifier")
        code = tracker.get_slot("otp_code")
        verification = tracker.get_slot("verification")
        customer = await self.backend.find_customer(str(identifier)) if identifier else None
        if code and verification == "otp":
            proof: Verification | None = Verification(code=str(code).strip())
        else:
            proof = proof_from(str(verification or ""), tracker.get_latest_input_channel())
        ok = customer is not None and proof is not None and await self.backend.verify(customer.id, proof)
        reset = [SlotSet("identifier", None), SlotSet("verification", None), SlotSet("otp_code", None)]
        if ok and customer is not None:
            log.info("customer_verified", customer_id=customer.id)
            return [SlotSet("authenticated", True), SlotSet("customer_id", customer.id),
                    SlotSet("customer_name", customer.first_name), SlotSet("auth_attempts", 0), *reset]
        attempts = int(tracker.get_slot("auth_attempts") or 0) + 1
        log.warning("verification_failed", attempts=attempts)
        events = [SlotSet("auth_attempts", attempts), *reset]
        if attempts >= MAX_ATTEMPTS:
            events.append(SlotSet("auth_locked", True))
        return events


class ActionSendVerificationCode(BackendAction):
    """Send a one-time code through the backend (without revealing whether the identifier exists)."""

    action_name = "action_send_verification_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        identifier = tracker.get_slot("identifier")
        customer = await self.backend.find_customer(str(identifier)) if identifier else None
        if customer is not None:
            await self.backend.send_code(customer.id)
        dispatcher.utter_message(response="utter_code_sent")
        return []
