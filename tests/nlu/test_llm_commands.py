"""The optional LLM command generator, against a scripted OpenAI-compatible server on a free local port."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from ruamel.yaml import YAML
from structlog.testing import capture_logs

from bot.app.runtime import default_stages
from bot.infra.llm import LLMConfig
from bot.infra.settings import DEMO_PROJECT
from bot.kernel.errors import ConfigError
from bot.kernel.messages import UserMessage
from bot.nlu.base import OUT_OF_SCOPE
from bot.nlu.llm_commands import Catalog, with_llm_commands
from bot.nlu.understander import Understander
from bot.pipeline.engine import Engine
from bot.project import Project, load_project
from bot.project.schema import LLMMode, NLUConfig, ProjectConfig
from bot.storage import ConversationStore, open_database
from bot.testing.llm_server import Fail, ScriptedLLM

README = Path(__file__).resolve().parents[2] / "README.md"
CONFIDENT = "where is my order"
"""The classifier is sure about this one (check_order_status)."""
UNSURE = "still no sign of anything"
"""... and unsure about this one (below the 0.5 threshold)."""
Make = Callable[..., Understander]
Logs = list[MutableMapping[str, Any]]


def commands(*items: dict[str, Any]) -> str:
    """A model reply holding ``items``."""
    return json.dumps({"commands": list(items)})


@pytest.fixture
def logs() -> Iterator[Logs]:
    """The test's log events at every level (an earlier CLI test may have configured a higher level)."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(**saved)


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLM]:
    """A scripted chat-completions server."""
    async with ScriptedLLM() as server:
        yield server


def configured(project: Project, llm: ScriptedLLM, mode: LLMMode = "off", timeout: float = 0.5) -> Project:
    """``project`` with ``llm:`` pointing at the scripted server and ``nlu.llm_commands: mode``."""
    config = project.config.model_copy(update={
        "llm": LLMConfig(base_url=llm.base_url, model="scripted", timeout=timeout),
        "nlu": NLUConfig(threshold=project.config.nlu.threshold, llm_commands=mode),
    })
    return dataclasses.replace(project, config=config)


@asynccontextmanager
async def engine_for(project: Project, understander: Understander, tmp_path: Path) -> AsyncIterator[Engine]:
    """The standard turn (no knowledge base, no guardrail models) on a fresh SQLite file."""
    database = await open_database(f"sqlite:///{tmp_path / 'llm.db'}")
    store = ConversationStore(database)
    await store.setup()
    engine = Engine(project, store, default_stages(project, understander, None))
    try:
        yield engine
    finally:
        await engine.bus.close()
        await engine.locks.close()
        await database.close()


@pytest.fixture
async def ask(demo_project: Project, understander: Understander, llm: ScriptedLLM) -> AsyncIterator[Make]:
    """Makes the demo understander asking the scripted model in a mode (``timeout`` optional); closes its clients."""
    made: list[Understander] = []

    def make(mode: LLMMode, timeout: float = 0.5) -> Understander:
        made.append(with_llm_commands(understander, configured(demo_project, llm, mode, timeout)))
        assert made[-1].llm is not None
        return made[-1]

    yield make
    for one in made:
        await one.close()


def prompt(request: dict[str, Any]) -> str:
    """The user message of a recorded request."""
    return str(request["messages"][-1]["content"])


async def test_the_default_configuration_never_calls_the_model(
        demo_project: Project, understander: Understander, llm: ScriptedLLM, tmp_path: Path) -> None:
    """With ``llm:`` set but ``llm_commands`` left at its default, whole conversations make no model request."""
    project = configured(demo_project, llm)
    assert project.config.nlu.llm_commands == "off"
    plain = with_llm_commands(understander, project)
    assert plain is understander and plain.llm is None
    async with engine_for(project, plain, tmp_path) as engine:
        for text in (CONFIDENT, "purple monkey dishwasher", UNSURE, "eh"):
            assert await engine.handle("c", UserMessage(text))
    assert llm.requests == []


async def test_fallback_asks_the_model_only_below_the_threshold(understander: Understander, llm: ScriptedLLM,
                                                                ask: Make) -> None:
    """A confident classification is kept without a request; an unsure one is replaced by the model's command."""
    assert understander.understand(UNSURE).intent == OUT_OF_SCOPE
    llm.script(commands({"command": "start_flow", "flow": "order_status"}))
    fallback = ask("fallback")
    kept = await fallback.aunderstand(CONFIDENT)
    assert kept.intent == "check_order_status" and llm.requests == []
    asked = await fallback.aunderstand(UNSURE)
    assert asked.intent == "check_order_status" and asked.confidence == 0.9
    [request] = llm.requests
    assert request["temperature"] == 0 and request["model"] == "scripted"
    assert request["messages"][0]["role"] == "system" and '{"commands": [...]}' in request["messages"][0]["content"]
    assert prompt(request).endswith(f"Message: {UNSURE}")
    assert "- order_status: " in prompt(request) and "- affirm: " in prompt(request)


async def test_primary_uses_the_models_commands(llm: ScriptedLLM, ask: Make) -> None:
    """In primary mode every message goes to the model first and its commands win over the classifier."""
    llm.script(commands({"command": "intent", "intent": "affirm"}),
               commands({"command": "cancel_flow"}, {"command": "set_slot", "slot": "order_number", "value": "A1002"}))
    primary = ask("primary")
    first = await primary.aunderstand(CONFIDENT)
    assert (first.intent, first.ranking) == ("affirm", (("affirm", 0.9),))
    second = await primary.aunderstand("forget it")
    assert second.intent == "cancel" and second.entity("order_number") is not None
    assert second.entities[0].extractor == "llm" and second.entities[0].value == "A1002"
    assert len(llm.requests) == 2


@pytest.mark.parametrize("reply", [
    "Sure! The customer wants their order status.",
    commands({"command": "teleport"}),
    '{"commands": [{"command": "intent", "intent": "affirm", "why": "they said yes"}]}',
    commands(),
    Fail(500),
    Fail(400),
], ids=["not-json", "unknown-command", "extra-key", "no-command", "http-500", "http-400"])
async def test_a_failing_model_leaves_the_classifier_result(
        understander: Understander, llm: ScriptedLLM, ask: Make, reply: str | Fail, logs: Logs) -> None:
    """Invalid JSON, a reply outside the command schema, an empty reply or an HTTP error: the classifier answers."""
    llm.script(reply)
    primary = ask("primary")
    result = await primary.aunderstand(CONFIDENT)
    assert result == understander.understand(CONFIDENT)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["llm_commands_failed"]


async def test_a_slow_model_times_out_to_the_classifier(llm: ScriptedLLM, ask: Make, logs: Logs) -> None:
    """A model slower than ``llm.timeout`` is abandoned and the classifier's understanding stands."""
    llm.script(commands({"command": "intent", "intent": "affirm"}), delay=1.0)
    primary = ask("primary", timeout=0.2)
    result = await primary.aunderstand(CONFIDENT)
    assert result.intent == "check_order_status"
    [failed] = [e for e in logs if e["event"] == "llm_commands_failed"]
    assert not failed["permanent"]


@pytest.mark.parametrize("reply", [
    commands({"command": "intent", "intent": "order_pizza"}),
    commands({"command": "start_flow", "flow": "authentication"}),
    commands({"command": "set_slot", "slot": "authenticated", "value": True}),
    commands({"command": "set_slot", "slot": "identifier", "value": "ada@example.com"}),
    commands({"command": "set_slot", "slot": "order_number", "value": "[email]"}),
], ids=["unknown-intent", "unstartable-flow", "uncollected-slot", "sensitive-slot", "masked-value"])
async def test_names_the_project_lacks_are_rejected(
        understander: Understander, llm: ScriptedLLM, ask: Make, reply: str) -> None:
    """An intent, flow or slot the model may not use (or a masked placeholder as a value) is never understood."""
    llm.script(reply)
    primary = ask("primary")
    assert await primary.aunderstand(CONFIDENT) == understander.understand(CONFIDENT)


async def test_invalid_commands_are_dropped_and_valid_ones_kept(llm: ScriptedLLM, ask: Make, logs: Logs) -> None:
    """Next to a valid command, an unknown slot is dropped and logged."""
    llm.script(commands({"command": "set_slot", "slot": "shoe_size", "value": "42"},
                        {"command": "start_flow", "flow": "cancel_order"}))
    primary = ask("primary")
    result = await primary.aunderstand("I want to cancel")
    assert result.intent == "cancel_order" and result.entities == ()
    [rejected] = [e for e in logs if e["event"] == "llm_commands_rejected"]
    assert "shoe_size" in rejected["rejected"][0]


def test_the_catalog_offers_only_startable_flows_and_non_sensitive_slots(demo_project: Project) -> None:
    """Sub-flows without a trigger and sensitive slots (identifiers, proofs) are never offered to the model."""
    catalog = Catalog.of(demo_project)
    assert "order_status" in catalog.flows and "authentication" not in catalog.flows
    assert "order_number" in catalog.slots
    assert not {"identifier", "verification", "otp_code"} & set(catalog.slots)
    assert all("@" not in e for examples in catalog.intents.values() for e in examples)


async def test_the_model_sees_masked_messages_and_the_slot_being_collected(
        demo_project: Project, llm: ScriptedLLM, ask: Make, tmp_path: Path) -> None:
    """The prompt has the transcript and the open question, with PII masked; the flow still gets the email."""
    llm.script(commands({"command": "start_flow", "flow": "order_status"}),
               commands({"command": "intent", "intent": "inform"}))
    primary = ask("primary")
    async with engine_for(demo_project, primary, tmp_path) as engine:
        await engine.handle("c", UserMessage(CONFIDENT))
        replies = await engine.handle("c", UserMessage("it's ada@example.com"))
    second = prompt(llm.requests[1])
    assert "Active flow: authentication, waiting for the slot identifier." in second
    assert f"customer: {CONFIDENT}\nbot: First I need to check it's you." in second
    assert second.endswith("Message: it's [email]")
    assert not any("ada@example.com" in json.dumps(r) for r in llm.requests)
    assert "date of birth" in replies[0].text


async def test_a_slot_value_from_the_model_answers_the_open_question(
        demo_project: Project, understander: Understander, llm: ScriptedLLM, ask: Make, tmp_path: Path) -> None:
    """In fallback mode a message the classifier cannot place gives the collected slot the model's value."""
    answer = "that stuff i mentioned earlier"
    assert understander.understand(answer).intent == OUT_OF_SCOPE

    def reply(request: dict[str, Any]) -> str:
        if prompt(request).endswith(answer):
            return commands({"command": "set_slot", "slot": "order_number", "value": "A1002"})
        return commands()

    llm.script(reply)
    fallback = ask("fallback")
    async with engine_for(demo_project, fallback, tmp_path) as engine:
        for text in (CONFIDENT, "ada@example.com", "10 December 1985"):
            await engine.handle("c", UserMessage(text))
        replies = await engine.handle("c", UserMessage(answer))
        state = await engine.state("c")
    assert "Order A1002" in replies[0].text
    assert state.latest_user is not None and state.latest_user.intent == "inform"
    assert "waiting for the slot order_number" in prompt(llm.requests[-1])


async def test_a_human_handoff_command_escalates(
        demo_project: Project, understander: Understander, llm: ScriptedLLM, ask: Make, tmp_path: Path) -> None:
    """A request for a person the human-request detector does not catch is handed off with reason ``requested``."""
    text = "I'd rather deal with a fellow carbon-based life form"
    assert understander.understand(text).intent == OUT_OF_SCOPE
    llm.script(commands({"command": "human_handoff"}))
    fallback = ask("fallback")
    async with engine_for(demo_project, fallback, tmp_path) as engine:
        replies = await engine.handle("c", UserMessage(text))
        state = await engine.state("c")
    assert state.escalation is not None and state.escalation.reason == "requested"
    assert state.escalation.signals[0]["detector"] == "llm_commands"
    assert replies[0].response == "utter_handoff"


def test_llm_commands_without_an_llm_names_file_line_and_key(tmp_path: Path) -> None:
    """Asking for the command generator without an ``llm:`` section fails at load, at the ``nlu`` key."""
    project = tmp_path / "project"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline", "knowledge"))
    config = project / "config.yml"
    config.write_text(config.read_text().replace("  threshold: 0.3", "  threshold: 0.3\n  llm_commands: primary"))
    with pytest.raises(ConfigError) as info:
        load_project(project)
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if text.startswith("nlu:"))
    assert [str(p) for p in info.value.problems] == [
        f"{config}:{line}: key 'nlu': llm_commands: primary needs an llm: section (base_url, model)"]


def test_the_readme_configuration_example_is_valid() -> None:
    """The README's config.yml example validates and switches the command generator to fallback."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    [example] = [b for b in blocks if "llm_commands:" in b]
    config = ProjectConfig.model_validate(YAML(typ="safe").load(example))
    assert config.nlu.llm_commands == "fallback" and config.llm is not None
