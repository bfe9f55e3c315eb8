"""The suites shipped in evals/suites pass against the demo bot (the test command runs them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.junit import failure_text
from evals.loader import load_suites
from evals.runner import run_suites
from evals.targets import InProcessTarget

SHIPPED = Path(__file__).parents[2] / "evals" / "suites"

STUBBED = """\
stub_custom_actions:
  action_order_status:
    events:
      - {event: slot, name: order_found, value: true}
    responses:
      - text: "Stubbed: your order is on the moon."
test_cases:
  - test_case: a stubbed action answers instead of the backend
    fixtures: [verified]
    steps:
      - user: where is my order
      - user: A1001
        assertions:
          - action_executed: action_order_status
          - bot_uttered: {text_matches: "^Stubbed: your order is on the moon"}
          - bot_did_not_utter: utter_order_status
fixtures:
  - verified:
      - authenticated: true
      - customer_id: C001
"""


async def test_shipped_suites_pass_in_process(runtime: Any) -> None:
    """Every shipped case passes on the demo, and the run measures the metrics the issue asks for."""
    suites = load_suites([SHIPPED])
    result = await run_suites(suites, InProcessTarget.for_runtime(runtime), concurrency=4)
    failures = "\n\n".join(f"{c.case.id}: {c.error or failure_text(c)}" for c in result.cases if not c.passed)
    assert result.passed, failures
    values = result.metrics["values"]
    assert len(result.cases) >= 60 and values["pass_rate"] == 1.0
    assert values["escalation_recall"] == 1.0 and values["escalation_precision"] == 1.0
    for name in ("containment", "intent_accuracy", "slot_accuracy", "knowledge_answer_rate", "groundedness",
                 "turns_per_resolved", "latency_p50_ms", "latency_p95_ms"):
        assert values[name] is not None, name
    scope = runtime.ops.scope.scope
    assert scope.automation and not scope.flows and not scope.channels  # scope overrides were rolled back


async def test_stub_custom_actions_replace_the_backend(runtime: Any, tmp_path: Path) -> None:
    """A suite's stub_custom_actions answer for the action in that case only; the real action runs elsewhere."""
    path = tmp_path / "stubbed.yml"
    path.write_text(STUBBED)
    target = InProcessTarget.for_runtime(runtime)
    stubbed = await run_suites(load_suites([path]), target)
    assert stubbed.passed, failure_text(stubbed.cases[0]) or stubbed.cases[0].error
    again = await run_suites(load_suites([path]), target)
    assert again.passed  # each run registers the stubs for its own fresh conversations
    plain_path = tmp_path / "plain.yml"
    plain_path.write_text("test_cases:" + STUBBED.split("test_cases:", 1)[1])
    plain = await run_suites(load_suites([plain_path]), target)
    assert not plain.passed
    assert "utter_order_status" in plain.cases[0].failures[0].outcome.actual
