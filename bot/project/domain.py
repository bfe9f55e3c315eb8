"""A domain made of several files: ``domain.yml``, every file of a Rasa ``domain/`` folder, and the
``responses:`` of data files — merged like Rasa merges them.

Lists (``intents``, ``entities``, ``actions``) are united in file order. A slot or response defined in two
files is an error at the second place that names the first (``file:line``); Rasa would silently keep one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.kernel.errors import ConfigProblem
from bot.project.schema import Domain, ResponseVariant
from bot.project.yamlfile import YamlDoc


@dataclass(frozen=True, slots=True)
class DomainPart:
    """One parsed domain file (or the responses of one data file) and where it came from."""

    doc: YamlDoc
    domain: Domain
    responses_at: tuple[str, ...] = ("responses",)
    """Where the responses sit in ``doc`` (for the line of a duplicate)."""


def merge_domains(parts: list[DomainPart], problems: list[ConfigProblem]) -> Domain:
    """The union of ``parts``; duplicate slots and responses are appended to ``problems``."""
    intents: dict[str, None] = {}
    entities: dict[str, None] = {}
    actions: dict[str, None] = {}
    slots: dict[str, Any] = {}
    responses: dict[str, list[ResponseVariant]] = {}
    first_slot: dict[str, tuple[YamlDoc, tuple[str, ...]]] = {}
    first_response: dict[str, tuple[YamlDoc, tuple[str, ...]]] = {}
    version, session_config = None, None
    for part in parts:
        domain = part.domain
        version = version or domain.version
        session_config = session_config or domain.session_config
        intents.update(dict.fromkeys(domain.intents))
        entities.update(dict.fromkeys(domain.entities))
        actions.update(dict.fromkeys(domain.actions))
        for name, spec in domain.slots.items():
            loc: tuple[str, ...] = ("slots", name)
            if name in first_slot:
                problems.append(part.doc.problem(loc, f"slot also defined at {_where(*first_slot[name])}"))
                continue
            first_slot[name] = (part.doc, loc)
            slots[name] = spec
        for name, variants in domain.responses.items():
            loc = (*part.responses_at, name)
            if name in first_response:
                problems.append(part.doc.problem(loc, f"response also defined at {_where(*first_response[name])}"))
                continue
            first_response[name] = (part.doc, loc)
            responses[name] = variants
    return Domain(version=version, intents=list(intents), entities=list(entities), slots=slots,
                  responses=responses, actions=list(actions), session_config=session_config)


def _where(doc: YamlDoc, loc: tuple[str, ...]) -> str:
    line = doc.line_of(loc)
    return f"{doc.path}:{line}" if line is not None else str(doc.path)
