"""Assertions judge a turn's events: each passes when it should and fails with a readable explanation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.kernel.events import (
    ActionExecuted,
    BotUttered,
    Escalated,
    Event,
    FlowCompleted,
    FlowStarted,
    FlowStepReached,
    GuardrailTriggered,
    KnowledgeConsulted,
    SlotSet,
    UserUttered,
)
from evals.assertions import AssertionSyntaxError, CheckContext, parse_assertion
from evals.observation import TurnObservation

GREETING = "Hi! I'm the Northwind assistant. I can check orders."


def observe(*events: Event, before: tuple[Event, ...] = ()) -> TurnObservation:
    """A turn made of ``events`` (a user event is added first when missing)."""
    turn = list(events)
    if not any(isinstance(e, UserUttered) for e in turn):
        turn.insert(0, UserUttered(text="hi", intent="greet", confidence=0.93))
    return TurnObservation(0, "hi", "rest", turn, [*before, *turn], 12.0)


def check(raw: dict[str, Any], turn: TurnObservation, context: CheckContext | None = None) -> Any:
    return parse_assertion(raw).check(turn, context or CheckContext())


def greeting_turn() -> TurnObservation:
    return observe(
        UserUttered(text="hi", intent="greet", confidence=0.93),
        FlowStarted(flow_id="greet"),
        FlowStepReached(flow_id="greet", step_id="0"),
        BotUttered(text=GREETING, response="utter_greet",
                   buttons=({"title": "Where is my order?", "payload": "/check_order_status"},)),
        FlowCompleted(flow_id="greet"),
    )


def test_flow_and_intent_assertions_pass_on_matching_events() -> None:
    """flow_started, flow_completed (with its last step) and intent_is hold for a greeting turn."""
    turn = greeting_turn()
    for raw in ({"flow_started": "greet"}, {"flow_completed": {"flow_id": "greet", "flow_step_id": "0"}},
                {"intent_is": "greet"}, {"not_escalated": True}):
        assert check(raw, turn).passed, raw


def test_flow_and_intent_assertions_fail_with_what_happened() -> None:
    """A wrong flow or intent fails and the explanation names what actually happened."""
    turn = greeting_turn()
    started = check({"flow_started": "help"}, turn)
    assert not started.passed and "greet" in started.actual
    intent = check({"intent_is": "goodbye"}, turn)
    assert not intent.passed and intent.actual == "intent 'greet' (0.93)"
    step = check({"flow_completed": {"flow_id": "greet", "flow_step_id": "3"}}, turn)
    assert not step.passed and "'0'" in step.actual


def test_bot_uttered_matches_name_regex_and_buttons() -> None:
    """bot_uttered checks the response name, a case-insensitive regex and the buttons."""
    turn = greeting_turn()
    assert check({"bot_uttered": {"utter_name": "utter_greet", "text_matches": "northwind assistant",
                                  "buttons": [{"title": "Where is my order?"}]}}, turn).passed
    assert not check({"bot_uttered": {"buttons": []}}, turn).passed
    assert check({"bot_did_not_utter": "utter_help"}, turn).passed
    refused = check({"bot_did_not_utter": {"text_matches": "Northwind"}}, turn)
    assert not refused.passed and "utter_greet" in refused.actual


def test_bot_uttered_exact_text_failure_carries_a_unified_diff() -> None:
    """An exact text that differs by a word fails with a diff showing both versions."""
    outcome = check({"bot_uttered": {"text": "Hi! I'm the Northwind assistant. I can track orders."}},
                    greeting_turn())
    assert not outcome.passed
    assert "-I can track orders." in outcome.diff and "+I can check orders." in outcome.diff


def test_slot_assertions_compare_values() -> None:
    """slot_was_set passes for the right value and fails naming the value that was set instead."""
    turn = observe(SlotSet(name="feedback", value="great"))
    assert check({"slot_was_set": [{"name": "feedback", "value": "great"}]}, turn).passed
    assert check({"slot_was_set": ["feedback"]}, turn).passed
    wrong = check({"slot_was_set": [{"feedback": "bad"}]}, turn)
    assert not wrong.passed and "feedback='great'" in wrong.actual
    assert not check({"slot_was_not_set": ["feedback"]}, turn).passed
    assert check({"slot_was_not_set": [{"name": "feedback", "value": "bad"}]}, turn).passed


def test_escalation_assertions_check_reason_and_team() -> None:
    """escalated checks reason and team; not_escalated fails on a handoff."""
    turn = observe(Escalated(reason="regulated", team="compliance", context={"customer": {"verified": False}}))
    assert check({"escalated": {"reason": "regulated", "team": "compliance"}}, turn).passed
    wrong = check({"escalated": "requested"}, turn)
    assert not wrong.passed and "regulated" in wrong.actual
    assert not check({"not_escalated": True}, turn).passed
    assert not check({"escalated": True}, greeting_turn()).passed


def test_handoff_context_contains_matches_dotted_paths_and_list_items() -> None:
    """handoff_context_contains matches nested keys partially and reports missing keys."""
    context = {"reason": "requested", "customer": {"verified": False, "id": None},
               "flows": {"started": ["greet", "feedback"]}, "transcript": [{"from": "customer", "text": "hi"}]}
    turn = observe(Escalated(reason="requested", context=context))
    assert check({"handoff_context_contains": {"customer.verified": False, "flows.started": "feedback",
                                               "transcript": [{"text": "hi"}], "summary.x": None}},
                 turn).passed is False
    assert check({"handoff_context_contains": {"customer.verified": False, "flows.started": "feedback",
                                               "transcript": [{"text": "hi"}]}}, turn).passed
    missing = check({"handoff_context_contains": ["summary"]}, turn)
    assert not missing.passed and "summary: missing" in missing.actual


def test_knowledge_assertions_need_citations_and_support() -> None:
    """answer_cites finds the document; answer_is_grounded fails when the answer's words are not in it."""
    doc = {"doc_id": "living/returns", "title": "Returns policy", "heading": "FAQ", "url": None}
    answer = "You can return items within 30 days of delivery."
    turn = observe(KnowledgeConsulted(query="returns?", documents=(doc,), answered=True),
                   BotUttered(text=answer, response="knowledge_answer", citations=(doc,)))
    assert check({"answer_cites": "living/returns"}, turn).passed
    assert check({"answer_cites": "returns"}, turn).passed
    assert not check({"answer_cites": "living/warranty"}, turn).passed
    backed = CheckContext(document_text=lambda _id: "Items can be returned within 30 days of delivery.")
    unrelated = CheckContext(document_text=lambda _id: "Our stores open at nine.")
    assert check({"answer_is_grounded": True}, turn, backed).passed
    assert not check({"answer_is_grounded": True}, turn, unrelated).passed
    refusal = observe(KnowledgeConsulted(query="?", answered=False), BotUttered(text="I don't know"))
    assert not check({"answer_is_grounded": True}, refusal).passed


def test_no_account_data_disclosed_until_verified() -> None:
    """Account data in a bot message fails the check unless the customer is verified."""
    leak = BotUttered(text="Your order goes to 10 Downing Street.")
    context = CheckContext(account_data=("10 Downing Street",))
    failed = check({"no_account_data_disclosed": True}, observe(leak), context)
    assert not failed.passed and "10 Downing Street" in failed.actual
    verified = observe(leak, before=(SlotSet(name="authenticated", value=True),))
    assert check({"no_account_data_disclosed": True}, verified, context).passed
    assert check({"no_account_data_disclosed": {"values": ["ada@example.com"]}}, observe(leak)).passed


def test_action_and_guardrail_assertions() -> None:
    """action_executed and guardrail_triggered look at this turn's events."""
    turn = observe(ActionExecuted(name="action_order_status"),
                   GuardrailTriggered(decision="escalate", category="legal_threat"))
    assert check({"action_executed": "action_order_status"}, turn).passed
    assert not check({"action_executed": "action_cancel_order"}, turn).passed
    assert check({"guardrail_triggered": {"category": "legal_threat", "decision": "escalate"}}, turn).passed
    assert not check({"guardrail_triggered": "anger"}, turn).passed


@pytest.mark.parametrize("raw", [{"no_such": 1}, {"intent_is": 3}, {"escalated": 5},
                                 {"bot_uttered": {"text_matches": "("}}, {"a": 1, "b": 2}])
def test_malformed_assertions_are_rejected(raw: dict[str, Any]) -> None:
    """Unknown keys, wrong value types and bad regexes raise AssertionSyntaxError."""
    with pytest.raises(AssertionSyntaxError):
        parse_assertion(raw)
