"""Agent actions through the HandoffService: claim, reply, notes, transfer, return-to-bot, close, CSAT, audit."""

from __future__ import annotations

import asyncio

import pytest

from bot.app.runtime import Runtime
from bot.handoff.errors import HandoffRefused, NotYourConversation, UnknownConversation, UnknownTeam
from bot.kernel.conversation import Status
from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    AgentNote,
    BotUttered,
    CsatGiven,
    Escalated,
    SlotSet,
    UserUttered,
)
from bot.kernel.messages import UserMessage

from .conftest import AMY, BOB, RuntimeFactory, escalate


async def test_claim_tells_the_customer_and_a_second_claim_is_refused(hrt: Runtime) -> None:
    """The first agent to claim owns the conversation and the customer hears who joined; another agent gets 409."""
    assert hrt.handoff is not None
    await escalate(hrt, "c1")
    outcome = await hrt.handoff.claim(AMY, "c1")
    assert outcome.state.status is Status.AGENT and outcome.state.agent == "amy"
    notice = [e for e in outcome.events if isinstance(e, BotUttered)]
    assert notice and "Amy from our team has joined" in notice[0].text
    with pytest.raises(HandoffRefused, match="already claimed by amy"):
        await hrt.handoff.claim(BOB, "c1")
    again = await hrt.handoff.claim(AMY, "c1")
    assert again.events == ()


async def test_concurrent_claims_have_exactly_one_winner(hrt: Runtime) -> None:
    """Two agents claiming at the same moment: one wins, the other is refused, one AgentJoined is stored."""
    assert hrt.handoff is not None
    await escalate(hrt, "race")
    results = await asyncio.gather(hrt.handoff.claim(AMY, "race"), hrt.handoff.claim(BOB, "race"),
                                   return_exceptions=True)
    assert sum(isinstance(r, HandoffRefused) for r in results) == 1
    state = await hrt.engine.state("race")
    assert sum(isinstance(e, AgentJoined) for e in state.events) == 1


async def test_replies_need_a_claim_and_the_owner(hrt: Runtime) -> None:
    """Writing before claiming is 409, writing to another agent's conversation is 403, the owner's reply is stored."""
    assert hrt.handoff is not None
    await escalate(hrt, "c2")
    with pytest.raises(HandoffRefused, match="claim conversation 'c2' before"):
        await hrt.handoff.send(AMY, "c2", "hello")
    await hrt.handoff.claim(AMY, "c2")
    with pytest.raises(NotYourConversation):
        await hrt.handoff.send(BOB, "c2", "hello")
    async with hrt.engine.bus.subscribe("c2") as inbox:
        await hrt.handoff.send(AMY, "c2", "Hi, Amy here. Let me look.")
        _, event = inbox.get_nowait()
    assert isinstance(event, AgentMessage) and event.text == "Hi, Amy here. Let me look."


async def test_unknown_or_never_escalated_conversations_are_404(hrt: Runtime) -> None:
    """A conversation that never reached humans cannot be viewed or claimed."""
    assert hrt.handoff is not None
    await hrt.engine.handle("bot-only", UserMessage("hello"))
    for conversation_id in ("bot-only", "nobody"):
        with pytest.raises(UnknownConversation):
            await hrt.handoff.claim(AMY, conversation_id)
        with pytest.raises(UnknownConversation):
            await hrt.handoff.view(AMY, conversation_id)


async def test_notes_stay_internal(hrt: Runtime) -> None:
    """A note is in the agent view and the events but never in the transcript the customer sees."""
    assert hrt.handoff is not None
    await escalate(hrt, "c3")
    await hrt.handoff.note(BOB, "c3", "Customer called yesterday too")
    view = await hrt.handoff.view(AMY, "c3")
    assert view["notes"][0]["text"] == "Customer called yesterday too"
    assert all("called yesterday" not in t["text"] for t in view["context"]["transcript"])
    state = await hrt.engine.state("c3")
    assert any(isinstance(e, AgentNote) for e in state.events)


async def test_transfer_requeues_for_the_other_team_keeping_the_wait(hrt: Runtime) -> None:
    """A transfer puts the conversation back in the queue for the new team, with the original waiting time."""
    assert hrt.handoff is not None
    await escalate(hrt, "c4")
    before = (await hrt.handoff.queue.entries())[0]
    await hrt.handoff.claim(AMY, "c4")
    with pytest.raises(UnknownTeam, match="known teams"):
        await hrt.handoff.transfer(AMY, "c4", "astronauts")
    await hrt.handoff.transfer(AMY, "c4", "compliance", "needs a regulated answer")
    entry = (await hrt.handoff.queue.entries())[0]
    assert (entry.status, entry.team, entry.agent) == ("handoff", "compliance", None)
    assert entry.waiting_since == pytest.approx(before.waiting_since)
    view = await hrt.handoff.view(BOB, "c4")
    assert view["context"]["transfer"] == {"from_agent": "amy", "from_team": "general",
                                           "note": "needs a regulated answer"}
    await hrt.handoff.claim(BOB, "c4")


async def test_return_to_bot_resumes_the_interrupted_flow(hrt: Runtime) -> None:
    """After return-to-bot the bot re-asks the interrupted flow's question and fills its slot from the answer."""
    assert hrt.handoff is not None
    await hrt.engine.handle("c5", UserMessage("I want to give feedback"))
    await escalate(hrt, "c5")
    assert (await hrt.engine.state("c5")).active_flow == "feedback"
    await hrt.handoff.claim(AMY, "c5")
    outcome = await hrt.handoff.return_to_bot(AMY, "c5")
    said = [e.response for e in outcome.events if isinstance(e, BotUttered)]
    assert said == ["utter_resume_flow", "utter_ask_feedback"]
    replies = await hrt.engine.handle("c5", UserMessage("it was lovely"))
    assert replies and 'Thanks for the feedback: "it was lovely"' in replies[0].text
    events = (await hrt.engine.state("c5")).events
    assert any(isinstance(e, SlotSet) and e.name == "feedback" and e.value == "it was lovely" for e in events)


async def test_return_to_bot_without_a_flow_offers_more_help(hrt: Runtime) -> None:
    """With no flow to resume the bot says it is back; the next message gets a bot answer again."""
    assert hrt.handoff is not None
    await escalate(hrt, "c6")
    await hrt.handoff.claim(AMY, "c6")
    outcome = await hrt.handoff.return_to_bot(AMY, "c6")
    assert [e.response for e in outcome.events if isinstance(e, BotUttered)] == ["utter_returned_to_bot"]
    replies = await hrt.engine.handle("c6", UserMessage("hello"))
    assert replies and "Northwind assistant" in replies[0].text


async def test_close_asks_for_csat_and_records_the_answer(hrt: Runtime) -> None:
    """Closing asks the 1-5 question; the customer's "4" is recorded as CsatGiven and thanked."""
    assert hrt.handoff is not None
    await escalate(hrt, "c7")
    await hrt.handoff.claim(AMY, "c7")
    outcome = await hrt.handoff.close(AMY, "c7")
    assert outcome.state.status is Status.CLOSED
    question = next(e for e in outcome.events if isinstance(e, BotUttered))
    assert question.response == "utter_csat" and len(question.buttons) == 5
    replies = await hrt.engine.handle("c7", UserMessage('/csat{"score": 4}'))
    assert replies[0].text == "Thank you for your rating!"
    state = await hrt.engine.state("c7")
    assert [e.score for e in state.events if isinstance(e, CsatGiven)] == [4]


async def test_a_non_score_after_the_csat_question_is_an_ordinary_message(hrt: Runtime) -> None:
    """Anything but a 1-5 score after the CSAT question is answered by the bot as usual, nothing recorded."""
    assert hrt.handoff is not None
    await escalate(hrt, "c8")
    await hrt.handoff.close(AMY, "c8")
    replies = await hrt.engine.handle("c8", UserMessage("hello"))
    assert "Northwind assistant" in replies[0].text
    assert not any(isinstance(e, CsatGiven) for e in (await hrt.engine.state("c8")).events)


async def test_csat_cannot_be_asked_when_the_project_turned_it_off(make_runtime: RuntimeFactory) -> None:
    """With handoff.csat off, close(csat=True) is refused and a plain close asks nothing."""
    runtime = await make_runtime(csat=False)
    assert runtime.handoff is not None
    await escalate(runtime, "c9")
    with pytest.raises(HandoffRefused, match="CSAT is off"):
        await runtime.handoff.close(AMY, "c9", csat=True)
    outcome = await runtime.handoff.close(AMY, "c9")
    assert not any(isinstance(e, BotUttered) for e in outcome.events)


async def test_every_view_and_action_is_audited(hrt: Runtime) -> None:
    """Queue views, context views and each action leave an audit row naming the agent."""
    assert hrt.handoff is not None
    await escalate(hrt, "c10")
    await hrt.handoff.list_queue(AMY)
    await hrt.handoff.view(AMY, "c10")
    await hrt.handoff.claim(AMY, "c10")
    await hrt.handoff.send(AMY, "c10", "hi")
    await hrt.handoff.note(AMY, "c10", "n")
    await hrt.handoff.return_to_bot(AMY, "c10")
    rows = await hrt.handoff.audit.records()
    assert [r.action for r in reversed(rows)] == ["view_queue", "view_context", "claim", "message", "note",
                                                  "return_to_bot"]
    assert all(r.actor == "amy" and r.role == "agent" for r in rows)
    claim = next(r for r in rows if r.action == "claim")
    assert claim.waited is not None and claim.waited >= 0


async def test_nothing_the_customer_writes_while_waiting_is_lost(hrt: Runtime) -> None:
    """Messages written before and after the claim are stored for the agent, unanswered, in order."""
    assert hrt.handoff is not None
    await escalate(hrt, "c11")
    assert await hrt.engine.handle("c11", UserMessage("hello?")) == []
    await hrt.handoff.claim(AMY, "c11")
    assert await hrt.engine.handle("c11", UserMessage("my order is late")) == []
    view = await hrt.handoff.view(AMY, "c11")
    waiting = [t["text"] for t in view["context"]["transcript"] if t["from"] == "customer" and t["for_agent"]]
    assert waiting == ["hello?", "my order is late"]
    state = await hrt.engine.state("c11")
    assert [e.text for e in state.events if isinstance(e, UserUttered)] == ["agent please", "hello?",
                                                                           "my order is late"]
    assert isinstance(next(e for e in state.events if isinstance(e, Escalated)), Escalated)
