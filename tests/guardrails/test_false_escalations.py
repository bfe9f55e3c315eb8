"""Regression tests for the false escalations (and the missed emergency) listed in issue #17.

Each message goes through every detector of the demo project and the one policy, as a turn would: the test
says what the customer should get (continue, or the emergency advice first), not which detector fired.
"""

from __future__ import annotations

import pytest

from bot.guardrails.base import Action, Decision, Detector
from bot.guardrails.policy import EMERGENCY_MESSAGE, ConfiguredPolicy
from bot.kernel.conversation import derive


async def decide(detectors: dict[str, Detector], policy: ConfiguredPolicy, text: str) -> Decision:
    """The policy's decision on all the demo detectors' signals for ``text`` as a first message."""
    state = derive("c", [])
    signals = [s for d in detectors.values() for s in await d.detect(text, state, "web")]
    return policy.decide(signals, state)


@pytest.mark.parametrize("text", [
    "my estate agent said the sofa would fit through the door",
    "the travel agent booked the wrong dates, can I change the delivery to after I'm back?",
    "no, I don't need a person, just send me the tracking link",
    "I don't want to talk to anyone, just tell me when it arrives",
    "the fire sale prices are killer, do you still have the blue lamp?",
    "your Black Friday deals are insane, is the kettle still in stock?",
    "I can't recall my order number, can you look it up by email?",
    "sorry, I don't recall which card I used",
])
async def test_words_in_another_sense_do_not_escalate(detectors: dict[str, Detector], policy: ConfiguredPolicy,
                                                      text: str) -> None:
    """A trade's "agent", a negated request for a person, a sale in danger words and "recall" as remembering
    neither hand the customer off nor send a safety message."""
    decision = await decide(detectors, policy, text)
    assert decision.action is Action.CONTINUE, (decision.category, [s.category for s in decision.signals])


@pytest.mark.parametrize("text", [
    "I'm booked in at the clinic tomorrow but I've got chest pain right now",
    "my dad has collapsed and isn't breathing properly",
])
async def test_a_medical_emergency_gets_emergency_advice_first(detectors: dict[str, Detector],
                                                               policy: ConfiguredPolicy, text: str) -> None:
    """Chest pain or a collapse is escalated with "call the emergency services" said before any queueing."""
    decision = await decide(detectors, policy, text)
    assert decision.action is Action.ESCALATE
    assert decision.message == EMERGENCY_MESSAGE
