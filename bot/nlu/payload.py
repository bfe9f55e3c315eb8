"""Button payloads: Rasa-style ``/intent{"slot": "value"}`` text read as a certain understanding."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.nlu.base import Entity, Understanding

_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?P<entities>\{.*\})?$")


def parse_payload(text: str) -> Understanding | None:
    """A Rasa-style button payload ``/intent{"slot": "value"}`` as a certain understanding."""
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
