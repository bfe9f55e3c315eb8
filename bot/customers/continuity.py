"""Continuity across channels: link a verified conversation to its customer, offer the open matter, resume it.

Two stages, wired by :func:`bot.app.runtime.build_runtime`:

* :class:`LinkVerified` (closing, before the output guards) — in the turn the customer verifies (or the first
  turn after the embedding site's signed token verified the widget conversation), link the
  conversation to the customer record with the contact points the verification proved, then look through
  the customer's other verified conversations (``customers.resume_window``, newest first) for an open matter
  and offer it: "You were changing your delivery address of A1002 — shall we finish that?" (a
  :class:`~bot.kernel.events.MatterOffered` event and two buttons).
* :class:`ResumeMatter` (answering, right after the reply reader) — the answer to the offer: ``/resume_matter``
  moves the matter here (its own conversation cancels it, under that conversation's lock) and asks its
  open question again; ``/decline_matter`` leaves it where it is and the current flow asks its question again.

Nothing is linked or offered before verification, so an unverified contact point never exposes history; a
verification by a signed widget token (:mod:`bot.customers.identity`) counts like one the customer gave.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.customers.config import CustomersConfig
from bot.customers.matters import OpenMatter, moved_away, moved_here, open_matter, still_open, waiting_question
from bot.customers.store import Contact, CustomerStore, contact_of
from bot.flows.progress import waiting_question as current_question
from bot.flows.sessions import verified_at
from bot.infra.logs import get_logger
from bot.kernel.conversation import ConversationState, derive
from bot.kernel.events import Event, MatterOffered, MatterResumed, SlotSet, UserUttered
from bot.kernel.messages import BotMessage, Button
from bot.pipeline.turn import ANSWERED, CONTINUE, StageResult, Turn
from bot.storage import ConversationStore

log = get_logger(__name__)

VERIFIED_BY, TOKEN = "verified_by", "identity_token"
"""The slot (and its value) a verification by the embedding site's signed token sets."""

RESUME, DECLINE = "/resume_matter", "/decline_matter"
OFFER_RESPONSE = "utter_offer_open_matter"
OFFER_BUTTONS = (Button("Yes, let's finish it", RESUME), Button("No, not now", DECLINE))

#: ``engine.record_with``: under a conversation's lock, build the events to append from its state.
Recorder = Callable[[str, Callable[[ConversationState], Sequence[Event]]],
                    Awaitable[tuple[ConversationState, tuple[Event, ...]]]]


class MatterGone(Exception):
    """The offered matter was finished or changed in its own conversation after the offer (control flow)."""


def verified_this_turn(turn: Turn) -> bool:
    """Whether this turn's events verified the customer (and the conversation is verified now)."""
    return bool(turn.state.slots.get("authenticated")) and any(
        isinstance(e, SlotSet) and e.name == "authenticated" and e.value is True for e in turn.events)


def first_verified_turn(turn: Turn) -> bool:
    """Whether this is the turn to link and offer: the customer verified in it, or this is the first message
    after a verification made outside a turn (the embedding site's signed token)."""
    if verified_this_turn(turn):
        return True
    found = verified_at(turn.state) if turn.state.slots.get("authenticated") else None
    if found is None or found[1] < 0:
        return False
    after = turn.state.events[found[1] + 1:]
    by_token = any(isinstance(e, SlotSet) and e.name == VERIFIED_BY and e.value == TOKEN for e in after)
    later = [e for e in after if isinstance(e, UserUttered)]
    return by_token and len(later) == 1 and any(e is later[0] for e in turn.events)


def proved_contacts(turn: Turn) -> tuple[Contact, ...]:
    """Contact points the verification in this conversation proved: the identifier the customer gave (e-mail
    or phone), the number of the phone line it happened on, the widget conversation (the device)."""
    found: list[Contact] = []
    for event in reversed(turn.state.events):
        if isinstance(event, SlotSet) and event.name == "identifier" and event.value:
            contact = contact_of(str(event.value))
            if contact is not None:
                found.append(contact)
            break
    source = turn.message.source or ""
    if turn.channel == "voice" and source.startswith("caller:"):
        contact = contact_of(source.removeprefix("caller:"))
        if contact is not None and contact.kind == "phone":
            found.append(contact)
    if turn.channel == "web":
        found.append(Contact("device", turn.conversation_id))
    return tuple(dict.fromkeys(found))


class MatterFinder:
    """Finds a customer's open matter in their other verified conversations."""

    def __init__(self, customers: CustomerStore, conversations: ConversationStore, config: CustomersConfig,
                 *, clock: Callable[[], float] | None = None) -> None:
        self.customers = customers
        self.conversations = conversations
        self.config = config
        self.clock: Callable[[], float] = clock or time.time
        self.across_conversations = True
        """``False``: every conversation stands alone and nothing is offered from another one (``careline eval``
        sets it: test cases are independent, as in ``rasa test e2e``, even when they verify the same customer)."""

    async def find(self, turn: Turn, customer_id: str) -> OpenMatter | None:
        """The newest open matter of ``customer_id`` outside this conversation within the window, not yet offered
        here."""
        if self.config.resume_window <= 0 or not self.across_conversations:
            return None
        offered = {e.from_conversation for e in turn.state.events if isinstance(e, MatterOffered)}
        now = self.clock()
        for link in await self.customers.links(customer_id, limit=self.config.max_offered + 1):
            if link.conversation_id == turn.conversation_id or link.conversation_id in offered:
                continue
            state = await self.conversations.load(link.conversation_id)
            if state.slots.get("customer_id") != customer_id:
                continue  # verified as someone else since, or erased
            matter = open_matter(state, turn.project.flows, turn.project.domain.slots)
            if matter is not None and now - matter.last_active <= self.config.resume_window:
                return matter
        return None


class LinkVerified:
    """Closing stage: link the verified conversation to its customer and offer the open matter, if any."""

    name = "customer_link"

    def __init__(self, finder: MatterFinder) -> None:
        self.finder = finder

    async def run(self, turn: Turn) -> StageResult:
        customer_id = turn.state.slots.get("customer_id")
        if not customer_id or not first_verified_turn(turn):
            return CONTINUE
        customer_id = str(customer_id)
        contacts = proved_contacts(turn)
        await self.finder.customers.link(customer_id, turn.conversation_id, channel=turn.channel, contacts=contacts,
                                         at=self.finder.clock())
        log.info("customer_linked", customer_id=customer_id, contacts=sorted({c.kind for c in contacts}))
        if turn.escalation is not None:
            return CONTINUE  # linked (the agent sees the history), but a person takes it from here
        matter = await self.finder.find(turn, customer_id)
        if matter is None:
            return CONTINUE
        turn.emit(MatterOffered(customer_id=customer_id, from_conversation=matter.conversation_id,
                                flow_id=matter.flow_id, step_id=matter.step_id))
        offer = turn.render(OFFER_RESPONSE, default="You were {matter} — shall we finish that?",
                            values={"matter": matter.description})
        turn.reply(BotMessage(offer.text, offer.buttons or OFFER_BUTTONS, response=OFFER_RESPONSE))
        log.info("matter_offered", customer_id=customer_id, flow_id=matter.flow_id, idle_seconds=round(
            self.finder.clock() - matter.last_active, 1), from_channel=matter.channel)
        return CONTINUE


def pending_offer(state: ConversationState) -> MatterOffered | None:
    """The latest matter offer not yet answered."""
    for event in reversed(state.events):
        if isinstance(event, MatterResumed):
            return None
        if isinstance(event, MatterOffered):
            return event
    return None


class ResumeMatter:
    """Answering stage: take up or decline the offered matter. ``recorder`` is the engine's ``record_with`` (set
    once the engine exists); ``conversations`` reads the matter's conversation."""

    name = "resume_matter"

    def __init__(self, conversations: ConversationStore, recorder: Recorder | None = None) -> None:
        self.conversations = conversations
        self.recorder = recorder

    async def run(self, turn: Turn) -> StageResult:
        if turn.text not in (RESUME, DECLINE):
            return CONTINUE
        offer = pending_offer(turn.state)
        if offer is None or turn.state.slots.get("customer_id") != offer.customer_id \
                or not turn.state.slots.get("authenticated"):
            return CONTINUE  # no offer (or the verification it was made on is gone): understanding reads it
        if turn.text == DECLINE:
            turn.emit(MatterResumed(from_conversation=offer.from_conversation, flow_id=offer.flow_id, accepted=False))
            log.info("matter_declined", flow_id=offer.flow_id)
            turn.say("utter_matter_declined", default="Okay, we'll leave that for now.")
            self._ask_again(turn)
            return ANSWERED
        source = await self._take(turn, offer)
        if source is None:
            turn.emit(MatterResumed(from_conversation=offer.from_conversation, flow_id=offer.flow_id, accepted=False))
            turn.say("utter_matter_gone", default="That has been taken care of in the meantime.")
            self._ask_again(turn)
            return ANSWERED
        turn.emit(MatterResumed(from_conversation=offer.from_conversation, flow_id=offer.flow_id))
        for event in moved_here(source, turn.state, turn.project.flows):
            turn.emit(event)
        log.info("matter_resumed", flow_id=offer.flow_id, step_id=offer.step_id)
        turn.say("utter_matter_resumed", default="Great, let's pick up where you left off.")
        question = waiting_question(turn.state, turn.project.flows)
        if question is not None:
            turn.say(question)
        return ANSWERED

    async def _take(self, turn: Turn, offer: MatterOffered) -> ConversationState | None:
        """Cancel the matter in its own conversation (under its lock) and return that conversation as it was;
        ``None`` when it is no longer open there."""
        flows = turn.project.flows
        taken: dict[str, Any] = {}

        def build(state: ConversationState) -> Sequence[Event]:
            if state.slots.get("customer_id") != offer.customer_id or not still_open(state, flows, offer.flow_id,
                                                                                   offer.step_id):
                raise MatterGone(offer.from_conversation)
            taken["state"] = derive(state.conversation_id, list(state.events))  # a copy: the engine moves on
            return moved_away(state)

        try:
            if self.recorder is None:
                state = await self.conversations.load(offer.from_conversation)
                build(state)
            else:
                await self.recorder(offer.from_conversation, build)
        except MatterGone:
            log.info("matter_gone", flow_id=offer.flow_id)
            return None
        source: ConversationState = taken["state"]
        return source

    @staticmethod
    def _ask_again(turn: Turn) -> None:
        question = current_question(turn.state, turn.project.flows)
        if question is not None:
            turn.say(question)
