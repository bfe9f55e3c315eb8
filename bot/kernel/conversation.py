"""A conversation's state, derived from its events.

Nothing here is stored: :func:`derive` folds the event list into a :class:`ConversationState`.
Replaying the same events always gives the same state, so audit, analytics and the tracker JSON
are views over one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.kernel.events import (
    AgentJoined,
    ConversationEnded,
    Escalated,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    FlowStepReached,
    ReturnedToBot,
    SlotSet,
    UserUttered,
)


class Status(StrEnum):
    """Who owns the conversation now."""

    BOT = "bot"
    HANDOFF = "handoff"  # escalated, waiting for an agent
    AGENT = "agent"  # an agent claimed it
    CLOSED = "closed"


@dataclass(slots=True)
class FlowFrame:
    """One flow on the stack and the step it stands at (``None`` before its first step)."""

    flow_id: str
    step_id: str | None = None


@dataclass(slots=True)
class ConversationState:
    """Everything derived from a conversation's events."""

    conversation_id: str
    events: list[Event] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    flow_stack: list[FlowFrame] = field(default_factory=list)
    status: Status = Status.BOT
    latest_user: UserUttered | None = None
    escalation: Escalated | None = None
    agent: str | None = None
    turns: int = 0

    @property
    def active_flow(self) -> str | None:
        """Id of the flow on top of the stack, or ``None``."""
        return self.flow_stack[-1].flow_id if self.flow_stack else None

    def apply(self, event: Event) -> None:
        """Fold one more event into the state."""
        self.events.append(event)
        match event:
            case UserUttered():
                self.latest_user = event
                self.turns += 1
                if self.status is Status.CLOSED:
                    self.status = Status.BOT  # a new message reopens a closed conversation
            case SlotSet(name=name, value=value):
                self.slots[name] = value
            case FlowStarted(flow_id=flow_id):
                self.flow_stack.append(FlowFrame(flow_id))
            case FlowStepReached(flow_id=flow_id, step_id=step_id):
                for frame in reversed(self.flow_stack):
                    if frame.flow_id == flow_id:
                        frame.step_id = step_id
                        break
            case FlowCompleted(flow_id=flow_id) | FlowCancelled(flow_id=flow_id):
                for i in range(len(self.flow_stack) - 1, -1, -1):
                    if self.flow_stack[i].flow_id == flow_id:
                        del self.flow_stack[i]
                        break
            case Escalated():
                self.status = Status.HANDOFF
                self.escalation = event
            case AgentJoined(agent=agent):
                self.status = Status.AGENT
                self.agent = agent
            case ReturnedToBot():
                self.status = Status.BOT
                self.agent = None
            case ConversationEnded():
                self.status = Status.CLOSED


def derive(conversation_id: str, events: list[Event]) -> ConversationState:
    """Fold ``events`` (oldest first) into a fresh :class:`ConversationState`."""
    state = ConversationState(conversation_id)
    for event in events:
        state.apply(event)
    return state
