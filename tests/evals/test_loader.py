"""Suite files: Rasa's e2e format plus our assertions; every mistake is reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.assertions import BotSaid, IntentIs, SlotWasSet
from evals.loader import SuiteError, load_suite, load_suites

SUITE = """\
fixtures:
  - verified:
      - authenticated: true
      - customer_id: C001
metadata:
  - voice:
      channel: voice
account_data: [ada@example.com]
test_cases:
  - test_case: greets
    fixtures: [verified]
    metadata: voice
    steps:
      - user: hi
        assertions:
          - intent_is: greet
      - utter: utter_greet
      - bot: "Hello!"
      - user: my feedback
        metadata: {channel: web}
      - slot_was_set:
          - feedback: my feedback
"""


def test_rasa_format_with_fixtures_metadata_and_older_steps(tmp_path: Path) -> None:
    """Fixtures become pre-set slots, metadata the channel, and utter/bot/slot steps attach to the user turn."""
    path = tmp_path / "s.yml"
    path.write_text(SUITE)
    suite = load_suite(path)
    case = suite.cases[0]
    assert suite.name == "s" and suite.account_data == ("ada@example.com",)
    assert case.slots == {"authenticated": True, "customer_id": "C001"} and case.account_data == ("ada@example.com",)
    assert case.metadata == {"channel": "voice"} and case.turns[1].channel == "web"
    kinds = [type(a) for a in case.turns[0].assertions]
    assert kinds == [IntentIs, BotSaid, BotSaid]
    assert isinstance(case.turns[1].assertions[0], SlotWasSet)
    assert case.line == 10 and case.turns[0].line == 14 and case.id == "s::greets"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("test_cases:\n  - test_case: a\n    steps:\n      - user: hi\n        assertions:\n          - intnt_is: x\n",
     6, "unknown assertion 'intnt_is'"),
    ("test_cases:\n  - test_case: a\n    steps:\n      - utter: utter_greet\n", 4, "must follow a 'user' step"),
    ("test_cases:\n  - test_case: a\n    fixtures: [nope]\n    steps:\n      - user: hi\n", 3, "unknown fixture"),
    ("test_cases:\n  - test_case: a\n    stepz: []\n", 3, "unknown key"),
    ("test_cases:\n  - test_case: a\n    steps:\n      - user: hi\n  - test_case: a\n    steps:\n"
     "      - user: yo\n", 5, "duplicate test case name"),
    ("test_cases: [\n", 2, "invalid YAML"),
])
def test_problems_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    """Each kind of mistake raises SuiteError whose problem points at the offending line."""
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(SuiteError) as caught:
        load_suites([tmp_path])
    problems = caught.value.problems
    assert any(p.path == path and p.line == line and message in p.message for p in problems), problems


def test_missing_path_is_reported(tmp_path: Path) -> None:
    """A path that does not exist is a SuiteError, not an empty run."""
    with pytest.raises(SuiteError, match="no such file"):
        load_suites([tmp_path / "nope.yml"])


def test_shipped_suites_load_and_hold_at_least_sixty_cases() -> None:
    """The shipped suites are valid and together hold at least 60 cases with unique ids."""
    suites = load_suites([Path(__file__).parents[2] / "evals" / "suites"])
    ids = [c.id for s in suites for c in s.cases]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60
