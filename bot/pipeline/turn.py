"""The context object one turn passes through the engine's stages."""

from __future__ import annotations

import dataclasses
import enum
import string
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from bot.guardrails.base import Signal
from bot.kernel.conversation import ConversationState
from bot.kernel.events import BotUttered, Event, UserUttered
from bot.kernel.messages import BotMessage, Button, UserMessage
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
    signals: tuple[Signal, ...] = ()
    """Scored signals behind the decision (detector, category, score, evidence)."""
    team: str | None = None
    """Skill/team to route to; ``None`` lets routing decide."""
    message: str | None = None
    """What to tell the customer (default: the ``utter_handoff`` response)."""


class Proceed(enum.Enum):
    """What a stage tells the engine when it does not escalate."""

    CONTINUE = "continue"
    """Not mine (or not finished): the next stage runs."""
    ANSWERED = "answered"
    """The turn is answered: the remaining answering stages are skipped, only the closing ones run."""


CONTINUE = Proceed.CONTINUE
ANSWERED = Proceed.ANSWERED

#: What a stage returns: go on, answered, or hand the conversation to humans (which also stops the chain).
StageResult: TypeAlias = Proceed | Escalation


@dataclass(slots=True)
class Turn:
    """One customer message on its way through the stages.

    ``events`` are this turn's new events (the user event first); :meth:`emit` also folds each into
    ``state`` so later stages see its effect. :attr:`replies` is derived from the turn's bot events, so
    what the customer gets, what is stored and published and what an agent reads are one list. Stages do
    not flag the turn: each returns a :data:`StageResult` and the engine records the one that stopped the
    chain in :attr:`outcome` (which the closing stages read).
    """

    project: Project
    state: ConversationState
    message: UserMessage
    text: str
    events: list[Event] = field(default_factory=list)
    understanding: Understanding | None = None
    outcome: StageResult = CONTINUE
    """How the answering stages ended (set by the engine): ``CONTINUE`` when none answered."""
    answered_by: str | None = None
    """The stage whose result stopped the chain (``None`` when none did)."""
    trace: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took (by stage name), for latency metrics."""
    followups: list[BotMessage] = field(default_factory=list)
    """Said after whichever stage answered, unless the turn escalates (a paused flow's reminder)."""

    @property
    def escalation(self) -> Escalation | None:
        """The escalation that stopped the chain, if one did."""
        return self.outcome if isinstance(self.outcome, Escalation) else None

    @property
    def channel(self) -> str:
        return self.message.channel

    @property
    def conversation_id(self) -> str:
        return self.state.conversation_id

    @property
    def replies(self) -> list[BotMessage]:
        """What the bot says this turn: one message per :class:`BotUttered` event of the turn, in order."""
        return [message_of(e) for e in self.events if isinstance(e, BotUttered)]

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

    def withhold(self, event: BotUttered) -> None:
        """Take back a bot event of this turn before it is stored or published: nobody will see it."""
        for events in (self.events, self.state.events):
            events[:] = [e for e in events if e is not event]

    def reply(self, message: BotMessage) -> None:
        """Send ``message`` to the customer (recorded as a bot event)."""
        self.emit(
            BotUttered(
                text=message.text,
                response=message.response,
                buttons=tuple(b.to_dict() for b in message.buttons),
                citations=message.citations,
                custom=dict(message.custom),
            )
        )

    def shown_message(self) -> BotUttered | None:
        """The bot's latest message with buttons since the customer's previous message (what this message may
        be answering), or ``None``."""
        seen_user = False
        for event in reversed(self.state.events):
            if isinstance(event, UserUttered):
                if seen_user:
                    return None
                seen_user = True
            elif isinstance(event, BotUttered) and seen_user and event.buttons:
                return event
        return None

    def shown_buttons(self) -> tuple[dict[str, Any], ...]:
        """The buttons of :meth:`shown_message` (none when there is none)."""
        message = self.shown_message()
        return message.buttons if message is not None else ()

    def render(self, response: str, *, default: str | None = None,
               values: dict[str, Any] | None = None) -> BotMessage:
        """The domain response ``response`` for the turn's channel, ``{slot}`` placeholders filled.

        ``values`` override slots. When the project lacks the response, ``default`` is used instead (and
        without one, ``KeyError``). A response whose ``metadata`` says ``account_data: true`` is marked so in
        ``custom``, for the output guard.
        """
        variant = self.project.response(response, self.channel)
        buttons: tuple[Button, ...]
        if variant is None:
            if default is None:
                raise KeyError(f"no response named {response!r} in domain.yml")
            text, buttons, marked = default, (), False
        else:
            text = variant.text
            buttons = tuple(Button(b.title, b.payload) for b in variant.buttons)
            marked = bool(variant.metadata.get("account_data"))
        return BotMessage(fill(text, {**self.state.slots, **(values or {})}), buttons, response=response,
                          custom={"account_data": True} if marked else {})

    def say(self, response: str, *, default: str | None = None, **values: Any) -> None:
        """Send :meth:`render`'s message for ``response`` (``values`` override slots)."""
        self.reply(self.render(response, default=default, values=values))


def message_of(event: BotUttered) -> BotMessage:
    """The message a bot event says (how replies are rebuilt from stored events)."""
    buttons = tuple(Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in event.buttons)
    return BotMessage(event.text, buttons, response=event.response, citations=event.citations,
                      custom=dict(event.custom))


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown names become empty, ``None`` values too."""
    clean = _Blank({k: ("" if v is None else v) for k, v in values.items()})
    return string.Formatter().vformat(template, (), clean)
