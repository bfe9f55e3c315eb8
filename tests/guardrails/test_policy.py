"""The policy turns scored signals into one decision; safety always escalates; decisions become events."""

from __future__ import annotations

from bot.app.runtime import Runtime
from bot.guardrails.base import Action, Signal
from bot.guardrails.policy import ConfiguredPolicy
from bot.kernel.conversation import ConversationState
from bot.kernel.events import Escalated, GuardrailTriggered
from bot.kernel.messages import UserMessage
from bot.pipeline.turn import PRIORITY
from tests.guardrails.conftest import conversation


def test_scores_below_every_threshold_continue(policy: ConfiguredPolicy) -> None:
    """Weak signals and categories without a rule (PII) leave the bot in charge."""
    signals = [Signal("emotion", "anger", 0.3), Signal("pii", "pii", 1.0), Signal("x", "unknown", 1.0)]
    assert policy.decide(signals, ConversationState("c")).action is Action.CONTINUE


def test_the_strongest_earned_action_wins(policy: ConfiguredPolicy) -> None:
    """A moderate anger offers a human; the same with a regulated topic escalates as ``regulated``."""
    state = ConversationState("c")
    assert policy.decide([Signal("emotion", "anger", 0.8)], state).action is Action.OFFER_HUMAN
    decision = policy.decide([Signal("emotion", "anger", 0.8), Signal("regulated_topic", "legal_threat", 1.0)], state)
    assert (decision.action, decision.reason, decision.category) == (Action.ESCALATE, "regulated", "legal_threat")
    assert [s.category for s in decision.signals] == ["legal_threat", "anger"]


def test_injection_is_blocked(policy: ConfiguredPolicy) -> None:
    """A prompt-injection attempt is refused, not escalated."""
    decision = policy.decide([Signal("prompt_injection", "prompt_injection", 0.95)], ConversationState("c"))
    assert decision.action is Action.BLOCK


def test_self_harm_always_escalates_first_with_safety_information(policy: ConfiguredPolicy) -> None:
    """Self-harm beats every other signal, escalates as ``safety`` and carries the safety message."""
    signals = [Signal("prompt_injection", "prompt_injection", 0.95), Signal("emotion", "anger", 0.99),
               Signal("regulated_topic", "legal_threat", 1.0), Signal("regulated_topic", "self_harm", 0.7)]
    decision = policy.decide(signals, ConversationState("c"))
    assert (decision.action, decision.reason, decision.category) == (Action.ESCALATE, "safety", "self_harm")
    assert decision.message is not None and "116 123" in decision.message


def test_an_ignored_offer_escalates_next_time(policy: ConfiguredPolicy) -> None:
    """When anger fires again right after a human was offered for it, the policy escalates."""
    state = conversation("first")
    state.apply(GuardrailTriggered(decision="offer_human", category="anger"))
    from bot.kernel.events import UserUttered

    state.apply(UserUttered(text="still angry"))
    decision = policy.decide([Signal("emotion", "anger", 0.8)], state)
    assert (decision.action, decision.reason) == (Action.ESCALATE, "emotional")


async def test_decisions_and_signals_are_recorded_as_events(runtime: Runtime) -> None:
    """A self-harm message is escalated at top priority, shows safety information and leaves an audit event."""
    replies = await runtime.engine.handle("sh", UserMessage("I want to end my life", "web"))
    assert any("116 123" in r.text for r in replies)
    state = await runtime.engine.state("sh")
    triggered = [e for e in state.events if isinstance(e, GuardrailTriggered)]
    escalated = [e for e in state.events if isinstance(e, Escalated)]
    assert triggered and triggered[0].decision == "escalate" and triggered[0].category == "self_harm"
    assert triggered[0].signals[0]["category"] == "self_harm"
    assert escalated and escalated[0].reason == "safety" and escalated[0].priority == len(PRIORITY)


async def test_offer_human_keeps_the_bot_answering(runtime: Runtime) -> None:
    """An angry message gets an offer of a person with a button, and the turn is recorded as offer_human."""
    replies = await runtime.engine.handle("ang", UserMessage("This is unacceptable", "web"))
    assert any(b.payload == "/human" for r in replies for b in r.buttons)
    state = await runtime.engine.state("ang")
    assert [e.decision for e in state.events if isinstance(e, GuardrailTriggered)] == ["offer_human"]
    assert state.status == "bot"
