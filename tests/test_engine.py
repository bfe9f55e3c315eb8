"""The engine runs a turn as ordered stages over event-sourced state, one turn per conversation at a time."""

from __future__ import annotations

import asyncio

import pytest

from bot.conversation import Status
from bot.errors import MessageTooLong, RateLimited, RequestError
from bot.events import AgentMessage, BotUttered, Escalated, UserUttered
from bot.messages import UserMessage
from bot.runtime import Runtime
from bot.turn import Turn

STAGE_ORDER = ["normalize", "csat", "scope", "input_guards", "understand", "scope_understood", "dialogue", "knowledge",
               "output_guards", "escalate", "respond"]


async def test_stages_run_in_the_documented_order(runtime: Runtime) -> None:
    """A turn passes normalize, scope, guards, understand, scope, dialogue, knowledge, output, escalate, respond."""
    await runtime.engine.handle("c", UserMessage("hello"))
    assert runtime.engine.last_trace == STAGE_ORDER


async def test_a_greeting_is_understood_answered_and_recorded(runtime: Runtime) -> None:
    """A greeting starts the greet flow; the stored events carry the parse and the reply."""
    replies = await runtime.engine.handle("c", UserMessage("hello there"))
    assert replies and "Northwind assistant" in replies[0].text
    assert [b.payload for b in replies[0].buttons] == ["/check_order_status", "/confirm_appointment"]
    state = await runtime.engine.state("c")
    user = state.events[0]
    assert isinstance(user, UserUttered) and user.intent == "greet" and user.confidence > 0.5
    assert any(isinstance(e, BotUttered) and e.response == "utter_greet" for e in state.events)


async def test_button_payloads_are_understood_with_certainty(runtime: Runtime) -> None:
    """A Rasa payload like /bot_challenge skips the classifier and triggers its flow."""
    replies = await runtime.engine.handle("c", UserMessage("/bot_challenge"))
    assert "virtual assistant" in replies[0].text
    assert (await runtime.engine.state("c")).latest_user.confidence == 1.0  # type: ignore[union-attr]


async def test_whitespace_is_normalized_before_understanding(runtime: Runtime) -> None:
    """Runs of spaces and newlines collapse, so the classifier sees clean text."""
    await runtime.engine.handle("c", UserMessage("   are you\n\n a   bot?  "))
    state = await runtime.engine.state("c")
    assert state.latest_user is not None and state.latest_user.intent == "bot_challenge"


async def test_collect_step_waits_for_the_answer_and_fills_the_slot(runtime: Runtime) -> None:
    """A flow's collect step asks, the next message fills the slot, and the flow continues."""
    first = await runtime.engine.handle("c", UserMessage("I want to give feedback"))
    assert first[0].text == "How was your experience today?"
    assert (await runtime.engine.state("c")).active_flow == "feedback"
    second = await runtime.engine.handle("c", UserMessage("quick and friendly"))
    assert second[0].text == 'Thanks for the feedback: "quick and friendly".'
    state = await runtime.engine.state("c")
    assert state.active_flow is None and state.slots["feedback"] == "quick and friendly"


async def test_asking_for_a_human_escalates_with_context(runtime: Runtime) -> None:
    """'I want a real person' hands off with reason requested and a context package."""
    await runtime.engine.handle("c", UserMessage("hello"))
    replies = await runtime.engine.handle("c", UserMessage("I want to talk to a real person"))
    assert "member of our team" in replies[0].text
    state = await runtime.engine.state("c")
    assert state.status is Status.HANDOFF
    assert state.escalation is not None and state.escalation.reason == "requested"
    context = state.escalation.context
    assert context["reason"] == "requested" and context["customer"]["verified"] is False
    assert [line["text"] for line in context["transcript"] if line["from"] == "customer"] == [
        "hello", "I want to talk to a real person"]


async def test_messages_during_handoff_are_kept_for_the_agent_without_bot_replies(runtime: Runtime) -> None:
    """While humans own the conversation the bot stays silent and loses nothing the customer writes."""
    await runtime.engine.handle("c", UserMessage("agent please"))
    for text in ("are you there?", "my order is late"):
        assert await runtime.engine.handle("c", UserMessage(text)) == []
    state = await runtime.engine.state("c")
    kept = [e.text for e in state.events if isinstance(e, UserUttered) and e.for_agent]
    assert kept == ["are you there?", "my order is late"]
    await runtime.engine.record("c", [AgentMessage(agent="amy", text="Hi, Amy here")])
    assert isinstance((await runtime.engine.state("c")).events[-1], AgentMessage)


async def test_too_long_and_empty_messages_are_refused_before_anything_is_stored(runtime: Runtime) -> None:
    """Over-long and empty messages raise typed errors and leave no events behind."""
    cap = runtime.project.config.limits.max_message_chars
    with pytest.raises(MessageTooLong):
        await runtime.engine.handle("c", UserMessage("x" * (cap + 1)))
    with pytest.raises(RequestError):
        await runtime.engine.handle("c", UserMessage("   "))
    with pytest.raises(RequestError):
        await runtime.engine.handle("", UserMessage("hi"))
    assert (await runtime.engine.state("c")).events == []


class _SlowStage:
    """A stage that yields to the event loop for a while, inviting another turn to interleave."""

    name = "slow"

    def __init__(self) -> None:
        self.active = 0
        self.max_active = 0

    async def run(self, turn: Turn) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0.05)
        self.active -= 1


async def test_two_messages_of_one_conversation_never_interleave(runtime: Runtime) -> None:
    """Concurrent messages to one conversation run one after the other and are stored in order."""
    slow = _SlowStage()
    runtime.engine.stages.insert(1, slow)
    texts = [f'/greet{{"n": "{i}"}}' for i in range(5)]
    await asyncio.gather(*(runtime.engine.handle("same", UserMessage(t)) for t in texts))
    assert slow.max_active == 1
    state = await runtime.engine.state("same")
    kinds = [e.type for e in state.events]
    assert kinds == ["user", "flow_started", "flow_step", "bot", "flow_completed"] * 5
    users = [e.text for e in state.events if isinstance(e, UserUttered)]
    assert sorted(users) == sorted(texts)


async def test_different_conversations_run_concurrently(runtime: Runtime) -> None:
    """The lock is per conversation: two conversations overlap in time."""
    slow = _SlowStage()
    runtime.engine.stages.insert(1, slow)
    await asyncio.gather(runtime.engine.handle("a", UserMessage("hi")), runtime.engine.handle("b", UserMessage("hi")))
    assert slow.max_active == 2


class _BrokenStage:
    name = "broken"

    async def run(self, turn: Turn) -> None:
        raise RuntimeError("bug in a stage")


async def test_a_failing_stage_keeps_the_message_and_hands_off(runtime: Runtime) -> None:
    """A bug in a stage never drops the customer's message: it is stored, the customer is told, humans take over."""
    runtime.engine.stages.insert(4, _BrokenStage())
    replies = await runtime.engine.handle("c", UserMessage("where is my sofa?"))
    assert "something went wrong" in replies[0].text
    state = await runtime.engine.state("c")
    assert state.events[0].text == "where is my sofa?"  # type: ignore[attr-defined]
    assert any(isinstance(e, Escalated) and e.reason == "error" for e in state.events)
    assert state.status is Status.HANDOFF


async def test_flooding_a_conversation_is_refused_and_stores_nothing(runtime: Runtime) -> None:
    """More messages per minute than the limit are refused with a retry delay; the refused one is not stored."""
    limit = runtime.project.config.limits.max_turns_per_minute
    for _ in range(limit):
        await runtime.engine.handle("flood", UserMessage("/greet"))
    stored = len((await runtime.engine.state("flood")).events)
    with pytest.raises(RateLimited) as refused:
        await runtime.engine.handle("flood", UserMessage("/greet"))
    assert refused.value.status == 429 and 1 <= refused.value.retry_after <= 60
    assert len((await runtime.engine.state("flood")).events) == stored
