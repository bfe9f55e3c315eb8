"""Where a conversation stands in its flows: the one view of the flow runner's state a channel may read.

Channels (the phone line biases its recognizer to the answer it expects) ask here instead of walking
``project.flows`` and the runner's step keys themselves, so the flow internals can change behind this
module. Connectors may import this module and no other part of :mod:`bot.flows` (a contract in
``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.flows.schema import Flow, Step, index_of
from bot.kernel.conversation import ConversationState

__all__ = ["collecting_slot", "waiting_step"]


def waiting_step(state: ConversationState, flows: Mapping[str, Flow]) -> Step | None:
    """The step the active flow (the top of the stack) stands on, or ``None`` when no flow is active, the flow
    is unknown or it has not reached a step."""
    if not state.flow_stack:
        return None
    frame = state.flow_stack[-1]
    flow = flows.get(frame.flow_id)
    index = None if flow is None else index_of(flow, frame.step_id)
    return None if flow is None or index is None else flow.steps[index]


def collecting_slot(state: ConversationState, flows: Mapping[str, Flow]) -> str | None:
    """The slot the active flow's current step is waiting for (its ``collect``), or ``None`` when no flow is
    active, the flow is unknown, it has not reached a step, or the step collects nothing."""
    step = waiting_step(state, flows)
    return None if step is None else step.collect


def waiting_question(state: ConversationState, flows: Mapping[str, Flow]) -> str | None:
    """The response the active flow's current step asked with (``utter_ask_<slot>``), or ``None`` when the flow
    waits for no answer."""
    step = waiting_step(state, flows)
    return None if step is None or step.collect is None else step.question
