"""``careline eval`` cases are independent contacts: a case that verifies a customer is never offered the open
matter another case left behind (the demo's customers verify in many cases of one run)."""

from __future__ import annotations

from pathlib import Path

from bot.app.runtime import Runtime
from bot.kernel.events import MatterOffered
from evals.loader import load_suites
from evals.runner import run_cases
from evals.targets import InProcessTarget

SUITE = """\
test_cases:
  - test_case: leaves an address change open
    steps:
      - user: I need to change the delivery address of my order
      - user: ada@example.com
      - user: SW1A 1AA
      - user: A1002
        assertions:
          - bot_uttered: utter_ask_new_address
  - test_case: the same customer, a new contact
    steps:
      - user: where is my order?
      - user: ada@example.com
      - user: "1985-12-10"
        assertions:
          - bot_did_not_utter: utter_offer_open_matter
"""


async def test_a_later_case_is_not_offered_an_earlier_cases_open_matter(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "independent.yml"
    path.write_text(SUITE)
    cases = [c for s in load_suites([path]) for c in s.cases]
    results = await run_cases(cases, InProcessTarget.for_runtime(runtime), concurrency=1)
    assert [r.passed for r in results] == [True, True], [r.checks for r in results]
    later = results[1].turns[-1].events
    assert not any(isinstance(e, MatterOffered) for e in later)


async def test_without_the_eval_target_the_same_contact_is_offered_the_matter(runtime: Runtime,
                                                                             tmp_path: Path) -> None:
    """The control: served normally, the second contact does hear the open matter (the feature is on)."""
    path = tmp_path / "independent.yml"
    path.write_text(SUITE.replace("bot_did_not_utter: utter_offer_open_matter", "bot_uttered: utter_offer_open_matter"))
    cases = [c for s in load_suites([path]) for c in s.cases]
    target = InProcessTarget(runtime.engine)
    results = await run_cases(cases, target, concurrency=1)
    assert [r.passed for r in results] == [True, True], [r.checks for r in results]
