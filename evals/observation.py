"""What the runner saw in one turn: the customer's message, the events it produced, how long it took.

Assertions are checked against these observations only, so in-process runs and runs against a server
(``--url``, events read back from the tracker) are judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.kernel.conversation import ConversationState, derive
from bot.kernel.events import BotUttered, Escalated, Event, KnowledgeConsulted, UserUttered


@dataclass(slots=True)
class TurnObservation:
    """One customer message and everything the bot did about it."""

    index: int
    """0-based position of the turn in its test case."""
    user_text: str
    channel: str
    events: list[Event]
    """This turn's new events (the user event first)."""
    history: list[Event]
    """Every event of the conversation up to and including this turn (fixtures included)."""
    latency_ms: float
    _state: ConversationState | None = field(default=None, repr=False)

    @property
    def state(self) -> ConversationState:
        """The conversation's derived state after this turn."""
        if self._state is None:
            self._state = derive("observed", list(self.history))
        return self._state

    @property
    def user(self) -> UserUttered | None:
        """This turn's user event."""
        return next((e for e in self.events if isinstance(e, UserUttered)), None)

    @property
    def bot(self) -> list[BotUttered]:
        """The bot's utterances in this turn, in order."""
        return [e for e in self.events if isinstance(e, BotUttered)]

    @property
    def escalation(self) -> Escalated | None:
        """The handoff this turn started, if any."""
        return next((e for e in self.events if isinstance(e, Escalated)), None)

    @property
    def knowledge(self) -> list[KnowledgeConsulted]:
        """Knowledge-base consultations in this turn."""
        return [e for e in self.events if isinstance(e, KnowledgeConsulted)]

    def to_dict(self) -> dict[str, Any]:
        """The transcript view of the turn (for reports and JSON)."""
        user = self.user
        return {
            "user": self.user_text,
            "heard": user.text if user is not None and user.text != self.user_text else None,
            "channel": user.channel if user is not None else self.channel,
            "intent": user.intent if user else None,
            "confidence": user.confidence if user else None,
            "bot": [{"text": b.text, "response": b.response, "buttons": list(b.buttons),
                     "citations": list(b.citations)} for b in self.bot],
            "events": [e.type for e in self.events],
            "escalated": self.escalation.reason if self.escalation else None,
            "latency_ms": round(self.latency_ms, 2),
        }
