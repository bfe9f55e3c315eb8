"""The engine runs a turn as ordered stages over event-sourced state, one turn per conversation at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.app.runtime import Runtime
from bot.infra.locks import InProcessLocks, Lease, LockLost
from bot.kernel.conversation import Status
from bot.kernel.errors import MessageTooLong, RateLimited, RequestError
from bot.kernel.events import AgentMessage, BotUttered, Escalated, UserUttered
from bot.kernel.messages import UserMessage
from bot.pipeline.engine import Engine, TurnTimedOut
from bot.pipeline.turn import CONTINUE, StageResult, Turn

CHAIN = ["normalize", "csat", "reply", "resume_matter", "scope", "input_guards", "understand", "scope_understood",
         "policy_question", "dialogue", "knowledge"]
CLOSING = ["customer_link", "output_guards", "escalate", "respond"]


async def test_a_turn_the_dialogue_answers_skips_the_rest_of_the_chain(runtime: Runtime) -> None:
    """A greeting is answered by the dialogue stage: the chain stops there and the closing stages still run."""
    await runtime.engine.handle("c", UserMessage("hello"))
    assert runtime.engine.last_trace == CHAIN[:CHAIN.index("dialogue") + 1] + CLOSING


async def test_a_knowledge_question_passes_every_stage_in_the_documented_order(runtime: Runtime) -> None:
    """A question no flow answers runs the whole chain down to knowledge, then output, escalate, respond."""
    await runtime.engine.handle("c", UserMessage("what is your returns policy?"))
    assert runtime.engine.last_trace == CHAIN + CLOSING


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
    latest = (await runtime.engine.state("c")).latest_user
    assert latest is not None and latest.confidence == 1.0


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

    async def run(self, turn: Turn) -> StageResult:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0.05)
        self.active -= 1
        return CONTINUE


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

    async def run(self, turn: Turn) -> StageResult:
        raise RuntimeError("bug in a stage")


async def test_a_failing_stage_keeps_the_message_and_hands_off(runtime: Runtime) -> None:
    """A bug in a stage never drops the customer's message: it is stored, the customer is told, humans take over."""
    runtime.engine.stages.insert(4, _BrokenStage())
    replies = await runtime.engine.handle("c", UserMessage("where is my sofa?"))
    assert "something went wrong" in replies[0].text
    state = await runtime.engine.state("c")
    message = state.events[0]
    assert isinstance(message, UserUttered) and message.text == "where is my sofa?"
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


async def test_a_retried_message_id_is_answered_from_the_stored_turn(runtime: Runtime) -> None:
    """Resending a message with the same client id runs no second turn: one stored message, same answer."""
    first = await runtime.engine.handle("c", UserMessage("hello there", message_id="m-1"))
    again = await runtime.engine.handle("c", UserMessage("hello there", message_id="m-1"))
    assert [(r.text, r.buttons) for r in again] == [(r.text, r.buttons) for r in first] and first
    state = await runtime.engine.state("c")
    assert [e.message_id for e in state.events if isinstance(e, UserUttered)] == ["m-1"]
    other = await runtime.engine.handle("c", UserMessage("/bot_challenge", message_id="m-2"))
    assert "virtual assistant" in other[0].text


async def test_concurrent_copies_of_one_message_run_one_turn(runtime: Runtime) -> None:
    """Three copies of one message id sent at once are stored once and all get the first turn's answer."""
    slow = _SlowStage()
    runtime.engine.stages.insert(1, slow)
    answers = await asyncio.gather(*(runtime.engine.handle("c", UserMessage("hello", message_id="m-1"))
                                     for _ in range(3)))
    assert len({tuple(r.text for r in replies) for replies in answers}) == 1 and answers[0]
    users = [e for e in (await runtime.engine.state("c")).events if isinstance(e, UserUttered)]
    assert len(users) == 1


class _Stuck:
    """A stage that never finishes in time (a hung provider)."""

    name = "stuck"

    async def run(self, turn: Turn) -> StageResult:
        await asyncio.sleep(5)
        return CONTINUE


async def test_a_turn_past_its_deadline_is_abandoned_and_not_stored(runtime: Runtime) -> None:
    """A turn that outlives the engine's deadline raises TurnTimedOut (a StoreError: 503) and stores nothing."""
    runtime.engine.turn_timeout = 0.3
    runtime.engine.stages.insert(1, _Stuck())
    with pytest.raises(TurnTimedOut):
        await runtime.engine.handle("c", UserMessage("hello"))
    assert (await runtime.engine.state("c")).events == []


class _LostLocks(InProcessLocks):
    """Locks whose lease is already gone by commit time (another worker took over)."""

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[Lease]:
        lease = Lease(conversation_id)
        lease.lost = True
        yield lease


async def test_a_turn_whose_lease_was_lost_is_not_committed(runtime: Runtime) -> None:
    """A holder whose lease ran out mid-turn is fenced: LockLost, nothing stored."""
    runtime.engine.locks = _LostLocks()
    with pytest.raises(LockLost):
        await runtime.engine.handle("c", UserMessage("hello"))
    assert (await runtime.engine.state("c")).events == []


async def test_two_workers_racing_past_the_lock_store_a_message_id_once(runtime: Runtime) -> None:
    """Two engines on one store, each with its own lock (as workers whose lock failed them): copies of one
    message id racing are stored once; the loser answers from the winner's turn."""
    slow = _SlowStage()
    runtime.engine.stages.insert(1, slow)
    other = Engine(runtime.project, runtime.engine.store, runtime.engine.stages, closing=runtime.engine.closing,
                   locks=InProcessLocks())
    answers = await asyncio.gather(runtime.engine.handle("c", UserMessage("hello", message_id="m-1")),
                                   other.handle("c", UserMessage("hello", message_id="m-1")))
    assert slow.max_active == 2  # both turns really ran at once
    assert [r.text for r in answers[0]] == [r.text for r in answers[1]] and answers[0]
    users = [e for e in (await runtime.engine.state("c")).events if isinstance(e, UserUttered)]
    assert len(users) == 1
