"""The flow grammar: conditions, load-time validation with file and line, and slot protection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.flows.conditions import ConditionError, evaluate, slot_names
from bot.infra.settings import DEMO_PROJECT
from bot.kernel.errors import ConfigError
from bot.project import load_project


@pytest.mark.parametrize(("condition", "slots", "expected"), [
    ("slots.authenticated", {"authenticated": True}, True),
    ("not slots.order_found", {"order_found": None}, True),
    ('slots.status == "Processing" and slots.ok', {"status": "processing", "ok": True}, True),
    ('slots.status in ["shipped", "delivered"]', {"status": "processing"}, False),
    ("not slots.pick in slots.offered", {"pick": "b", "offered": ("a", "b")}, False),
    ('slots.code matches "^[0-9]{6}$"', {"code": "12345"}, False),
    ("slots.attempts >= 3 or slots.locked", {"attempts": 3.0, "locked": False}, True),
    ("(slots.a or slots.b) and not slots.c", {"a": False, "b": True, "c": False}, True),
    ('slots.plan = "Fibre"', {"plan": "fibre"}, True),  # Rasa's one "="
    ("slots.usage is null", {}, True),
    ("slots.usage is null", {"usage": 0.0}, False),
    ('slots.plan != "fibre" and slots.plan is not null', {"plan": "copper"}, True),
    ('slots.plan != "fibre" and slots.plan is not null', {"plan": None}, False),
    ('slots.tags contains "urgent"', {"tags": ["Urgent", "late"]}, True),
    ('slots.note contains "refund"', {"note": "wants a Refund now"}, True),
    ('slots.note contains "refund"', {"note": None}, False),
    ("false", {}, False),
])
def test_conditions_evaluate_over_slots(condition: str, slots: dict, expected: bool) -> None:
    """Each condition form gives the documented truth value."""
    assert evaluate(condition, slots) is expected


def test_bad_conditions_raise_and_slot_names_are_listed() -> None:
    """Unknown names and dangling operators are errors; the slots a condition reads are listed."""
    with pytest.raises(ConditionError):
        evaluate("order_found", {})
    with pytest.raises(ConditionError):
        evaluate("slots.a ==", {})
    assert slot_names('slots.a == "x" or not slots.b') == {"a", "b"}


def _project_with(tmp_path: Path, flows_yaml: str) -> Path:
    root = tmp_path / "project"
    shutil.copytree(DEMO_PROJECT, root, ignore=shutil.ignore_patterns(".careline"))
    (root / "flows" / "broken.yml").write_text(flows_yaml)
    return root


def test_unreachable_steps_are_reported_with_file_and_line(tmp_path: Path) -> None:
    """A step no ``next`` leads to is a config error that names the file, line and key."""
    root = _project_with(tmp_path, """flows:
  broken:
    description: x
    steps:
      - action: utter_greet
        next: END
      - id: orphan
        action: utter_goodbye
""")
    with pytest.raises(ConfigError) as info:
        load_project(root)
    [problem] = info.value.problems
    assert problem.path.name == "broken.yml" and problem.line == 7 and problem.key == "flows.broken.steps.1"
    assert "unreachable step 'orphan'" in problem.message


def test_conditions_on_unknown_slots_and_unguarded_account_flows_are_errors(tmp_path: Path) -> None:
    """Conditions must name declared slots; requires_auth flows must call authentication first."""
    root = _project_with(tmp_path, """flows:
  broken:
    description: x
    requires_auth: true
    steps:
      - action: action_order_status
        next:
          - if: slots.no_such_slot
            then: END
          - else: END
""")
    with pytest.raises(ConfigError) as info:
        load_project(root)
    messages = sorted(p.message for p in info.value.problems)
    assert messages == ["a flow with requires_auth must start with 'call: authentication'",
                        "condition reads unknown slot 'no_such_slot'"]


def test_inline_branch_steps_are_lifted_into_the_flow() -> None:
    """Rasa's ``then:``/``else:`` step lists become labelled steps of the flow; each list ends the flow unless
    it says otherwise, and the original last step no longer falls into the lifted ones."""
    from bot.flows.schema import Flow

    flow = Flow.model_validate({"description": "x", "steps": [
        {"noop": True, "next": [
            {"if": "slots.a", "then": [{"action": "utter_a"}, {"action": "utter_a2"}]},
            {"else": [{"id": "b", "action": "utter_b", "next": [{"if": "slots.c", "then": [{"action": "utter_c"}]},
                                                                   {"else": "END"}]}]}]}]})
    steps = {s.id: s for s in flow.steps if s.id}
    first = flow.steps[0]
    assert isinstance(first.next, list) and [b.then or b.else_ for b in first.next] == ["inline_1", "b"]
    assert steps["inline_1"].action == "utter_a" and steps["inline_1"].next is None
    after_a = flow.steps[flow.steps.index(steps["inline_1"]) + 1]
    assert after_a.action == "utter_a2" and after_a.next == "END"
    assert isinstance(steps["b"].next, list) and steps["b"].next[0].then == "inline_2"
    assert steps["inline_2"].action == "utter_c" and steps["inline_2"].next == "END"


@pytest.mark.parametrize(("payload", "slots"), [
    ("/SetSlots(outage_confirmed=true)", {"outage_confirmed": True}),
    ("/SetSlots(plan=mobile, months=12)", {"plan": "mobile", "months": 12}),
    ('/SetSlots(note="two words", gone=null)', {"note": "two words", "gone": None}),
])
def test_rasa_setslots_payloads_carry_their_slots(payload: str, slots: dict) -> None:
    from bot.nlu.payload import parse_payload

    understood = parse_payload(payload)
    assert understood is not None and understood.intent == "inform" and understood.confidence == 1.0
    assert {e.entity: e.value for e in understood.entities} == slots
    assert parse_payload("/SetSlots(no pair)") is None
