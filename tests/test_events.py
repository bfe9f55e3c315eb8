"""Events serialize losslessly and the conversation state is derived from them alone."""

from __future__ import annotations

from bot.kernel.conversation import Status, derive
from bot.kernel.events import (
    AgentJoined,
    BotUttered,
    ConversationEnded,
    Escalated,
    FlowCompleted,
    FlowStarted,
    FlowStepReached,
    ReturnedToBot,
    SlotSet,
    UserUttered,
    event_from_dict,
)


def test_every_event_round_trips_through_its_dict() -> None:
    """to_dict followed by event_from_dict gives back an equal event."""
    events = [
        UserUttered(text="hi", intent="greet", confidence=0.9, entities=({"entity": "x", "value": 1},)),
        BotUttered(text="hello", buttons=({"title": "a", "payload": "/a"},), response="utter_greet"),
        SlotSet(name="order_number", value="A1001"),
        FlowStarted(flow_id="orders"),
        Escalated(reason="requested", signals=({"detector": "d", "score": 1.0},), context={"k": [1, 2]}),
    ]
    for event in events:
        assert event_from_dict(event.to_dict()) == event


def test_slots_follow_the_last_slot_event() -> None:
    """A later SlotSet overrides an earlier one and None resets."""
    state = derive("c", [SlotSet(name="a", value=1), SlotSet(name="b", value=2), SlotSet(name="a", value=None)])
    assert state.slots == {"a": None, "b": 2}


def test_flow_stack_tracks_calls_steps_and_completion() -> None:
    """A called flow sits on top of its caller until it completes; steps are remembered per flow."""
    state = derive("c", [
        FlowStarted(flow_id="orders"),
        FlowStepReached(flow_id="orders", step_id="0"),
        FlowStarted(flow_id="authentication"),
        FlowStepReached(flow_id="authentication", step_id="ask_email"),
    ])
    assert [f.flow_id for f in state.flow_stack] == ["orders", "authentication"]
    assert state.active_flow == "authentication"
    assert state.flow_stack[0].step_id == "0"
    state.apply(FlowCompleted(flow_id="authentication"))
    assert state.active_flow == "orders"


def test_status_moves_through_handoff_agent_bot_and_closed() -> None:
    """Escalation, an agent joining, return to bot and closing each change the derived status."""
    state = derive("c", [UserUttered(text="hi")])
    assert state.status is Status.BOT
    state.apply(Escalated(reason="requested"))
    assert state.status is Status.HANDOFF
    state.apply(AgentJoined(agent="amy"))
    assert (state.status, state.agent) == (Status.AGENT, "amy")
    state.apply(ReturnedToBot(agent="amy"))
    assert state.status is Status.BOT
    state.apply(ConversationEnded(by="agent"))
    assert state.status is Status.CLOSED
    state.apply(UserUttered(text="one more thing"))
    assert state.status is Status.BOT
    assert state.turns == 2
