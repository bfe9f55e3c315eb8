"""A finished conversation as the checks read it: its events with their store sequence numbers.

The store numbers a conversation's events from 1 (``events.seq``), so the event at list index ``i`` has
``seq == i + 1``; evidence is always given as these ``seq`` numbers, the same the transcript view highlights.
Helpers here answer the questions several checks ask (who owned the turn, was the customer verified yet,
which bot messages were answers rather than notices).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.kernel.events import AgentJoined, AgentMessage, BotUttered, Escalated, Event, SlotSet, UserUttered

E = TypeVar("E", bound=Event)

#: Bot responses that mean the bot did not understand or could not answer.
FALLBACK_RESPONSES = frozenset({"utter_default", "utter_dont_know", "utter_ask_rephrase", "utter_fallback"})
#: Bot responses that are notices about the handoff or the survey, not answers to the customer.
NOTICE_PREFIXES = ("utter_handoff", "utter_agent", "utter_returned", "utter_resume", "utter_csat",
                   "utter_transferred", "utter_slow_down", "utter_offer_human")

_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation's events (oldest first) and what the store indexes about it."""

    conversation_id: str
    events: tuple[Event, ...]
    channel: str | None = None

    def numbered(self) -> Iterator[tuple[int, Event]]:
        """``(seq, event)`` pairs, oldest first."""
        return ((index + 1, event) for index, event in enumerate(self.events))

    def of(self, kind: type[E]) -> list[tuple[int, E]]:
        """``(seq, event)`` of every event of ``kind``."""
        return [(seq, e) for seq, e in self.numbered() if isinstance(e, kind)]

    def customer(self) -> list[tuple[int, UserUttered]]:
        """The customer's messages, with the bot or an agent."""
        return self.of(UserUttered)

    def verified_at(self) -> int | None:
        """Seq of the first ``authenticated = true`` slot, or ``None`` when the customer never verified."""
        return next((seq for seq, e in self.of(SlotSet) if e.name == "authenticated" and e.value is True), None)

    def of_slot(self, name: str) -> list[tuple[int, SlotSet]]:
        """``(seq, event)`` of every value slot ``name`` took."""
        return [(seq, e) for seq, e in self.of(SlotSet) if e.name == name]

    def customer_id(self) -> str | None:
        """Who the customer is across conversations: the ``customer_id`` slot, else their messages' metadata."""
        slot = next((e.value for _, e in self.of_slot("customer_id") if e.value), None)
        if slot is not None:
            return str(slot)
        for _, event in self.customer():
            for key in ("customer_id", "user_id"):
                if event.metadata.get(key):
                    return str(event.metadata[key])
        return None

    def escalated(self) -> bool:
        """True when the bot handed the conversation to humans at least once."""
        return any(isinstance(e, Escalated) for e in self.events)

    def agent_handled(self) -> bool:
        """True when an agent claimed the conversation at least once."""
        return any(isinstance(e, AgentJoined) for e in self.events)

    @property
    def kind(self) -> str:
        """``bot`` (the bot alone), ``handed_off`` (escalated, no agent joined) or ``agent`` (an agent joined)."""
        return "agent" if self.agent_handled() else "handed_off" if self.escalated() else "bot"

    def agents(self) -> list[str]:
        """Agents who joined, in order, once each."""
        return list(dict.fromkeys(e.agent for _, e in self.of(AgentJoined)))

    def agent_messages(self) -> list[tuple[int, AgentMessage]]:
        """What agents wrote to the customer."""
        return self.of(AgentMessage)

    def channel_of(self) -> str:
        """The channel the index stored, else the customer's first message's."""
        if self.channel:
            return self.channel
        first = next((e for _, e in self.customer()), None)
        return first.channel if first is not None else "unknown"

    def first_after(self, seq: int, kinds: tuple[type[Event], ...]) -> tuple[int, Event] | None:
        """The first event of one of ``kinds`` after ``seq``."""
        return next(((s, e) for s, e in self.numbered() if s > seq and isinstance(e, kinds)), None)


def is_answer(event: BotUttered) -> bool:
    """A bot message that tried to answer (not a fallback, not a handoff or survey notice)."""
    response = event.response or ""
    return response not in FALLBACK_RESPONSES and not response.startswith(NOTICE_PREFIXES)


def is_fallback(event: BotUttered) -> bool:
    """A bot message saying it did not understand or does not know."""
    return (event.response or "") in FALLBACK_RESPONSES


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(text.lower())


def between(conversation: Conversation, start: int, end: int | None) -> Sequence[tuple[int, Event]]:
    """Events with ``start < seq < end`` (``end`` ``None``: to the last event)."""
    return [(s, e) for s, e in conversation.numbered() if s > start and (end is None or s < end)]
