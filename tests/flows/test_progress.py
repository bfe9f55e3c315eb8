"""``bot.flows.progress``: the slot the active flow step waits for, the one flow fact a channel may read."""

from __future__ import annotations

from bot.flows.progress import collecting_slot
from bot.infra.settings import DEMO_PROJECT
from bot.kernel.conversation import ConversationState
from bot.kernel.events import FlowStarted, FlowStepReached
from bot.project import load_project


def test_collecting_slot_follows_the_top_flow_by_position_and_by_id() -> None:
    """No flow: nothing; a step known by position or by its ``id``: its ``collect``; a step that runs an
    action, an unknown step and an unknown flow: nothing."""
    flows = load_project(DEMO_PROJECT).flows
    state = ConversationState("c")
    assert collecting_slot(state, flows) is None
    state.apply(FlowStarted(flow_id="order_status"))
    assert collecting_slot(state, flows) is None  # started, no step reached yet
    state.apply(FlowStepReached(flow_id="order_status", step_id="1"))
    assert collecting_slot(state, flows) == "order_number"
    state.apply(FlowStepReached(flow_id="order_status", step_id="2"))
    assert collecting_slot(state, flows) is None  # an action step
    state.apply(FlowStarted(flow_id="authentication"))
    state.apply(FlowStepReached(flow_id="authentication", step_id="identify"))
    assert collecting_slot(state, flows) == "identifier"
    state.apply(FlowStepReached(flow_id="authentication", step_id="no-such-step"))
    assert collecting_slot(state, flows) is None
    assert collecting_slot(state, {}) is None
