"""Assertions: what a test case expects of one turn, checked against the turn's events.

Each assertion is a small frozen dataclass (evals as data) with one method, ``check(turn, context)``,
returning an :class:`Outcome` that says what was expected and what happened, so a failure reads as a
diff. In a suite file an assertion is a one-key mapping, Rasa's e2e spelling where Rasa has one::

    assertions:
      - intent_is: greet
      - flow_started: feedback
      - bot_uttered: {utter_name: utter_greet, text_matches: "Northwind"}
      - slot_was_set: [{name: feedback, value: "great"}]
      - escalated: {reason: requested}

:data:`ASSERTIONS` maps each key to its class; :func:`parse_assertion` builds one from YAML.
"""

from __future__ import annotations

from typing import Any

from evals.assertions.base import Assertion, AssertionSyntaxError, CheckContext, DocumentText, Outcome
from evals.assertions.dialogue import (
    ActionWasExecuted,
    FlowCancelledIs,
    FlowCompletedIs,
    FlowStartedIs,
    IntentIs,
    SlotSpec,
    SlotWasNotSet,
    SlotWasSet,
)
from evals.assertions.generative import (
    GenerativeResponseIsGrounded,
    GenerativeResponseIsRelevant,
    PatternClarificationContains,
)
from evals.assertions.handoff import EscalatedIs, GuardrailTriggeredIs, HandoffContextContains, NotEscalated
from evals.assertions.knowledge import AnswerCites, AnswerIsGrounded, NoAccountDataDisclosed, grounded, support
from evals.assertions.messages import BotDidNotSay, BotSaid, Utterance

__all__ = [
    "ASSERTIONS",
    "ActionWasExecuted",
    "AnswerCites",
    "AnswerIsGrounded",
    "Assertion",
    "AssertionSyntaxError",
    "BotDidNotSay",
    "BotSaid",
    "CheckContext",
    "DocumentText",
    "EscalatedIs",
    "FlowCancelledIs",
    "FlowCompletedIs",
    "FlowStartedIs",
    "GenerativeResponseIsGrounded",
    "GenerativeResponseIsRelevant",
    "GuardrailTriggeredIs",
    "HandoffContextContains",
    "IntentIs",
    "NoAccountDataDisclosed",
    "NotEscalated",
    "Outcome",
    "PatternClarificationContains",
    "SlotSpec",
    "SlotWasNotSet",
    "SlotWasSet",
    "Utterance",
    "grounded",
    "parse_assertion",
    "support",
]

ASSERTIONS: dict[str, type[Assertion]] = {
    cls.kind: cls
    for cls in (FlowStartedIs, FlowCompletedIs, FlowCancelledIs, SlotWasSet, SlotWasNotSet, ActionWasExecuted,
                BotSaid, BotDidNotSay, IntentIs, EscalatedIs, NotEscalated, HandoffContextContains,
                AnswerCites, AnswerIsGrounded, NoAccountDataDisclosed, GuardrailTriggeredIs,
                GenerativeResponseIsGrounded, GenerativeResponseIsRelevant, PatternClarificationContains)
}


def parse_assertion(raw: Any) -> Assertion:
    """One assertion from its one-key YAML mapping."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise AssertionSyntaxError(f"an assertion is a mapping with one key, one of: {', '.join(sorted(ASSERTIONS))}")
    (key, value), = raw.items()
    cls = ASSERTIONS.get(key)
    if cls is None:
        raise AssertionSyntaxError(f"unknown assertion {key!r}; known: {', '.join(sorted(ASSERTIONS))}")
    return cls.parse(value)
