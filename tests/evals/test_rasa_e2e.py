"""Rasa's e2e runner options: ordered assertions, the judged generative assertions, clarification, and the
file layouts ``rasa test e2e`` accepts (comment-only files, the same file name in two folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.kernel.events import BotUttered, Event, SlotSet, UserUttered
from evals.assertions import CheckContext, parse_assertion
from evals.loader import load_suites
from evals.observation import TurnObservation
from evals.ordering import check_in_order

CASE = """\
test_cases:
  - test_case: {name}
    steps:
      - user: hi
        assertion_order_enabled: true
        assertions:
          - bot_uttered: {{utter_name: utter_greet}}
"""


def observe(*events: Event, text: str = "hi") -> TurnObservation:
    turn = [UserUttered(text=text, intent="greet", confidence=0.9), *events]
    return TurnObservation(0, text, "rest", turn, list(turn), 5.0)


def test_same_file_name_in_two_folders_and_the_same_case_name_load_as_two_suites(tmp_path: Path) -> None:
    """Two ``transfer.yml`` in different folders are two suites named by their path; a case name may repeat."""
    for folder in ("happy_path", "corrections"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "transfer.yml").write_text(CASE.format(name="user transfers money"))
    suites = load_suites([tmp_path])
    assert sorted(s.name for s in suites) == ["corrections/transfer", "happy_path/transfer"]
    assert sorted(c.id for s in suites for c in s.cases) == ["corrections/transfer::user transfers money",
                                                              "happy_path/transfer::user transfers money"]
    assert all(t.ordered for s in suites for c in s.cases for t in c.turns)


def test_a_comment_only_file_is_skipped(tmp_path: Path) -> None:
    """A file with only comments (a test switched off) holds no suite instead of failing the load."""
    (tmp_path / "off.yml").write_text("# test_cases:\n#   - test_case: later\n")
    (tmp_path / "on.yml").write_text(CASE.format(name="greets"))
    assert [s.name for s in load_suites([tmp_path])] == ["on"]


def test_ordered_assertions_fail_when_the_order_is_not_the_bot_s() -> None:
    """With assertion_order_enabled a slot set before the question passes; written the other way round it fails."""
    turn = observe(SlotSet(name="amount", value=50), BotUttered(text="To whom?", response="utter_ask_recipient"))
    slot = parse_assertion({"slot_was_set": [{"name": "amount", "value": 50}]})
    asked = parse_assertion({"bot_uttered": {"utter_name": "utter_ask_recipient"}})
    assert all(o.passed for o in check_in_order([slot, asked], turn, CheckContext()))
    wrong = check_in_order([asked, slot], turn, CheckContext())
    assert [o.passed for o in wrong] == [True, False]
    assert all(o.passed for o in [asked.check(turn, CheckContext()), slot.check(turn, CheckContext())])


def test_a_negative_assertion_does_not_move_the_position() -> None:
    """bot_did_not_utter is checked on what follows the previous match and later ones still see those events."""
    turn = observe(BotUttered(text="Hi!", response="utter_greet"), BotUttered(text="Help?", response="utter_help"))
    steps = [parse_assertion({"bot_uttered": {"utter_name": "utter_greet"}}),
             parse_assertion({"bot_did_not_utter": {"utter_name": "utter_greet"}}),
             parse_assertion({"bot_uttered": {"utter_name": "utter_help"}})]
    assert all(o.passed for o in check_in_order(steps, turn, CheckContext()))


FEE = "The monthly fee is 5 pounds. It is waived when the balance stays above 1,000 pounds."


@pytest.mark.parametrize(("answer", "passed"), [
    ("The monthly fee is 5 pounds. It is waived above a balance of 1,000 pounds.", True),
    ("The monthly fee is 5 pounds. You also get free travel insurance and a cashback card.", False),
])
def test_grounded_scores_statements_against_the_ground_truth(answer: str, passed: bool) -> None:
    """Each sentence is a statement; half of them unsupported stays under a 0.8 threshold."""
    turn = observe(BotUttered(text=answer, response="knowledge_answer", citations=({"doc_id": "fees"},)))
    outcome = parse_assertion({"generative_response_is_grounded": {"threshold": 0.8, "ground_truth": FEE}}).check(
        turn, CheckContext())
    assert outcome.passed is passed and not outcome.skipped
    assert ("unsupported" in outcome.actual) is not passed


def test_grounded_uses_the_cited_document_and_skips_without_any_ground_truth() -> None:
    """Without ground_truth the cited document's text is the truth; with nothing to compare, it is skipped."""
    turn = observe(BotUttered(text="The monthly fee is 5 pounds.", response="knowledge_answer",
                              citations=({"doc_id": "fees"},)))
    assertion = parse_assertion({"generative_response_is_grounded": {"threshold": 0.9,
                                                                     "utter_source": "EnterpriseSearchPolicy"}})
    backed = assertion.check(turn, CheckContext(document_text=lambda doc: FEE if doc == "fees" else None))
    assert backed.passed and not backed.skipped
    bare = assertion.check(turn, CheckContext())
    assert bare.passed and bare.skipped and "ground_truth" in bare.actual


def test_relevant_needs_the_embedding_model_and_judges_with_it() -> None:
    """Relevance is skipped without an encoder; with one, a low cosine fails."""
    turn = observe(BotUttered(text="Our shops open at nine.", response="knowledge_answer"), text="what's the fee?")
    assertion = parse_assertion({"generative_response_is_relevant": {"threshold": 0.9}})
    assert assertion.check(turn, CheckContext()).skipped
    far = assertion.check(turn, CheckContext(similarity=lambda _t, others: [0.1 for _ in others]))
    near = assertion.check(turn, CheckContext(similarity=lambda _t, others: [0.6 for _ in others]))
    assert (far.passed, near.passed) == (False, True)


def test_pattern_clarification_contains_compares_the_flows_offered() -> None:
    """The buttons of the clarification must start exactly the flows listed."""
    buttons = ({"title": "Send money", "payload": "/transfer_money"},
               {"title": "Add a payee", "payload": "/add_contact"})
    turn = observe(BotUttered(text="Which did you mean?", buttons=buttons))
    exact = parse_assertion({"pattern_clarification_contains": ["add_contact", "transfer_money"]})
    fewer = parse_assertion({"pattern_clarification_contains": ["transfer_money"]})
    assert exact.check(turn, CheckContext()).passed
    assert not fewer.check(turn, CheckContext()).passed
    assert not exact.check(observe(BotUttered(text="Sure.")), CheckContext()).passed
