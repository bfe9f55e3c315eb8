"""Conversation events: the only state Careline keeps about a conversation.

A conversation is an append-only list of these frozen dataclasses. Slots, the active flow, the
status (bot, handoff, agent, closed) and everything an analyst or agent sees are derived from the
list (see :mod:`bot.kernel.conversation`). Replaying the list always rebuilds the same state.

Every event serializes to a plain dict ``{"type": ..., "timestamp": ..., **fields}`` and back.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

_REGISTRY: dict[str, type[Event]] = {}


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all events. ``timestamp`` is seconds since the epoch (UTC)."""

    type: ClassVar[str] = "event"
    timestamp: float = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with a ``type`` key."""
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"type": self.type, **data}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _subclasses(cls: type[Event]) -> list[type[Event]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_dict` output; unknown types raise ``KeyError``."""
    if not _REGISTRY:
        _REGISTRY.update({sub.type: sub for sub in _subclasses(Event)})
    data = dict(data)
    cls = _REGISTRY[data.pop("type")]
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
    return cls(**kwargs)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUttered(Event):
    """The customer said something. ``text`` is as received; ``parse`` is what understanding made of it."""

    type: ClassVar[str] = "user"
    text: str
    channel: str = "rest"
    intent: str | None = None
    confidence: float = 0.0
    entities: tuple[dict[str, Any], ...] = ()
    ranking: tuple[dict[str, Any], ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    #: True when the bot did not process the message (a human owned the conversation).
    for_agent: bool = False
    #: Pseudonymous key of the client source (a keyed hash, never the address itself); ``None`` when unknown.
    client: str | None = None
    #: The client's id for the message (a retry with the same id is answered from the stored turn).
    message_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BotUttered(Event):
    """The bot said something. ``response`` names the domain response it came from, if any.

    ``interrupted`` is set on voice when the caller talked over it (the text was not fully heard). ``custom`` is
    the message's custom payload (``account_data: true`` marks what the output guard withholds unverified).
    """

    type: ClassVar[str] = "bot"
    text: str
    response: str | None = None
    buttons: tuple[dict[str, Any], ...] = ()
    citations: tuple[dict[str, Any], ...] = ()
    interrupted: bool = False
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotSet(Event):
    """A slot took a value (``None`` resets it)."""

    type: ClassVar[str] = "slot"
    name: str
    value: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStarted(Event):
    """A flow became the active one (pushed on the flow stack)."""

    type: ClassVar[str] = "flow_started"
    flow_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStepReached(Event):
    """The active flow moved to ``step_id``; replay resumes the flow there after an interruption."""

    type: ClassVar[str] = "flow_step"
    flow_id: str
    step_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCompleted(Event):
    """The flow ran to its end and left the stack."""

    type: ClassVar[str] = "flow_completed"
    flow_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCancelled(Event):
    """The flow left the stack before its end (customer cancelled, or a handoff interrupted it)."""

    type: ClassVar[str] = "flow_cancelled"
    flow_id: str
    reason: str = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExecuted(Event):
    """A business action ran. ``ok`` is False when it failed (the failure is in ``error``)."""

    type: ClassVar[str] = "action"
    name: str
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailTriggered(Event):
    """A guardrail decision other than ``continue``, with the signals behind it (audit trail)."""

    type: ClassVar[str] = "guardrail"
    decision: str
    category: str
    signals: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeConsulted(Event):
    """The knowledge retriever was asked; ``documents`` are the cited sources, empty for "don't know"."""

    type: ClassVar[str] = "knowledge"
    query: str
    documents: tuple[dict[str, Any], ...] = ()
    answered: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalated(Event):
    """The bot handed the conversation to humans. Survives interruption: status stays ``handoff``."""

    type: ClassVar[str] = "escalated"
    reason: str
    team: str | None = None
    priority: int = 0
    signals: tuple[dict[str, Any], ...] = ()
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentJoined(Event):
    """A human agent claimed the conversation; the bot stops answering."""

    type: ClassVar[str] = "agent_joined"
    agent: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessage(Event):
    """A human agent wrote to the customer."""

    type: ClassVar[str] = "agent_message"
    agent: str
    text: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNote(Event):
    """An internal note by an agent; never shown to the customer."""

    type: ClassVar[str] = "agent_note"
    agent: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnedToBot(Event):
    """An agent handed the conversation back; the bot answers the next message."""

    type: ClassVar[str] = "returned_to_bot"
    agent: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationEnded(Event):
    """The conversation was closed (by an agent, the customer or a timeout)."""

    type: ClassVar[str] = "closed"
    by: str = "bot"


@dataclass(frozen=True, slots=True, kw_only=True)
class CsatGiven(Event):
    """The customer rated the service 1 to 5."""

    type: ClassVar[str] = "csat"
    score: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MatterOffered(Event):
    """After verification, the bot offered to finish a matter left open in another conversation of the same
    verified customer (``from_conversation``, its flow ``flow_id`` waiting at ``step_id``). Replay changes no
    flow: only :class:`MatterResumed` does."""

    type: ClassVar[str] = "matter_offered"
    customer_id: str
    from_conversation: str
    flow_id: str
    step_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MatterResumed(Event):
    """The customer took up (``accepted``) or declined the offered matter. When accepted, the flow events that
    follow rebuild the matter's flow stack here and its own conversation cancels it (``resumed_elsewhere``)."""

    type: ClassVar[str] = "matter_resumed"
    from_conversation: str
    flow_id: str
    accepted: bool = True
