"""A Rasa CALM project written from Rasa's documentation (``fixtures/rasa_calm``) validates, loads, and its flows
that need no LLM and no action server run through turns; its Rasa e2e test file runs as a Careline eval suite.

``data/flows/support.yml`` uses the part of Rasa's flow grammar Careline's flow parser reads today;
``data/flows/account.yml`` uses the rest (Rasa's ``nlu_trigger`` form, ``=``/``is null`` predicates, inline
branch steps, ``force_slot_filling``, ``if: False``). The gaps are listed in :data:`FLOW_GRAMMAR_GAPS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app.runtime import Runtime, train_understander
from bot.infra.embeddings import Embedder
from bot.kernel.errors import ConfigError
from bot.kernel.messages import UserMessage
from bot.project import Project, load_project
from evals.loader import load_suite
from evals.runner import run_suites
from evals.targets import InProcessTarget
from tests.flows.conftest import make_runtime

FIXTURE = Path(__file__).parent / "fixtures" / "rasa_calm"
#: The data without the flows file that uses the flow grammar Careline does not read yet.
SUPPORTED_DATA = (FIXTURE / "data" / "nlu", FIXTURE / "data" / "flows" / "support.yml")
#: Rasa flow-grammar features ``bot/flows`` rejects today: those ``data/flows/account.yml`` uses, and ``contains``
#: (found by parsing conditions with ``bot.flows.conditions.parse``).
FLOW_GRAMMAR_GAPS = (
    "nlu_trigger: - intent: {name: ..., confidence_threshold: ...} (Rasa's nested form)",
    "collect: force_slot_filling",
    "flow guard if: False (a YAML bool)",
    "predicates: = (single equals), is null / is not null, contains",
    "inline step lists under next: then/else (the runner refuses them)",
)


def _no_llm(project: Project) -> Project:
    """``project`` with the LLM command generator off (its endpoints.yml names OpenAI; tests never call it)."""
    config = project.config.model_copy(update={"llm": None, "nlu": project.config.nlu.model_copy(
        update={"llm_commands": "off"})})
    return dataclasses.replace(project, config=config)


def test_layout_domain_endpoints_and_nlu_load_without_problems() -> None:
    """Loading the whole fixture, every problem left is in the flows file that uses unread flow grammar: the
    config, the domain/ folder, the NLU data, the supported flows and endpoints.yml are all accepted."""
    try:
        load_project(FIXTURE)
    except ConfigError as exc:
        outside = [str(p) for p in exc.problems if p.path != FIXTURE / "data" / "flows" / "account.yml"]
        assert outside == []


@pytest.mark.xfail(reason="bot/flows does not read all of Rasa's flow grammar yet: " + "; ".join(FLOW_GRAMMAR_GAPS),
                   raises=ConfigError, strict=False)
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
    assert len(project.domain.responses) == 12 and len(project.domain.slots) == 6
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
    assert [r.response for r in replies] == ["utter_greet"]


async def test_the_e2e_suite_runs_without_an_llm(runtime: Runtime) -> None:
    """The Rasa e2e cases run in-process without an LLM: the greeting passes, and both outage cases pass their
    first two turns (trigger, postcode from the regex entity, the button question). The turns answered with a
    ``/SetSlots(...)`` button payload are not asserted: bot/nlu/payload.py reads only ``/intent{...}``."""
    suite = load_suite(FIXTURE / "tests" / "e2e_test_cases.yml")
    result = await run_suites([suite], InProcessTarget(runtime.engine))
    by_name = {c.case.name: c for c in result.cases}
    assert by_name["greeting"].passed
    for name in ("outage_with_red_light", "outage_fixed_by_restart"):
        early = [k.outcome.passed for k in by_name[name].checks if k.turn < 2]
        assert early and all(early), name
