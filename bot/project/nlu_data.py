"""Rasa NLU training data: examples with ``[value](entity)`` annotations, synonyms, regexes, lookups."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.project.schema import NLUItem

_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True, slots=True)
class EntitySpan:
    """An annotated entity in an example: ``text[start:end]`` is ``value`` of type ``entity``."""

    entity: str
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class NLUExample:
    """One training example."""

    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()


@dataclass(slots=True)
class NLUData:
    """All NLU data of a project."""

    examples: list[NLUExample] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """Intent names, sorted."""
        return sorted({e.intent for e in self.examples})


def split_examples(block: str) -> list[str]:
    """The ``- example`` lines of an ``examples: |`` block; raises ``ValueError`` on other lines."""
    out = []
    for raw in block.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise ValueError(f"example lines start with '- ', got {line[:40]!r}")
        out.append(line[2:].strip())
    return out


def parse_example(annotated: str, intent: str) -> NLUExample:
    """Strip ``[value](entity)`` / ``[value]{"entity": ..., "value": ...}`` annotations into spans."""
    text, spans, pos = [], [], 0
    offset = 0
    for match in _ANNOTATION.finditer(annotated):
        text.append(annotated[pos : match.start()])
        offset += match.start() - pos
        value = match.group("text")
        if match.group("entity"):
            entity, canonical = match.group("entity"), value
        else:
            meta = json.loads(match.group("json"))
            entity, canonical = meta["entity"], str(meta.get("value", value))
        spans.append(EntitySpan(entity, offset, offset + len(value), canonical))
        text.append(value)
        offset += len(value)
        pos = match.end()
    text.append(annotated[pos:])
    return NLUExample("".join(text), intent, tuple(spans))


def add_item(data: NLUData, item: NLUItem) -> None:
    """Add one parsed NLU file entry to ``data`` (raises ``ValueError`` on bad examples)."""
    examples = split_examples(item.examples)
    if item.intent is not None:
        data.examples.extend(parse_example(e, item.intent) for e in examples)
    elif item.synonym is not None:
        data.synonyms.update({e.lower(): item.synonym for e in examples})
    elif item.regex is not None:
        for pattern in examples:
            re.compile(pattern)
        data.regexes.setdefault(item.regex, []).extend(examples)
    elif item.lookup is not None:
        data.lookups.setdefault(item.lookup, []).extend(examples)
    else:
        raise ValueError("an NLU entry needs one of intent, synonym, regex or lookup")
