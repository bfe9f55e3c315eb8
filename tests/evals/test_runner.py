"""The runner: bounded parallelism, broken bots fail the right assertions, JUnit, comparisons, HTTP mode, CLI."""

from __future__ import annotations

import asyncio
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.infra.embeddings import Embedder
from bot.infra.settings import DEMO_PROJECT, Settings
from bot.kernel.events import Event, UserUttered
from bot.project import load_project
from evals.compare import compare
from evals.format import Case, TurnSpec
from evals.junit import to_xml
from evals.loader import load_suites
from evals.reports import write_report
from evals.results import Status
from evals.runner import run_cases, run_suites
from evals.targets import HttpTarget, InProcessTarget, Target

SUITE = """\
test_cases:
  - test_case: greeting text
    steps:
      - user: hello
        assertions:
          - intent_is: greet
          - bot_uttered: {utter_name: utter_greet, text_matches: "Northwind assistant"}
      - bot: >-
          Hi! I'm the Northwind assistant. I can check orders, manage clinic appointments
          and answer questions about our services.
  - test_case: help answers with the help response
    steps:
      - user: what can you do?
        assertions:
          - bot_uttered: utter_help
  - test_case: bot challenge
    steps:
      - user: are you a bot?
        assertions:
          - bot_uttered: utter_iamabot
  - test_case: asking for a person hands off
    steps:
      - user: I want to talk to a real person
        assertions:
          - escalated: {reason: requested}
          - handoff_context_contains: {reason: requested, customer.verified: false}
"""


class CountingTarget(Target):
    """A fake bot that only records how many conversations are in flight."""

    name = "fake"

    def __init__(self, fail_on: str | None = None) -> None:
        self.active = 0
        self.peak = 0
        self.fail_on = fail_on

    async def start(self, conversation_id: str, case: Case) -> list[Event]:
        return []

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> tuple[list[Event], float]:
        if text == self.fail_on:
            raise ConnectionError("bot is down")
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        return [UserUttered(text=text)], 1.0


def suite_file(tmp_path: Path, text: str = SUITE) -> Path:
    path = tmp_path / "suite.yml"
    path.write_text(text)
    return path


async def test_concurrency_is_bounded_and_order_is_kept() -> None:
    """At most `concurrency` conversations run at once and results come back in case order."""
    cases = [Case(f"c{i}", (TurnSpec(f"m{i}"),), suite="s") for i in range(9)]
    target = CountingTarget()
    results = await run_cases(cases, target, concurrency=3)
    assert target.peak == 3
    assert [r.case.name for r in results] == [f"c{i}" for i in range(9)]
    assert all(r.status is Status.PASSED for r in results)


async def test_a_case_that_cannot_run_errors_and_the_others_go_on() -> None:
    """A target failure marks that case `error` with the reason; the other cases still pass."""
    cases = [Case("ok", (TurnSpec("fine"),), suite="s"), Case("down", (TurnSpec("boom"),), suite="s")]
    results = await run_cases(cases, CountingTarget(fail_on="boom"), concurrency=2)
    assert [r.status for r in results] == [Status.PASSED, Status.ERROR]
    assert results[1].error == "ConnectionError: bot is down"


@pytest.fixture
async def broken_target(tmp_path: Path, embedder: Embedder) -> AsyncIterator[InProcessTarget]:
    """The demo with utter_greet reworded and the help flow answering with the goodbye response.

    The broken copy is loaded from ``tmp_path`` but keeps the demo's path, so trained models and the
    knowledge index are reused from the cache instead of being rebuilt."""
    import dataclasses

    from bot.app.runtime import build_runtime

    project = tmp_path / "broken"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline", "knowledge"))
    domain = project / "domain.yml"
    domain.write_text(domain.read_text().replace("I can check orders", "I can track orders", 1))
    flows = project / "flows" / "smalltalk.yml"
    assert "action: utter_help" in flows.read_text()
    flows.write_text(flows.read_text().replace("action: utter_help", "action: utter_goodbye"))
    broken = dataclasses.replace(load_project(project), path=DEMO_PROJECT)
    runtime = await build_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}"), broken, embedder=embedder)
    yield InProcessTarget.for_runtime(runtime)
    await runtime.close()


async def test_broken_bot_fails_the_right_assertions_with_readable_diffs(
        tmp_path: Path, broken_target: InProcessTarget, runtime: Any) -> None:
    """A reworded greeting and a flipped flow response fail exactly the assertions about them, with diffs."""
    suites = load_suites([suite_file(tmp_path)])
    good = await run_suites(suites, InProcessTarget.for_runtime(runtime), concurrency=2)
    assert good.passed, [c.failures for c in good.cases]
    bad = await run_suites(suites, broken_target, concurrency=2)
    status = {c.case.name: c.status for c in bad.cases}
    assert status == {"greeting text": Status.FAILED, "help answers with the help response": Status.FAILED,
                      "bot challenge": Status.PASSED, "asking for a person hands off": Status.PASSED}
    greeting = next(c for c in bad.cases if c.case.name == "greeting text")
    assert [f.outcome.assertion for f in greeting.failures] == ["bot_uttered"]
    diff = greeting.failures[0].outcome.diff
    assert "-I can check orders, manage clinic appointments" in diff
    assert "+I can track orders, manage clinic appointments" in diff
    assert greeting.failures[0].line == 4
    flipped = next(c for c in bad.cases if c.case.name == "help answers with the help response").failures[0]
    assert flipped.outcome.expected == "bot uttered utter_help"
    assert "utter_goodbye: 'Thanks for contacting Northwind" in flipped.outcome.actual

    comparison = compare(good.to_dict(), bad.to_dict())
    assert comparison.regressed
    assert sorted(comparison.regressions) == ["suite::greeting text", "suite::help answers with the help response"]
    assert any(m.name == "pass_rate" and m.verdict == "regression" for m in comparison.metrics)
    assert compare(bad.to_dict(), good.to_dict()).improvements == comparison.regressions

    root = ET.fromstring(ET.tostring(to_xml(bad)))
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "2"
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == 2 and all(f.get("type") == "bot_uttered" for f in failures)
    assert "+I can track orders" in (failures[0].text or "")

    page = write_report(bad, tmp_path / "report", comparison)
    text = page.read_text()
    assert "<svg" in text and "REGRESSION" in text and "I can track orders" in text
    assert "```diff" in (tmp_path / "report" / "report.md").read_text()


async def test_http_target_judges_like_in_process(tmp_path: Path, server: str) -> None:
    """Over the REST channel and tracker API the same suite passes; fixtures are refused with a reason."""
    extra = SUITE + "fixtures:\n  - verified:\n      - authenticated: true\n"
    extra = extra.replace("  - test_case: bot challenge\n", "  - test_case: bot challenge\n    fixtures: [verified]\n")
    target = HttpTarget(server, "test-admin-token")
    try:
        result = await run_suites(load_suites([suite_file(tmp_path, extra)]), target, concurrency=2)
    finally:
        await target.close()
    status = {c.case.name: c.status for c in result.cases}
    assert status["greeting text"] is Status.PASSED and status["asking for a person hands off"] is Status.PASSED
    challenge = next(c for c in result.cases if c.case.name == "bot challenge")
    assert challenge.status is Status.ERROR and "fixtures" in (challenge.error or "")


def test_cli_runs_paths_writes_junit_report_json_and_keeps_subcommands(tmp_path: Path) -> None:
    """`careline eval PATH` runs suites and writes its outputs; `eval nlu` is still a sub-command."""
    from careline.cli import main

    suite = suite_file(tmp_path)
    junit, report, out = tmp_path / "junit.xml", tmp_path / "report", tmp_path / "run.json"
    result = CliRunner().invoke(main, ["eval", str(suite), "--junit", str(junit), "--report", str(report),
                                       "--json", str(out), "-j", "2"])
    assert result.exit_code == 0, result.output
    assert "4 cases: 4 passed" in result.output and "pass_rate" in result.output
    assert ET.parse(junit).getroot().get("failures") == "0"
    assert (report / "index.html").exists() and (report / "report.md").exists()
    data = json.loads(out.read_text())
    assert data["counts"] == {"passed": 4, "failed": 0, "error": 0}

    baseline = dict(data, cases=[*data["cases"], {"id": "suite::gone", "status": "passed"}])
    (tmp_path / "base.json").write_text(json.dumps(baseline))
    compared = CliRunner().invoke(main, ["eval", str(suite), "--compare", str(tmp_path / "base.json")])
    assert compared.exit_code == 0, compared.output
    assert "removed     suite::gone" in compared.output

    bad = tmp_path / "bad.yml"
    bad.write_text("test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
                   "          - intent_is: goodbye\n")
    failed = CliRunner().invoke(main, ["eval", "run", str(bad)])
    assert failed.exit_code == 1 and "expected: intent 'goodbye'" in failed.output
    invalid = CliRunner().invoke(main, ["eval", str(tmp_path / "missing.yml")])
    assert invalid.exit_code == 2 and "no such file" in invalid.output
    assert CliRunner().invoke(main, ["eval", "nlu", "--help"]).exit_code == 0
