"""Load and validate a project directory up front.

Every file is read and checked before the bot starts; all problems are collected and raised as
one :class:`~bot.errors.ConfigError` whose lines name the file, line and key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError, ConfigProblem
from bot.flows.schema import BUILTIN_ACTIONS, Flow, FlowsFile, Step
from bot.flows.validation import check_flow_structure
from bot.project.nlu_data import NLUData, add_item
from bot.project.schema import Domain, GuardrailsConfig, NLUFile, ProjectConfig, ResponseVariant
from bot.project.yamlfile import Loc, YamlDoc, read_yaml

M = TypeVar("M", bound=BaseModel)

#: Business actions the engine provides itself (no custom code needed).


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

    @property
    def knowledge_dir(self) -> Path:
        """The folder of knowledge documents."""
        return self.path / "knowledge"

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


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


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


def fingerprint(path: Path) -> str:
    """SHA-256 over the project's YAML and knowledge files (names and contents)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and ".careline" not in p.parts):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def load_project(path: Path | str) -> Project:
    """Load the project at ``path``; raises :class:`ConfigError` listing every problem found."""
    root = Path(path)
    problems: list[ConfigProblem] = []
    if not root.is_dir():
        raise ConfigError([ConfigProblem(root, None, None, "project directory does not exist")])

    config, domain, guardrails = ProjectConfig(), None, GuardrailsConfig()
    for name, required in (("config.yml", True), ("domain.yml", True), ("guardrails.yml", False)):
        file = root / name
        if not file.exists():
            if required:
                problems.append(ConfigProblem(file, None, None, "required file is missing"))
            continue
        doc = _read(file, problems)
        if doc is None:
            continue
        if name == "config.yml":
            config = _validate(ProjectConfig, doc, problems) or config
        elif name == "domain.yml":
            domain = _validate(Domain, doc, problems)
        else:
            guardrails = _validate(GuardrailsConfig, doc, problems) or guardrails

    nlu = NLUData()
    for file in _files(root / "nlu"):
        doc = _read(file, problems)
        parsed = _validate(NLUFile, doc, problems) if doc else None
        if doc is None or parsed is None:
            continue
        for index, item in enumerate(parsed.nlu):
            try:
                add_item(nlu, item)
            except (ValueError, re.error, KeyError) as exc:
                problems.append(doc.problem(("nlu", index, "examples"), str(exc)))

    flows: dict[str, Flow] = {}
    flow_docs: dict[str, YamlDoc] = {}
    for file in _files(root / "flows"):
        doc = _read(file, problems)
        parsed_flows = _validate(FlowsFile, doc, problems) if doc else None
        if doc is None or parsed_flows is None:
            continue
        for flow_id, flow in parsed_flows.flows.items():
            if flow_id in flows:
                problems.append(doc.problem(("flows", flow_id), f"flow id also defined in {flow_docs[flow_id].path}"))
            flows[flow_id] = flow
            flow_docs[flow_id] = doc

    if domain is not None:
        for flow_id, flow in flows.items():
            problems.extend(_check_flow(flow_id, flow, flows, domain, nlu, flow_docs[flow_id]))
    elif not any(p.path.name == "domain.yml" for p in problems):
        problems.append(ConfigProblem(root / "domain.yml", None, None, "domain could not be loaded"))

    if problems:
        raise ConfigError(problems)
    assert domain is not None
    return Project(root, config, domain, flows, nlu, guardrails, fingerprint(root))


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
        ask = step.utter or f"utter_ask_{step.collect}"
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
