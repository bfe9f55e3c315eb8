"""The context object one turn passes through the engine's stages."""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, field
from typing import Any

from bot.conversation import ConversationState
from bot.events import BotUttered, Event, UserUttered
from bot.messages import BotMessage, Button, UserMessage
from bot.nlu.base import Understanding
from bot.project import Project

#: Escalation reasons by priority (highest first); the handoff queue orders by this.
PRIORITY = ("safety", "regulated", "emotional", "auth_failed", "requested", "complex", "scope", "error")


def priority_of(reason: str) -> int:
    """The queue priority of an escalation ``reason``: ``len(PRIORITY)`` for the first, 0 for an unknown reason."""
    return len(PRIORITY) - PRIORITY.index(reason) if reason in PRIORITY else 0


@dataclass(frozen=True, slots=True)
class Escalation:
    """A request to hand the conversation to humans, raised by any stage."""

    reason: str
    """Why: safety, regulated, emotional, auth_failed, requested, complex, scope, error."""
    signals: tuple[dict[str, Any], ...] = ()
    """Scored signals behind the decision (detector, category, score)."""
    team: str | None = None
    """Skill/team to route to; ``None`` lets routing decide."""
    message: str | None = None
    """What to tell the customer (default: the ``utter_handoff`` response)."""


@dataclass(slots=True)
class Turn:
    """One customer message on its way through the stages.

    ``events`` are this turn's new events (the user event first); :meth:`emit` also folds each into
    ``state`` so later stages see its effect. A stage that answers sets ``handled``; later answering
    stages then skip.
    """

    project: Project
    state: ConversationState
    message: UserMessage
    text: str
    events: list[Event] = field(default_factory=list)
    replies: list[BotMessage] = field(default_factory=list)
    understanding: Understanding | None = None
    escalation: Escalation | None = None
    handled: bool = False
    trace: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took (by stage name), for latency metrics."""
    followups: list[BotMessage] = field(default_factory=list)
    """Said after whichever stage answered, unless the turn escalates (a paused flow's reminder)."""

    @property
    def channel(self) -> str:
        return self.message.channel

    @property
    def conversation_id(self) -> str:
        return self.state.conversation_id

    def emit(self, event: Event) -> None:
        """Record a new event and fold it into the state."""
        self.events.append(event)
        self.state.apply(event)

    def update_user_event(self, **changes: Any) -> None:
        """Amend this turn's user event (e.g. with the parse) before it is stored."""
        old = next(e for e in self.events if isinstance(e, UserUttered))
        event = dataclasses.replace(old, **changes)
        for events in (self.events, self.state.events):
            for index, candidate in enumerate(events):
                if candidate is old:
                    events[index] = event
        self.state.latest_user = event

    def reply(self, message: BotMessage) -> None:
        """Send ``message`` to the customer (recorded as a bot event)."""
        self.replies.append(message)
        self.emit(
            BotUttered(
                text=message.text,
                response=message.response,
                buttons=tuple(b.to_dict() for b in message.buttons),
                citations=message.citations,
            )
        )

    def say(self, response: str, *, default: str | None = None, **values: Any) -> None:
        """Send the domain response ``response`` with ``{slot}`` placeholders filled.

        ``values`` override slots. When the project lacks the response, ``default`` is said instead.
        """
        variant = self.project.response(response, self.channel)
        buttons: tuple[Button, ...]
        if variant is None:
            if default is None:
                raise KeyError(f"no response named {response!r} in domain.yml")
            text, buttons = default, ()
        else:
            text = variant.text
            buttons = tuple(Button(b.title, b.payload) for b in variant.buttons)
        self.reply(BotMessage(fill(text, {**self.state.slots, **values}), buttons, response=response))


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown names become empty, ``None`` values too."""
    clean = _Blank({k: ("" if v is None else v) for k, v in values.items()})
    return string.Formatter().vformat(template, (), clean)
