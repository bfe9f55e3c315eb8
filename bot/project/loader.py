"""Load and validate a project directory up front: Careline's layout or a Rasa project as it is
(:mod:`bot.project.layout`; Rasa keys Careline does not use: :mod:`bot.project.compat`).

Every file is read and checked before the bot starts; all problems are collected and raised as
one :class:`~bot.kernel.errors.ConfigError` whose lines name the file, line and key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.flows.schema import BUILTIN_ACTIONS, Flow, FlowsFile, Step
from bot.flows.validation import check_flow_structure
from bot.infra import environment
from bot.kernel.errors import ConfigError, ConfigProblem
from bot.project.compat import (
    ProjectWarning,
    Warnings,
    check_version,
    llm_model_group,
    normalize_config,
    normalize_domain,
    normalize_flows,
    normalize_nlu,
    normalize_responses,
    note_rules_and_stories,
)
from bot.project.domain import DomainPart, merge_domains
from bot.project.endpoints import EndpointsFile, apply_endpoints, substitute_env
from bot.project.layout import PathOverrides, find_files
from bot.project.nlu_data import NLUData, add_item
from bot.project.patterns import RASA_NAMES, with_default_responses
from bot.project.schema import Domain, GuardrailsConfig, NLUFile, ProjectConfig, ResponseVariant
from bot.project.yamlfile import Loc, YamlDoc, read_yaml

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Project:
    """A validated project: everything the engine needs, loaded once."""

    path: Path
    config: ProjectConfig
    domain: Domain
    flows: dict[str, Flow]
    nlu: NLUData
    guardrails: GuardrailsConfig
    fingerprint: str
    """SHA-256 over every file; changes when any file does (caches key on it)."""
    warnings: tuple[ProjectWarning, ...] = ()
    """Rasa keys accepted but not used (each also logged as ``rasa_key_ignored`` at load)."""
    knowledge_path: Path | None = None
    """The knowledge folder when ``endpoints.yml`` names one (``vector_store.source``)."""
    rasa_patterns: bool = False
    """A Rasa project (``data/``): repairs are said under Rasa's default pattern names (:mod:`bot.project.patterns`)."""

    def response_name(self, name: str) -> str:
        """The name Careline's repair response ``name`` is sent under in this project (Rasa's, in a Rasa one)."""
        return RASA_NAMES.get(name, name) if self.rasa_patterns else name

    @property
    def knowledge_dir(self) -> Path:
        """The folder of knowledge documents: ``vector_store.source`` of ``endpoints.yml``, else ``knowledge/``."""
        return self.knowledge_path or self.path / "knowledge"

    def response(self, name: str, channel: str | None = None) -> ResponseVariant | None:
        """First variant of response ``name`` for ``channel`` (channel-specific variants first)."""
        variants = self.domain.responses.get(name)
        if not variants:
            return None
        for variant in variants:
            if channel is not None and variant.channel == channel:
                return variant
        return next((v for v in variants if v.channel is None), variants[0])


def _validate(model: type[M], doc: YamlDoc, problems: list[ConfigProblem]) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors():
            loc: Loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "required key is missing"
            else:
                message = error["msg"]
            problems.append(doc.problem(loc, message))
        return None


def _read(path: Path, problems: list[ConfigProblem]) -> YamlDoc | None:
    try:
        doc = read_yaml(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None
    if not isinstance(doc.data, dict):
        problems.append(ConfigProblem(path, 1, None, "the file must be a mapping of keys to values"))
        return None
    return doc


#: Folders and files of a project that are not its input (caches, Rasa's trained models, version control).
_NOT_HASHED = (".careline", ".rasa", ".git")


def fingerprint(path: Path, extra: Sequence[Path] = ()) -> str:
    """SHA-256 over the project's files (names and contents) and ``extra`` files outside it; caches, ``.git``
    and Rasa's trained models (``models/*.tar.gz``) are left out."""
    digest = hashlib.sha256()
    files = [p for p in path.rglob("*") if p.is_file() and _hashed(p.relative_to(path).parts)]
    for file in sorted(files):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    for file in sorted({p.resolve() for p in extra} - {p.resolve() for p in files}):
        digest.update(str(file).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _hashed(parts: tuple[str, ...]) -> bool:
    return not any(p in _NOT_HASHED for p in parts) and not (parts[0] == "models" and parts[-1].endswith(".tar.gz"))


#: Top-level keys that tell Rasa data files apart.
DATA_KEYS = ("version", "flows", "nlu", "rules", "stories", "responses")
#: Keys of a Rasa end-to-end test file (``tests/``), sometimes kept in ``data/``: skipped with a warning.
E2E_KEYS = frozenset({"test_cases", "fixtures", "metadata", "stub_custom_actions"})


@dataclass(slots=True)
class _Parts:
    """What the files of a project add up to while they are read."""

    nlu: NLUData = field(default_factory=NLUData)
    flows: dict[str, Flow] = field(default_factory=dict)
    flow_docs: dict[str, YamlDoc] = field(default_factory=dict)
    domains: list[DomainPart] = field(default_factory=list)
    domain_failed: bool = False


def load_project(path: Path | str, *, config: Path | str | None = None, domain: Path | str | None = None,
                 data: Sequence[Path | str] = (), endpoints: Path | str | None = None,
                 env: Mapping[str, str] | None = None) -> Project:
    """Load the project at ``path`` (Careline's layout or a Rasa project as it is); raises :class:`ConfigError`
    listing every problem found. ``config``, ``domain``, ``data`` and ``endpoints`` override where those parts
    are (Rasa's ``-c``, ``-d``, ``--data``, ``--endpoints``); ``env`` fills ``${NAME}`` in ``endpoints.yml``
    (default: the process environment)."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError([ConfigProblem(root, None, None, "project directory does not exist")])
    overrides = PathOverrides(_path(config), _path(domain), tuple(Path(p) for p in data), _path(endpoints))
    files, problems = find_files(root, overrides)
    notes = Warnings()
    parts = _Parts()

    project_config, guardrails, config_doc = ProjectConfig(), GuardrailsConfig(), None
    if files.config is not None and (config_doc := _read(files.config, problems)) is not None:
        normalize_config(config_doc, notes)
        project_config = _validate(ProjectConfig, config_doc, problems) or project_config
    if files.guardrails is not None and (doc := _read(files.guardrails, problems)) is not None:
        guardrails = _validate(GuardrailsConfig, doc, problems) or guardrails

    for file in files.domain:
        doc = _read(file, problems)
        if doc is not None:
            normalize_domain(doc, notes)
        parsed_domain = _validate(Domain, doc, problems) if doc else None
        if doc is None or parsed_domain is None:
            parts.domain_failed = True
            continue
        parts.domains.append(DomainPart(doc, parsed_domain))

    for file in files.nlu:
        if (doc := _read(file, problems)) is not None:
            _add_nlu(doc, parts, notes, problems)
    for file in files.flows:
        if (doc := _read(file, problems)) is not None:
            _add_flows(doc, parts, notes, problems)
    for file in files.data:
        _add_data(file, parts, notes, problems)

    knowledge_path: Path | None = None
    if files.endpoints is not None and (doc := _read(files.endpoints, problems)) is not None:
        before = len(problems)
        substitute_env(doc, environment.variables() if env is None else env, problems)
        parsed_endpoints = _validate(EndpointsFile, doc, problems) if len(problems) == before else None
        if parsed_endpoints is not None:
            group = llm_model_group(config_doc) if config_doc is not None else None
            applied = apply_endpoints(doc, parsed_endpoints, project_config, group, config_doc, root, notes,
                                      problems)
            project_config, knowledge_path = applied.config, applied.knowledge_path
    for file in files.unread:
        notes.add_file(file.name, file, "not read: Careline's channels are configured in config.yml (widget, "
                                        "voice, channels) and its connectors")

    merged = None
    if parts.domains and not parts.domain_failed:
        merged = merge_domains(parts.domains, problems)
        if files.data:
            merged = with_default_responses(merged)
        for flow_id, flow in parts.flows.items():
            problems.extend(_check_flow(flow_id, flow, parts.flows, merged, parts.nlu, parts.flow_docs[flow_id]))
    elif files.domain and not any(p.path in files.domain for p in problems):
        problems.append(ConfigProblem(files.domain_source or root / "domain.yml", None, None,
                                      "domain could not be loaded"))

    warnings = notes.emit()
    if problems:
        raise ConfigError(problems)
    assert merged is not None
    return Project(root, project_config, merged, parts.flows, parts.nlu, guardrails,
                   fingerprint(root, files.all()), warnings, knowledge_path, rasa_patterns=bool(files.data))


def _path(value: Path | str | None) -> Path | None:
    return None if value is None else Path(value)


def _add_nlu(doc: YamlDoc, parts: _Parts, notes: Warnings, problems: list[ConfigProblem]) -> None:
    normalize_nlu(doc, notes)
    parsed = _validate(NLUFile, doc, problems)
    if parsed is None:
        return
    for index, item in enumerate(parsed.nlu):
        try:
            add_item(parts.nlu, item)
        except (ValueError, re.error, KeyError) as exc:
            problems.append(doc.problem(("nlu", index, "examples"), str(exc)))


def _add_flows(doc: YamlDoc, parts: _Parts, notes: Warnings, problems: list[ConfigProblem]) -> None:
    normalize_flows(doc, set(Flow.model_fields) | {f.alias for f in Flow.model_fields.values() if f.alias}, notes)
    parsed = _validate(FlowsFile, doc, problems)
    if parsed is None:
        return
    for flow_id, flow in parsed.flows.items():
        if flow_id in parts.flows:
            first = parts.flow_docs[flow_id]
            where = f"{first.path}:{first.line_of(('flows', flow_id))}"
            problems.append(doc.problem(("flows", flow_id), f"flow id also defined at {where}"))
            continue
        parts.flows[flow_id] = flow
        parts.flow_docs[flow_id] = doc


def _section(doc: YamlDoc, *keys: str) -> YamlDoc:
    """``doc`` narrowed to ``keys`` (the lines stay those of the whole file)."""
    return YamlDoc(doc.path, {k: doc.data[k] for k in keys if k in doc.data}, doc.lines)


def _add_data(file: Path, parts: _Parts, notes: Warnings, problems: list[ConfigProblem]) -> None:
    """A Rasa data file: its top-level keys say what it holds (a file may hold several kinds)."""
    doc = _read(file, problems)
    if doc is None or not doc.data:
        return
    if E2E_KEYS & set(doc.data) and not set(DATA_KEYS[1:]) & set(doc.data):
        notes.add_file("e2e_tests_in_data", file, "an end-to-end test file in the data: not training data; run it "
                                                  "with careline eval")
        return
    for key in doc.data:
        if key not in DATA_KEYS:
            problems.append(doc.problem((key,), f"unknown key (a data file holds {', '.join(DATA_KEYS)})"))
    check_version(doc, notes)
    if "nlu" in doc.data:
        _add_nlu(_section(doc, "nlu"), parts, notes, problems)
    if "flows" in doc.data:
        _add_flows(_section(doc, "flows"), parts, notes, problems)
    if "responses" in doc.data:
        section = _section(doc, "responses")
        if isinstance(section.data["responses"], dict):
            normalize_responses(section, section.data["responses"], ("responses",), notes)
        responses = _validate(Domain, section, problems)
        if responses is None:
            parts.domain_failed = True
        else:
            parts.domains.append(DomainPart(section, responses))
    for key in ("rules", "stories"):
        if key in doc.data and not isinstance(doc.data[key], list):
            problems.append(doc.problem((key,), f"{key} must be a list"))
    note_rules_and_stories(doc, notes)


def _check_flow(
    flow_id: str, flow: Flow, flows: dict[str, Flow], domain: Domain, nlu: NLUData, doc: YamlDoc
) -> list[ConfigProblem]:
    """Cross-file checks: every slot, response, action, flow and step a flow names exists."""
    out: list[ConfigProblem] = []
    base: Loc = ("flows", flow_id)
    known_intents = set(nlu.intents) | set(domain.intents)
    for index, trigger in enumerate(flow.nlu_trigger):
        if trigger.intent not in known_intents:
            out.append(doc.problem((*base, "nlu_trigger", index), f"unknown intent '{trigger.intent}'"))
    step_ids = {s.id for s in _walk(flow.steps) if s.id}
    for index, step in enumerate(flow.steps):
        out.extend(_check_step(step, (*base, "steps", index), flows, domain, step_ids, doc))
    for loc, message in check_flow_structure(flow_id, flow, set(domain.slots), set(flows)):
        out.append(doc.problem((*base, *loc), message))
    return out


def _walk(steps: list[Step]) -> list[Step]:
    out = []
    for step in steps:
        out.append(step)
        if isinstance(step.next, list):
            for branch in step.next:
                for target in (branch.then, branch.else_):
                    if isinstance(target, list):
                        out.extend(_walk(target))
    return out


def _check_step(
    step: Step, loc: Loc, flows: dict[str, Flow], domain: Domain, step_ids: set[Any], doc: YamlDoc
) -> list[ConfigProblem]:
    out = []
    if step.collect is not None:
        if step.collect not in domain.slots:
            out.append(doc.problem((*loc, "collect"), f"unknown slot '{step.collect}' (declare it in domain.yml)"))
        ask = step.question
        if ask not in domain.responses:
            out.append(doc.problem((*loc, "collect"), f"no response '{ask}' to ask for the slot"))
        for index, rejection in enumerate(step.rejections):
            if rejection.utter not in domain.responses:
                out.append(doc.problem((*loc, "rejections", index, "utter"), f"unknown response '{rejection.utter}'"))
    if step.action is not None:
        name = step.action
        if name.startswith("utter_"):
            if name not in domain.responses:
                out.append(doc.problem((*loc, "action"), f"unknown response '{name}'"))
        elif name not in domain.actions and name not in BUILTIN_ACTIONS:
            out.append(doc.problem((*loc, "action"), f"unknown action '{name}' (list it under actions in domain.yml)"))
    for index, assignment in enumerate(step.set_slots or []):
        for slot in assignment:
            if slot not in domain.slots:
                out.append(doc.problem((*loc, "set_slots", index), f"unknown slot '{slot}'"))
    for key in ("link", "call"):
        target = getattr(step, key)
        if target is not None and target not in flows:
            out.append(doc.problem((*loc, key), f"unknown flow '{target}'"))
    targets: list[tuple[Loc, Any]] = []
    if isinstance(step.next, str):
        targets.append(((*loc, "next"), step.next))
    elif isinstance(step.next, list):
        for index, branch in enumerate(step.next):
            for key, target in (("then", branch.then), ("else", branch.else_)):
                if isinstance(target, str):
                    targets.append(((*loc, "next", index, key), target))
                elif isinstance(target, list):
                    for sub_index, sub in enumerate(target):
                        out.extend(
                            _check_step(sub, (*loc, "next", index, key, sub_index), flows, domain, step_ids, doc)
                        )
    for target_loc, target in targets:
        if target != "END" and target not in step_ids:
            out.append(doc.problem(target_loc, f"unknown step id '{target}'"))
    return out
