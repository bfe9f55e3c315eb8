"""The engine answers factual questions from the knowledge base, with citations, or says it does not know."""

from __future__ import annotations

from bot.app.runtime import Runtime
from bot.kernel.events import KnowledgeConsulted
from bot.kernel.messages import UserMessage


async def test_a_policy_question_gets_a_cited_answer(runtime: Runtime) -> None:
    """A question the documents answer gets their answer with the source cited and recorded."""
    replies = await runtime.engine.handle("kb1", UserMessage("can I pay with PayPal?"))
    assert "PayPal" in replies[0].text
    assert replies[0].citations and replies[0].citations[0]["title"]
    state = await runtime.engine.state("kb1")
    consulted = [e for e in state.events if isinstance(e, KnowledgeConsulted)]
    assert consulted and consulted[0].answered and consulted[0].documents


async def test_an_unanswerable_question_gets_dont_know_and_a_human_offer(runtime: Runtime) -> None:
    """Nothing in the documents grounds the answer: the bot says so, offers a person and invents nothing."""
    replies = await runtime.engine.handle("kb2", UserMessage("what's the capital of France?"))
    assert "couldn't find that" in replies[0].text
    assert "Paris" not in replies[0].text
    assert [b.payload for b in replies[0].buttons] == ["/human"]
    state = await runtime.engine.state("kb2")
    consulted = [e for e in state.events if isinstance(e, KnowledgeConsulted)]
    assert consulted and not consulted[0].answered and consulted[0].documents == ()


async def test_the_human_offer_button_hands_off(runtime: Runtime) -> None:
    """Pressing 'Talk to a person' after a don't-know escalates with reason requested."""
    await runtime.engine.handle("kb3", UserMessage("what's the capital of France?"))
    await runtime.engine.handle("kb3", UserMessage("/human"))
    state = await runtime.engine.state("kb3")
    assert state.escalation is not None and state.escalation.reason == "requested"
