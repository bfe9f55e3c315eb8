"""A Rasa CALM project written from Rasa's documentation (``fixtures/rasa_calm``) validates, loads, and its flows
that need no LLM and no action server run through turns; its Rasa e2e test file runs as a Careline eval suite.

``data/flows/support.yml`` uses the grammar Careline's own flows use; ``data/flows/account.yml`` uses more of
Rasa's (the nested ``nlu_trigger`` form with a confidence threshold, ``=``/``is null`` predicates, inline branch
steps, ``link`` from a branch, ``force_slot_filling``, ``if: False``): both load and run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app.runtime import Runtime, train_understander
from bot.infra.embeddings import Embedder
from bot.kernel.messages import UserMessage
from bot.project import Project, load_project
from bot.project.patterns import DEFAULT_RESPONSES
from evals.loader import load_suite
from evals.runner import run_suites
from evals.targets import InProcessTarget
from tests.flows.conftest import flow_runner, make_runtime

FIXTURE = Path(__file__).parent / "fixtures" / "rasa_calm"
#: The data without the flows file that uses more of Rasa's flow grammar (and an action server).
SUPPORTED_DATA = (FIXTURE / "data" / "nlu", FIXTURE / "data" / "flows" / "support.yml")

MORE = DEFAULT_RESPONSES["utter_can_do_something_else"]
"""Rasa's pattern_completed, said once no flow is left."""


def _no_llm(project: Project) -> Project:
    """``project`` with the LLM command generator off (its endpoints.yml names OpenAI; tests never call it)."""
    config = project.config.model_copy(update={"llm": None, "nlu": project.config.nlu.model_copy(
        update={"llm_commands": "off"})})
    return dataclasses.replace(project, config=config)




def test_the_whole_fixture_loads() -> None:
    """Every file of the Rasa project, including the advanced flows, loads."""
    project = load_project(FIXTURE)
    assert {"check_data_usage", "upgrade_to_fibre", "move_house"} <= set(project.flows)


def test_the_supported_part_loads_with_what_rasa_configures() -> None:
    """With --data limited to the supported flows, the project loads: the merged domain, the action server of
    endpoints.yml, the command generator's model group as ``llm:``, and one warning per Rasa-only key."""
    project = load_project(FIXTURE, data=SUPPORTED_DATA)
    assert set(project.flows) == {"greet_customer", "report_outage", "change_plan"}
    assert project.config.action_endpoint == "http://localhost:5055/webhook"
    assert project.config.llm is not None and project.config.llm.model == "gpt-4o-2024-11-20"
    assert set(project.domain.actions) == {"action_check_data_usage", "action_book_line_check"}
    assert len(set(project.domain.responses) - set(DEFAULT_RESPONSES)) == 12 and len(project.domain.slots) == 6
    assert "fibre" in project.nlu.synonyms.values() and "postcode" in project.nlu.regexes
    assert {w.key for w in project.warnings} == {
        "recipe", "pipeline", "policies", "nlg", "session_config", "intents.4.move_house", "entities.1.plan_name",
        "actions.1.action_book_line_check", "slots.usage_gb.min_value",
    }


def test_the_rasa_e2e_file_loads_as_a_suite() -> None:
    """The project's Rasa e2e test file (``tests/e2e_test_cases.yml``) loads as a Careline eval suite."""
    suite = load_suite(FIXTURE / "tests" / "e2e_test_cases.yml")
    assert [c.name for c in suite.cases] == ["greeting", "outage_with_red_light", "outage_fixed_by_restart",
                                             "change_plan_with_a_button"]


@pytest.fixture
async def runtime(embedder: Embedder, tmp_path: Path) -> AsyncIterator[Runtime]:
    """The supported part of the fixture, LLM off, on a fresh SQLite store."""
    project = _no_llm(load_project(FIXTURE, data=SUPPORTED_DATA))
    runtime = await make_runtime(project, train_understander(project, embedder), tmp_path)
    yield runtime
    await runtime.close()


async def test_flows_start_from_their_nlu_trigger_and_run_a_turn(runtime: Runtime) -> None:
    """Without an LLM, "my internet is down" starts report_outage (nlu_trigger) and asks for the postcode; the
    postcode is collected and the next question comes with its buttons."""
    replies = await runtime.engine.handle("c1", UserMessage("my internet is down", "rest"))
    assert [r.response for r in replies] == ["utter_ask_postcode"]
    state = await runtime.engine.state("c1")
    assert state.active_flow == "report_outage"
    replies = await runtime.engine.handle("c1", UserMessage("SW1A 1AA", "rest"))
    assert [r.response for r in replies] == ["utter_ask_outage_confirmed"]
    assert [b.payload for b in replies[0].buttons] == ["/SetSlots(outage_confirmed=true)",
                                                        "/SetSlots(outage_confirmed=false)"]
    assert (await runtime.engine.state("c1")).slots["postcode"] == "SW1A 1AA"


async def test_a_greeting_runs_its_one_step_flow(runtime: Runtime) -> None:
    """"hello" runs greet_customer, whose only step is an utter action."""
    replies = await runtime.engine.handle("c2", UserMessage("hello", "rest"))
    assert [r.response for r in replies] == ["utter_greet", "utter_can_do_something_else"]  # pattern_completed


async def test_the_e2e_suite_runs_without_an_llm(runtime: Runtime) -> None:
    """The Rasa e2e cases run in-process without an LLM and pass: triggers, the postcode from the regex entity,
    the ``/SetSlots(...)`` button answers (bool and categorical slots) and the final responses."""
    suite = load_suite(FIXTURE / "tests" / "e2e_test_cases.yml")
    result = await run_suites([suite], InProcessTarget(runtime.engine))
    failed = {c.case.name: [k.outcome for k in c.checks if not k.outcome.passed] for c in result.cases if not c.passed}
    assert failed == {}


async def test_the_advanced_flows_run_against_an_action_server(embedder: Embedder, tmp_path: Path) -> None:
    """The whole fixture, with its action server stood in: the nested ``nlu_trigger`` starts check_data_usage;
    a usage answers through the inline ``else`` branch; no usage (``is null``) takes the inline ``then`` branch,
    which links to report_outage; ``if: False`` keeps move_house from starting on its intent."""
    from aiohttp import web

    from bot.testing.server import serve_app

    usage: dict[str, float | None] = {"gb": 12.5}
    called: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        called.append(body["next_action"])
        return web.json_response({"events": [{"event": "slot", "name": "usage_gb", "value": usage["gb"]}],
                                  "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    async with serve_app(app) as url:
        project = _no_llm(load_project(FIXTURE))
        project = dataclasses.replace(project, config=project.config.model_copy(
            update={"action_endpoint": f"{url}/webhook"}))
        runtime = await make_runtime(project, train_understander(project, embedder), tmp_path)
        try:
            await runtime.engine.handle("u1", UserMessage("/check_data_usage", "rest"))
            assert (await runtime.engine.state("u1")).active_flow == "check_data_usage"
            replies = await runtime.engine.handle("u1", UserMessage("12345678", "rest"))
            assert [r.text for r in replies] == ["You've used 12.5 GB this month.", MORE]
            assert (await runtime.engine.state("u1")).active_flow is None

            usage["gb"] = None
            await runtime.engine.handle("u2", UserMessage("/check_data_usage", "rest"))
            replies = await runtime.engine.handle("u2", UserMessage("87654321", "rest"))
            assert [r.response for r in replies] == ["utter_ask_postcode"]
            assert (await runtime.engine.state("u2")).active_flow == "report_outage"

            await runtime.engine.handle("u3", UserMessage("/move_house", "rest"))
            assert (await runtime.engine.state("u3")).active_flow != "move_house"
        finally:
            executor = flow_runner(runtime).executor
            if executor is not None:
                await executor.close()
            await runtime.close()
    assert called == ["action_check_data_usage", "action_check_data_usage"]


async def test_force_slot_filling_keeps_the_answer_for_the_slot(embedder: Embedder, tmp_path: Path) -> None:
    """While a ``force_slot_filling`` collect waits, "my internet is down" does not switch to report_outage (it
    does from change_plan's ordinary collect of the same slot) and "fibre please" fills the categorical slot."""
    import shutil

    root = tmp_path / "rasa"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns(".careline"))
    (root / "data" / "flows" / "forced.yml").write_text("""flows:
  forced_plan:
    description: Ask for the plan and take only that for an answer.
    nlu_trigger:
      - intent: {name: move_house, confidence_threshold: 0.5}
    steps:
      - collect: plan
        force_slot_filling: true
      - action: utter_plan_changed
""")
    project = _no_llm(load_project(root))
    runtime = await make_runtime(project, train_understander(project, embedder), tmp_path)
    try:
        await runtime.engine.handle("f1", UserMessage("/move_house", "rest"))
        assert (await runtime.engine.state("f1")).active_flow == "forced_plan"
        await runtime.engine.handle("f1", UserMessage("my internet is down", "rest"))
        assert (await runtime.engine.state("f1")).active_flow == "forced_plan"
        replies = await runtime.engine.handle("f1", UserMessage("fibre please", "rest"))
        assert [r.text for r in replies] == ["Done, you're moving to the fibre plan from next month.", MORE]

        await runtime.engine.handle("f2", UserMessage("/change_plan", "rest"))
        await runtime.engine.handle("f2", UserMessage("my internet is down", "rest"))
        assert (await runtime.engine.state("f2")).active_flow == "report_outage"
    finally:
        await runtime.close()


async def test_the_rasa_pattern_suite_runs_without_an_llm(runtime: Runtime) -> None:
    """Rasa-style assertions on the default patterns pass in order: a cancel is ``pattern_cancel_flow`` saying
    ``utter_flow_cancelled_rasa`` then ``utter_can_do_something_else``; a completed flow offers more help."""
    suite = load_suite(FIXTURE / "tests" / "patterns" / "repairs.yml")
    result = await run_suites([suite], InProcessTarget(runtime.engine))
    failed = {c.case.name: [k.outcome for k in c.checks if not k.outcome.passed] for c in result.cases if not c.passed}
    assert failed == {}
    assert len(result.cases) == 2
