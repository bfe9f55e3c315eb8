"""Open matters: what a verified customer left unfinished in a conversation, and how to pick it up elsewhere.

A flow rests between two turns on a step that waits for the customer (a ``collect``). The matter of a
conversation is its top customer-facing flow (the authentication flow is not a matter) standing on such a
step, while no human owns the conversation. :func:`moved_here` rebuilds it in another conversation:
the flow stack, the step, and the slots those flows collected; :func:`moved_away` cancels it where it was
(``resumed_elsewhere``), so it is finished in one place only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.flows.schema import AUTH_FLOW, Flow, index_of
from bot.flows.sessions import VERIFICATION_SLOTS
from bot.kernel.conversation import ConversationState, Status
from bot.kernel.events import Event, FlowCancelled, FlowStarted, FlowStepReached, SlotSet, UserUttered
from bot.project.schema import SlotSpec

RESUMED_ELSEWHERE = "resumed_elsewhere"
"""Why a matter's flows left the conversation it was started in."""
TAKEN_OVER = "resumed_matter"
"""Why the flows a conversation had when the customer took up an older matter left it."""


@dataclass(frozen=True, slots=True)
class OpenMatter:
    """A flow a verified customer left waiting for them."""

    conversation_id: str
    flow_id: str
    step_id: str | None
    description: str
    """What the customer was doing, for the offer: "changing your delivery address of A1002"."""
    last_active: float
    """When the customer last wrote in that conversation (seconds since the epoch)."""
    channel: str | None


def _frames(state: ConversationState, flows: Mapping[str, Flow]) -> list[Any]:
    return [f for f in state.flow_stack if f.flow_id in flows and f.flow_id != AUTH_FLOW]


def describe(flow_id: str, flow: Flow, slots: Mapping[str, Any], spec: Mapping[str, SlotSpec]) -> str:
    """The flow's name plus the first non-sensitive value it collected ("changing your delivery address of
    A1002")."""
    name = flow.name or flow_id.replace("_", " ")
    for step in flow.steps:
        slot = step.collect
        if slot is None or slots.get(slot) in (None, "") or slot in VERIFICATION_SLOTS:
            continue
        if slot in spec and spec[slot].sensitive:
            continue
        value = slots[slot]
        if isinstance(value, str | int) and not isinstance(value, bool):
            return f"{name} of {value}"
    return name


def open_matter(state: ConversationState, flows: Mapping[str, Flow],
                spec: Mapping[str, SlotSpec] | None = None) -> OpenMatter | None:
    """The conversation's open matter, or ``None`` (no flow waits for the customer, or a human owns it)."""
    if state.status in (Status.HANDOFF, Status.AGENT):
        return None
    frames = _frames(state, flows)
    if not frames:
        return None
    top = frames[-1]
    flow = flows[top.flow_id]
    index = index_of(flow, top.step_id)
    if index is None or flow.steps[index].collect is None:
        return None
    users = [e for e in state.events if isinstance(e, UserUttered)]
    last = users[-1] if users else None
    return OpenMatter(state.conversation_id, top.flow_id, top.step_id,
                      describe(top.flow_id, flow, state.slots, spec or {}),
                      last.timestamp if last is not None else (state.events[-1].timestamp if state.events else 0.0),
                      last.channel if last is not None else None)


def still_open(state: ConversationState, flows: Mapping[str, Flow], flow_id: str, step_id: str | None) -> bool:
    """Whether the conversation's matter is still ``flow_id`` at ``step_id`` (nobody finished it meanwhile)."""
    matter = open_matter(state, flows)
    return matter is not None and matter.flow_id == flow_id and matter.step_id == step_id


def moved_away(state: ConversationState) -> list[Event]:
    """Events that cancel every flow of the conversation the matter leaves (top first)."""
    return [FlowCancelled(flow_id=frame.flow_id, reason=RESUMED_ELSEWHERE) for frame in reversed(state.flow_stack)]


def moved_here(source: ConversationState, target: ConversationState, flows: Mapping[str, Flow]) -> list[Event]:
    """Events that end the target's flows and rebuild the source's matter there: each flow started and at its
    step, then the slots those flows collect (verification slots stay the target's own)."""
    events: list[Event] = [FlowCancelled(flow_id=f.flow_id, reason=TAKEN_OVER) for f in reversed(target.flow_stack)]
    frames = _frames(source, flows)
    collected: list[str] = []
    for frame in frames:
        events.append(FlowStarted(flow_id=frame.flow_id))
        if frame.step_id is not None:
            events.append(FlowStepReached(flow_id=frame.flow_id, step_id=frame.step_id))
        collected.extend(s.collect for s in flows[frame.flow_id].steps if s.collect is not None)
    for slot in dict.fromkeys(collected):
        if slot in VERIFICATION_SLOTS:
            continue
        value = source.slots.get(slot)
        if value is not None or target.slots.get(slot) is not None:
            events.append(SlotSet(name=slot, value=value))
    return events


def waiting_question(state: ConversationState, flows: Mapping[str, Flow]) -> str | None:
    """The question the matter's step asks (``utter_ask_<slot>``)."""
    frames = _frames(state, flows)
    if not frames:
        return None
    flow = flows[frames[-1].flow_id]
    index = index_of(flow, frames[-1].step_id)
    return None if index is None else flow.steps[index].question
