"""Button payloads read as a certain understanding: Rasa-style ``/intent{"slot": "value"}``, and Rasa CALM's
``/SetSlots(slot=value, other=value)`` (slots set by a button, read as an ``inform`` carrying them)."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.nlu.base import Entity, Understanding

_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?P<entities>\{.*\})?$")
_SET_SLOTS = re.compile(r"^/SetSlots\((?P<pairs>[^()]*)\)$")
_PAIR = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")
SET_SLOTS_INTENT = "inform"
"""The intent a ``/SetSlots(...)`` payload is read as: it answers, it asks for nothing."""


def _slot_value(raw: str) -> Any:
    """``true``/``false``/``null``, a number, a quoted or bare string."""
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", ""):
        return None
    if raw[:1] in "\"'" and raw[-1:] == raw[:1] and len(raw) >= 2:
        return raw[1:-1]
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        return raw


def _set_slots(text: str) -> Understanding | None:
    match = _SET_SLOTS.match(text.strip())
    if match is None:
        return None
    entities = []
    for pair in filter(str.strip, match.group("pairs").split(",")):
        found = _PAIR.match(pair)
        if found is None:
            return None
        entities.append(Entity(found.group("name"), _slot_value(found.group("value")), extractor="payload"))
    return Understanding(SET_SLOTS_INTENT, 1.0, ((SET_SLOTS_INTENT, 1.0),), tuple(entities))


def parse_payload(text: str) -> Understanding | None:
    """A button payload (``/intent{"slot": "value"}`` or ``/SetSlots(slot=value)``) as a certain understanding."""
    if text.strip().startswith("/SetSlots("):
        return _set_slots(text)
    match = _PAYLOAD.match(text.strip())
    if match is None:
        return None
    entities: tuple[Entity, ...] = ()
    if match.group("entities"):
        try:
            values: dict[str, Any] = json.loads(match.group("entities"))
        except json.JSONDecodeError:
            return None
        entities = tuple(Entity(k, v, extractor="payload") for k, v in values.items())
    intent = match.group("intent")
    return Understanding(intent, 1.0, ((intent, 1.0),), entities)
