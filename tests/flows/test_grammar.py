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
