"""Authentication actions: identify + verify (date of birth, postcode, voice PIN or one-time code).

Which proofs count depends on the channel the *server* received the message on
(``tracker.get_latest_input_channel()``, the connector-set ``UserMessage.channel``), never on client metadata.
Every failure counts toward the conversation's ``auth.max_attempts`` and toward the cross-conversation
:class:`~bot.flows.lockout.Lockout` (per account, per client source). While the account or the source is
locked, verification fails whatever the proof, and the conversation takes exactly the path of a wrong proof,
so a locked customer hears what an unknown one hears.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.flows.actions.base import BackendAction
from bot.flows.backend.base import Backend, Verification
from bot.flows.lockout import Lockout, MemoryLockout
from bot.infra.logs import get_logger

log = get_logger(__name__)

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


def client_of(tracker: Tracker) -> str | None:
    """The pseudonymous client source of the latest message, as the server recorded it (never client metadata)."""
    facts = tracker.latest_message.get("careline") or {}
    client = facts.get("client") if isinstance(facts, dict) else None
    return str(client) if client else None


class ActionVerifyIdentity(BackendAction):
    """Check the identifier and proof; after ``auth.max_attempts`` failures lock verification for the
    conversation. Failures also count toward the cross-conversation ``lockout``."""

    action_name = "action_verify_identity"

    def __init__(self, backend: Backend | None = None, lockout: Lockout | None = None) -> None:
        super().__init__(backend)
        self.lockout = lockout or MemoryLockout()

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
        customer_id = customer.id if customer is not None else None
        client = client_of(tracker)
        lock = await self.lockout.locked(customer_id, client)
        if lock is not None:  # the proof is not even checked: a locked account is no oracle for guesses
            log.warning("verification_refused_locked", kind=lock.kind, customer_id=customer_id, client=client,
                        until=lock.until)
            ok = False
        else:
            ok = customer is not None and proof is not None and await self.backend.verify(customer.id, proof)
        reset = [SlotSet("identifier", None), SlotSet("verification", None), SlotSet("otp_code", None)]
        if ok and customer is not None:
            log.info("customer_verified", customer_id=customer.id)
            return [SlotSet("authenticated", True), SlotSet("customer_id", customer.id),
                    SlotSet("customer_name", customer.first_name), SlotSet("auth_attempts", 0), *reset]
        attempts = int(tracker.get_slot("auth_attempts") or 0) + 1
        log.warning("verification_failed", attempts=attempts, client=client)
        if lock is None:
            await self.lockout.failed(customer_id, client, conversation_id=tracker.sender_id)
        events = [SlotSet("auth_attempts", attempts), *reset]
        if attempts >= self.lockout.config.max_attempts:
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
