"""Rasa keys Careline reads differently or not at all: accepted with one warning each, never an error.

The rule: a key gets a warning when a Rasa user could expect an effect that Careline does not give
(``policies``, ``forms``, entity ``roles``, ``rules``...). Keys with no effect in Rasa CALM either
(``influence_conversation``) or that Careline uses (``assistant_id``, ``language: en``, a ``version: "3.1"``)
pass silently. Each kind of key is warned about once per load, at its first place, with how many places
have it; :class:`Warnings` collects them and :meth:`Warnings.emit` logs them (``rasa_key_ignored``).

The functions here rewrite a parsed file's plain data in place, before the typed models see it, so that
every key the models do not know is still an ``unknown key`` error with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.infra.logs import get_logger
from bot.project.yamlfile import Loc, YamlDoc

log = get_logger(__name__)

#: Rasa file-format versions Careline reads as they are.
KNOWN_VERSIONS = re.compile(r"^[23]\.\d+$")


@dataclass(frozen=True, slots=True)
class ProjectWarning:
    """A Rasa key accepted but not used: where it first appears, how often, and what Careline does instead."""

    path: Path
    line: int | None
    key: str
    message: str
    count: int = 1

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        times = f" ({self.count} places)" if self.count > 1 else ""
        return f"{where}: {self.key}: {self.message}{times}"


@dataclass(slots=True)
class Warnings:
    """One warning per kind of ignored key; later places only raise the count."""

    found: dict[str, ProjectWarning] = field(default_factory=dict)

    def add(self, kind: str, doc: YamlDoc, loc: Loc, message: str) -> None:
        """Note that ``kind`` (e.g. ``policies``) was accepted at ``loc`` of ``doc``."""
        seen = self.found.get(kind)
        if seen is not None:
            self.found[kind] = ProjectWarning(seen.path, seen.line, seen.key, seen.message, seen.count + 1)
            return
        key = ".".join(str(p) for p in loc) or kind
        self.found[kind] = ProjectWarning(doc.path, doc.line_of(loc), key, message)

    def add_file(self, kind: str, path: Path, message: str) -> None:
        """Note a whole file that is not read."""
        self.found.setdefault(kind, ProjectWarning(path, None, kind, message))

    def emit(self) -> tuple[ProjectWarning, ...]:
        """Log every warning (structlog ``rasa_key_ignored``) and return them."""
        for warning in self.found.values():
            log.warning("rasa_key_ignored", file=str(warning.path), line=warning.line, key=warning.key,
                        places=warning.count, reason=warning.message)
        return tuple(self.found.values())


def check_version(doc: YamlDoc, notes: Warnings) -> None:
    """A file's ``version``: Rasa 2.x/3.x formats are read as they are; other values get a warning."""
    version = doc.data.get("version")
    if version is not None and not KNOWN_VERSIONS.match(str(version)):
        notes.add("version", doc, ("version",), f"format version {version!r} is not a Rasa 2.x/3.x version; "
                                                "the file is read as Rasa 3.x")


def _names(items: list[dict[str, Any]]) -> str:
    return ", ".join(str(i.get("name", "?")) for i in items if isinstance(i, dict)) or "none"


CONFIG_IGNORED = {
    "importers": "Careline reads the project layout itself (Rasa importers are not run)",
    "spaces": "Rasa spaces are not supported; all flows share one space",
}
#: LLM command generators whose ``llm.model_group`` names the model Careline's LLM command generator uses.
COMMAND_GENERATORS = frozenset({
    "CompactLLMCommandGenerator", "SearchReadyLLMCommandGenerator", "SingleStepLLMCommandGenerator",
    "MultiStepLLMCommandGenerator", "LLMCommandGenerator",
})


def normalize_config(doc: YamlDoc, notes: Warnings) -> None:
    """``config.yml``: warn about ``recipe``, ``pipeline``, ``policies``, a language other than English and
    the Rasa-only keys of :data:`CONFIG_IGNORED` (removed)."""
    data = doc.data
    if "recipe" in data:
        notes.add("recipe", doc, ("recipe",), "Careline runs one recipe (its own turn pipeline); ignored")
    pipeline = data.get("pipeline")
    if isinstance(pipeline, list) and pipeline:
        notes.add("pipeline", doc, ("pipeline",),
                  f"components not run ({_names(pipeline)}): Careline understands with its embedding intent "
                  "classifier, regex/lookup entities and, when configured, its LLM command generator "
                  "(an LLM command generator's llm.model_group is read from endpoints.yml)")
    policies = data.get("policies")
    if isinstance(policies, list) and policies:
        notes.add("policies", doc, ("policies",),
                  f"policies not run ({_names(policies)}): Careline runs the flows itself and answers "
                  "out-of-flow questions from knowledge/")
    language = data.get("language")
    if language is not None and str(language).lower() not in ("en", "en-us", "en-gb"):
        notes.add("language", doc, ("language",), f"Careline's models are English; language {language!r} "
                                                  "is not used")
    for key, reason in CONFIG_IGNORED.items():
        if key in data:
            notes.add(key, doc, (key,), reason)
            del data[key]


def llm_model_group(doc: YamlDoc) -> str | None:
    """The ``llm.model_group`` of the config's first LLM command generator, if any."""
    for component in doc.data.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") in COMMAND_GENERATORS:
            llm = component.get("llm")
            group = llm.get("model_group") if isinstance(llm, dict) else None
            return str(group) if group is not None else ""
    return None


DOMAIN_IGNORED = {
    "forms": "Rasa forms are not run (coexistence with NLU-based rules is not supported); collect slots in flows",
    "config": "domain config (store_entities_as_slots) is not used; slots fill through their mappings",
    "e2e_actions": "end-to-end actions are not used",
    "session_config": "sessions are Careline's own: a conversation continues until it is restarted or handed off",
}
SLOT_IGNORED = {
    "max_value": "float slot bounds are not enforced; use a collect step's rejections",
    "min_value": "float slot bounds are not enforced; use a collect step's rejections",
    "shared_for_coexistence": "coexistence is not supported; slots are shared by all flows",
    "validation": "slot-level validation is not run; use a collect step's rejections",
}
VARIANT_IGNORED = {
    "id": "response variant ids are not used",
    "button_type": "buttons are shown as the channel shows them (button_type is not used)",
    "attachment": "attachments are not sent",
    "elements": "carousel elements are not sent",
    "quick_replies": "quick_replies are not sent; use buttons",
}


def _name_of_entry(entry: Any) -> tuple[str | None, Any]:
    """``- name`` → (name, None); ``- name: {props}`` → (name, props)."""
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict) and len(entry) == 1:
        name, props = next(iter(entry.items()))
        return str(name), props
    return None, None


def _flatten_names(doc: YamlDoc, section: str, notes: Warnings, message: str) -> None:
    entries = doc.data.get(section)
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        name, props = _name_of_entry(entry)
        if name is None or not isinstance(entry, dict):
            continue
        entries[index] = name
        if props:
            keys = sorted(props) if isinstance(props, dict) else [str(props)]
            notes.add(f"{section}_properties", doc, (section, index, name), f"{message} ({', '.join(keys)})")


def normalize_domain(doc: YamlDoc, notes: Warnings) -> None:
    """A domain file: ``- intent: {use_entities: ...}``, ``- entity: {roles: ...}`` and ``- action: {...}``
    become plain names (their properties warned about); forms, domain config, slot bounds and response
    variant keys Careline does not send are removed with a warning."""
    data = doc.data
    check_version(doc, notes)
    _flatten_names(doc, "intents", notes, "intent properties are not used (every entity is kept for every intent)")
    _flatten_names(doc, "entities", notes, "entity roles, groups and influence_conversation are not used "
                                           "(entities are extracted by type only)")
    _flatten_names(doc, "actions", notes, "action properties (send_domain) are not used; the action server "
                                          "always gets the domain")
    for key, reason in DOMAIN_IGNORED.items():
        if key in data:
            notes.add(key, doc, (key,), reason)
            del data[key]
    slots = data.get("slots")
    if isinstance(slots, dict):
        for name, spec in slots.items():
            for key, reason in SLOT_IGNORED.items():
                if isinstance(spec, dict) and key in spec:
                    notes.add(f"slot_{key}", doc, ("slots", name, key), reason)
                    del spec[key]
    responses = data.get("responses")
    if isinstance(responses, dict):
        normalize_responses(doc, responses, ("responses",), notes)


def normalize_responses(doc: YamlDoc, responses: dict[str, Any], base: Loc, notes: Warnings) -> None:
    """Response variants: keys Careline does not send are removed with a warning; ``image`` and ``custom``
    stay on the variant (warned about: channels send text and buttons)."""
    for name, variants in responses.items():
        if not isinstance(variants, list):
            continue
        for index, variant in enumerate(variants):
            if not isinstance(variant, dict):
                continue
            loc = (*base, name, index)
            for key, reason in VARIANT_IGNORED.items():
                if key in variant:
                    notes.add(f"response_{key}", doc, (*loc, key), reason)
                    del variant[key]
            for key in ("image", "custom"):
                if key in variant:
                    notes.add(f"response_{key}", doc, (*loc, key),
                              f"'{key}' is kept on the response but Careline's channels send only text and "
                              "buttons")


def normalize_nlu(doc: YamlDoc, notes: Warnings) -> None:
    """NLU entries: examples given as a list of ``{text: ..., metadata: ...}`` become an ``examples`` block
    (per-example metadata is not used)."""
    check_version(doc, notes)
    for index, item in enumerate(doc.data.get("nlu") or []):
        if not isinstance(item, dict) or not isinstance(item.get("examples"), list):
            continue
        texts = []
        for example in item["examples"]:
            text = example.get("text") if isinstance(example, dict) else example
            texts.append(f"- {text}")
            if isinstance(example, dict) and "metadata" in example:
                notes.add("nlu_example_metadata", doc, ("nlu", index, "examples"), "example metadata is not used")
        item["examples"] = "\n".join(texts)


def note_rules_and_stories(doc: YamlDoc, notes: Warnings) -> None:
    """``rules:`` and ``stories:`` are read (they must be lists) but not run."""
    for key in ("rules", "stories"):
        items = doc.data.get(key)
        if items is not None:
            count = len(items) if isinstance(items, list) else 0
            notes.add(key, doc, (key,), f"{key} are not run ({count} in this file): Careline runs flows only "
                                        "(Rasa's coexistence of NLU-based rules/stories with flows is not supported)")


#: Flow keys Rasa has that only steer its LLM prompt or its patterns; removed with a warning when the flow
#: grammar does not know them.
FLOW_PROMPT_KEYS = {
    "always_include_in_prompt": "Careline's LLM command generator sees every flow; ignored",
    "run_pattern_completed": "Careline does not say 'anything else?' after a flow unless the flow does; ignored",
}


def normalize_flows(doc: YamlDoc, known_flow_keys: set[str], notes: Warnings) -> None:
    """Flow-level prompt keys (:data:`FLOW_PROMPT_KEYS`) the flow grammar does not declare are removed with a
    warning; every other flow key goes to the flow grammar unchanged."""
    check_version(doc, notes)
    flows = doc.data.get("flows")
    if not isinstance(flows, dict):
        return
    for flow_id, flow in flows.items():
        if not isinstance(flow, dict):
            continue
        for key, reason in FLOW_PROMPT_KEYS.items():
            if key in flow and key not in known_flow_keys:
                notes.add(f"flow_{key}", doc, ("flows", flow_id, key), reason)
                del flow[key]
