"""A bad project file fails at load with its path, line and key — never a stack trace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.infra.settings import DEMO_PROJECT
from bot.kernel.errors import ConfigError
from bot.project import load_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A writable copy of the demo project (without knowledge documents, which are not YAML)."""
    target = tmp_path / "project"
    shutil.copytree(DEMO_PROJECT, target, ignore=shutil.ignore_patterns(".careline", "knowledge"))
    return target


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_project(path)
    return [str(p) for p in info.value.problems]


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_demo_project_is_valid() -> None:
    """The bundled demo loads without problems."""
    project = load_project(DEMO_PROJECT)
    assert "greet" in project.flows and "greet" in project.nlu.intents


def test_yaml_syntax_error_names_file_and_line(project: Path) -> None:
    """Broken YAML indentation is reported with the file and the line where parsing failed."""
    config = project / "config.yml"
    config.write_text("assistant_id: x\nnlu:\n  threshold: 0.5\n   bad: indent\n")
    [problem] = _problems(project)
    assert problem.startswith(f"{config}:4:") and "invalid YAML" in problem


def test_unknown_key_names_its_line_and_path(project: Path) -> None:
    """A misspelt key is rejected with its dotted path and line."""
    config = project / "config.yml"
    config.write_text(config.read_text().replace("  threshold: 0.3", "  treshold: 0.3"))
    [problem] = _problems(project)
    assert problem == f"{config}:{_line_of(config, 'treshold')}: key 'nlu.treshold': unknown key"


def test_wrong_type_names_the_value_problem(project: Path) -> None:
    """A value of the wrong type says what was expected, at the right line and key."""
    config = project / "config.yml"
    config.write_text(config.read_text().replace("max_message_chars: 2000", "max_message_chars: lots"))
    [problem] = _problems(project)
    line = _line_of(config, "max_message_chars")
    assert problem.startswith(f"{config}:{line}: key 'limits.max_message_chars':") and "integer" in problem


def test_missing_required_file_is_named(project: Path) -> None:
    """Without domain.yml the load fails naming the missing file."""
    (project / "domain.yml").unlink()
    problems = _problems(project)
    assert f"{project / 'domain.yml'}: required file is missing" in problems


def test_flow_naming_an_unknown_slot_points_at_the_step(project: Path) -> None:
    """A collect step for an undeclared slot is reported at that step's line."""
    flows = project / "flows" / "smalltalk.yml"
    flows.write_text(flows.read_text().replace("- collect: feedback", "- collect: feedbak"))
    problems = _problems(project)
    line = _line_of(flows, "collect: feedbak")
    assert f"{flows}:{line}: key 'flows.feedback.steps.0.collect': unknown slot 'feedbak' (declare it in domain.yml)" \
        in problems


def test_flow_naming_an_unknown_response_or_step_is_reported(project: Path) -> None:
    """An utter_ action that does not exist and a next: to a missing step id are both reported."""
    flows = project / "flows" / "smalltalk.yml"
    text = flows.read_text().replace("- action: utter_goodbye", "- action: utter_farewell\n        next: nowhere")
    flows.write_text(text)
    problems = _problems(project)
    assert any("unknown response 'utter_farewell'" in p and "flows.goodbye.steps.0.action" in p for p in problems)
    assert any("unknown step id 'nowhere'" in p and "flows.goodbye.steps.0.next" in p for p in problems)


def test_step_with_two_kinds_is_rejected(project: Path) -> None:
    """A step that is both a collect and an action breaks the one-kind-per-step rule."""
    flows = project / "flows" / "smalltalk.yml"
    text = flows.read_text().replace("- collect: feedback", "- collect: feedback\n        action: utter_greet")
    flows.write_text(text)
    problems = _problems(project)
    assert any("exactly one of" in p and "found: collect, action" in p and "flows.feedback.steps.0" in p
               for p in problems)


def test_trigger_with_unknown_intent_is_reported(project: Path) -> None:
    """A flow triggered by an intent that has no NLU data is reported at the trigger."""
    flows = project / "flows" / "smalltalk.yml"
    flows.write_text(flows.read_text().replace("nlu_trigger: [greet]", "nlu_trigger: [greeting]"))
    problems = _problems(project)
    assert any("unknown intent 'greeting'" in p and "flows.greet.nlu_trigger.0" in p for p in problems)


def test_malformed_nlu_examples_are_reported(project: Path) -> None:
    """Example lines that do not start with '- ' are an error at the examples block."""
    nlu = project / "nlu" / "smalltalk.yml"
    nlu.write_text(nlu.read_text().replace("      - hiya\n", "      hiya\n"))
    problems = _problems(project)
    assert any(p.startswith(f"{nlu}:") and "nlu.0.examples" in p and "start with '- '" in p for p in problems)


def test_duplicate_keys_are_an_error(project: Path) -> None:
    """A key given twice in one mapping is reported with its line instead of silently overriding."""
    domain = project / "domain.yml"
    domain.write_text(domain.read_text().replace("slots:\n", "slots:\n  feedback:\n    type: text\n", 1))
    [problem] = _problems(project)
    assert problem.startswith(f"{domain}:") and "duplicate key" in problem


def test_every_problem_is_reported_at_once(project: Path) -> None:
    """Problems in several files come back together, so one run fixes them all."""
    (project / "config.yml").write_text("bogus: 1\n")
    flows = project / "flows" / "smalltalk.yml"
    flows.write_text(flows.read_text().replace("- collect: feedback", "- collect: nope"))
    problems = _problems(project)
    assert any("config.yml" in p for p in problems) and any("smalltalk.yml" in p for p in problems)
