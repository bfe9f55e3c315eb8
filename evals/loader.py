"""Read suite files; every problem is reported with its file, line and key before anything runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.infra.logs import get_logger
from bot.kernel.errors import ConfigError, ConfigProblem
from bot.project.yamlfile import Loc, YamlDoc, read_yaml
from evals.assertions import (
    Assertion,
    AssertionSyntaxError,
    BotSaid,
    SlotWasNotSet,
    SlotWasSet,
    Utterance,
    parse_assertion,
)
from evals.format import ActionStub, Case, Suite, TurnSpec

log = get_logger(__name__)


class SuiteError(ConfigError):
    """A suite file is invalid (every problem names its file, line and key)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StubModel(_Model):
    events: list[dict[str, Any]] = Field(default_factory=list)
    responses: list[dict[str, Any]] = Field(default_factory=list)


class StepModel(_Model):
    user: str | None = None
    bot: str | None = None
    utter: str | None = None
    slot_was_set: Any = None
    slot_was_not_set: Any = None
    assertions: list[Any] | None = None
    metadata: str | dict[str, Any] | None = None
    assertion_order_enabled: bool = False
    """Rasa: check this step's assertions in the order they are written (each after the event the one before
    it matched)."""


class CaseModel(_Model):
    test_case: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    fixtures: list[str] = Field(default_factory=list)
    metadata: str | dict[str, Any] | None = None
    steps: list[StepModel] = Field(min_length=1)


class SuiteModel(_Model):
    name: str | None = None
    description: str = ""
    fixtures: list[dict[str, list[dict[str, Any]]]] = Field(default_factory=list)
    metadata: list[dict[str, dict[str, Any]]] = Field(default_factory=list)
    stub_custom_actions: dict[str, StubModel] = Field(default_factory=dict)
    account_data: list[str] = Field(default_factory=list)
    test_cases: list[CaseModel] = Field(min_length=1)


_STEP_KINDS = ("user", "bot", "utter", "slot_was_set", "slot_was_not_set")


def suite_files(paths: Iterable[Path | str]) -> list[Path]:
    """The ``.yml``/``.yaml`` files at ``paths`` (folders searched recursively), sorted, without duplicates."""
    found: list[Path] = []
    problems: list[ConfigProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(ConfigProblem(path, None, None, "no such file or directory"))
    if problems:
        raise SuiteError(problems)
    return list(dict.fromkeys(found))


def _roots(paths: Iterable[Path | str]) -> dict[Path, Path]:
    """Each suite file at ``paths`` and the folder argument it was found under (a file argument: its folder)."""
    roots: dict[Path, Path] = {}
    for raw in paths:
        path = Path(raw)
        for file in suite_files([path]):
            roots.setdefault(file, path if path.is_dir() else path.parent)
    return roots


def _relative_name(path: Path, root: Path) -> str:
    """``root``-relative path of a suite file without its suffix (``corrections/user_corrects``)."""
    try:
        return path.relative_to(root).with_suffix("").as_posix()
    except ValueError:
        return path.with_suffix("").as_posix()


def load_suites(paths: Iterable[Path | str]) -> list[Suite]:
    """Load every suite at ``paths``; raises :class:`SuiteError` listing all problems of all files.

    As in ``rasa test e2e``: a file with no test cases (only comments) is skipped with a warning, the same case
    name may appear in different files, and files of the same name in different folders are different suites
    (named by their path below the folder given, ``happy_path/transfer`` and ``corrections/transfer``).
    """
    paths = list(paths)
    roots = _roots(paths)
    suites: list[Suite] = []
    problems: list[ConfigProblem] = []
    for file in suite_files(paths):
        try:
            suite = load_suite(file)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if suite.cases:
            suites.append(suite)
    stems: dict[str, int] = {}
    for suite in suites:
        stems[suite.name] = stems.get(suite.name, 0) + 1
    suites = [s if stems[s.name] == 1 or s.named else _renamed(s, _relative_name(s.path, roots.get(s.path, s.path)))
              for s in suites]
    names: dict[str, Path] = {}
    for suite in suites:
        if suite.name in names:
            problems.append(ConfigProblem(suite.path, 1, "name", f"suite name {suite.name!r} is also used by "
                                          f"{names[suite.name]}"))
        names[suite.name] = suite.path
    if problems:
        raise SuiteError(problems)
    return suites


def _renamed(suite: Suite, name: str) -> Suite:
    cases = tuple(dataclasses.replace(c, suite=name) for c in suite.cases)
    return dataclasses.replace(suite, name=name, cases=cases)


def load_suite(path: Path) -> Suite:
    """Load one suite file; one that holds only comments is a suite without cases (``suite_file_empty`` warning)."""
    doc = read_yaml(path)
    problems: list[ConfigProblem] = []
    if not doc.data:
        log.warning("suite_file_empty", file=str(path), reason="the file has no test cases (only comments)")
        return Suite(path.stem, path, ())
    if not isinstance(doc.data, dict):
        raise SuiteError([ConfigProblem(path, 1, None, "a suite file is a mapping with 'test_cases'")])
    try:
        model = SuiteModel.model_validate(doc.data)
    except ValidationError as exc:
        raise SuiteError([_problem(doc, error) for error in exc.errors()]) from exc
    name = model.name or path.stem
    fixtures = _named(doc, "fixtures", model.fixtures, problems)
    metadata = _named(doc, "metadata", model.metadata, problems)
    slot_presets = {name: {k: v for item in items for k, v in item.items()} for name, items in fixtures.items()}
    seen: set[str] = set()
    cases = []
    for index, raw in enumerate(model.test_cases):
        loc: Loc = ("test_cases", index)
        if raw.test_case in seen:
            problems.append(doc.problem((*loc, "test_case"), f"duplicate test case name {raw.test_case!r}"))
        seen.add(raw.test_case)
        slots: dict[str, Any] = {}
        for f_index, fixture in enumerate(raw.fixtures):
            if fixture not in slot_presets:
                problems.append(doc.problem((*loc, "fixtures", f_index), f"unknown fixture {fixture!r}"))
            else:
                slots.update(slot_presets[fixture])
        case_metadata = _metadata(doc, (*loc, "metadata"), raw.metadata, metadata, problems)
        turns = _turns(doc, loc, raw.steps, metadata, problems)
        stubs = {action.split("::", 1)[-1]: ActionStub(tuple(stub.events), tuple(stub.responses))
                 for action, stub in model.stub_custom_actions.items()
                 if "::" not in action or action.split("::", 1)[0] == raw.test_case}
        cases.append(Case(raw.test_case, tuple(turns), slots, case_metadata, stubs, tuple(model.account_data),
                          raw.description, tuple(raw.tags), name, path, doc.line_of((*loc, "test_case"))))
    if problems:
        raise SuiteError(problems)
    return Suite(name, path, tuple(cases), tuple(model.account_data), model.description, model.name is not None)


def _problem(doc: YamlDoc, error: Any) -> ConfigProblem:
    loc: Loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    if error["type"] == "extra_forbidden":
        return doc.problem(loc, "unknown key")
    if error["type"] == "missing":
        return doc.problem(loc, "required key is missing")
    return doc.problem(loc, error["msg"])


def _named(doc: YamlDoc, key: str, items: list[dict[str, Any]], problems: list[ConfigProblem]) -> dict[str, Any]:
    """Rasa's lists of one-key mappings (``- name: value``) as one dict."""
    out: dict[str, Any] = {}
    for index, item in enumerate(items):
        if len(item) != 1:
            problems.append(doc.problem((key, index), "each entry is a mapping with exactly one name"))
            continue
        (name, value), = item.items()
        if name in out:
            problems.append(doc.problem((key, index, name), f"duplicate {key} name {name!r}"))
        out[name] = value
    return out


def _metadata(doc: YamlDoc, loc: Loc, value: str | dict[str, Any] | None, named: dict[str, Any],
              problems: list[ConfigProblem]) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if value not in named:
        problems.append(doc.problem(loc, f"unknown metadata {value!r}"))
        return {}
    return dict(named[value])


def _turns(doc: YamlDoc, case_loc: Loc, steps: list[StepModel], named: dict[str, Any],
           problems: list[ConfigProblem]) -> list[TurnSpec]:
    turns: list[TurnSpec] = []
    for index, step in enumerate(steps):
        loc: Loc = (*case_loc, "steps", index)
        given = [k for k in _STEP_KINDS if getattr(step, k) is not None]
        if len(given) != 1:
            problems.append(doc.problem(loc, f"a step has exactly one of {', '.join(_STEP_KINDS)}"
                                        + (f" (got {', '.join(given)})" if given else "")))
            continue
        kind = given[0]
        if kind != "user" and (step.assertions is not None or step.metadata is not None
                               or step.assertion_order_enabled):
            problems.append(doc.problem(loc, "'assertions', 'assertion_order_enabled' and 'metadata' belong to a "
                                        "'user' step"))
            continue
        if kind == "user":
            assertions = []
            for a_index, raw in enumerate(step.assertions or []):
                try:
                    assertions.append(parse_assertion(raw))
                except AssertionSyntaxError as exc:
                    problems.append(doc.problem((*loc, "assertions", a_index), str(exc)))
            metadata = _metadata(doc, (*loc, "metadata"), step.metadata, named, problems)
            turns.append(TurnSpec(str(step.user), metadata, tuple(assertions), doc.line_of((*loc, "user")),
                                  step.assertion_order_enabled))
            continue
        if not turns:
            problems.append(doc.problem((*loc, kind), f"a '{kind}' step must follow a 'user' step"))
            continue
        extra: Assertion
        try:
            if kind == "bot":
                extra = BotSaid(Utterance(text=str(step.bot)))
            elif kind == "utter":
                extra = BotSaid(Utterance(utter_name=str(step.utter)))
            elif kind == "slot_was_set":
                extra = SlotWasSet.parse(step.slot_was_set)
            else:
                extra = SlotWasNotSet.parse(step.slot_was_not_set)
        except AssertionSyntaxError as exc:
            problems.append(doc.problem((*loc, kind), str(exc)))
            continue
        last = turns[-1]
        turns[-1] = dataclasses.replace(last, assertions=(*last.assertions, extra))
    return turns
