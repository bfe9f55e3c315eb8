"""Redacting stored conversation events in place: what retention and erasure leave of an event.

Both work on the stored form of an event (its ``type`` and the JSON ``data`` of the ``events`` table) and mark
what they changed with ``"redacted": <why>`` inside ``data`` (ignored when the event is rebuilt), so a second
pass changes nothing. What stays is what the KPIs count: each event's kind and time, intents and their
confidence, flows, actions, escalation reasons and teams, agents, CSAT scores.

* :func:`redact_transcript` — everything the customer, the bot or an agent wrote, and every slot value but the
  KPIs' own: ``authenticated`` (a boolean) stays, and the customer id (the ``customer_id`` slot, a channel's
  ``metadata.customer_id``/``user_id``) becomes a pseudonym that names nobody — the same one for every
  conversation of the customer in one erasure or retention run, so repeat-contact counts (FCR) stay.
* :class:`SensitiveValues` — the values of the slots the domain marks ``sensitive``: the slot events lose their
  values, the customer message that gave one loses its text, and the values are cut out of every other text.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

REMOVED = "[removed]"
#: Slots whose values the KPIs read: kept (``authenticated``) or pseudonymized (``customer_id``).
KEPT_SLOTS = frozenset({"authenticated"})
CUSTOMER_KEYS = ("customer_id", "user_id")

Pseudonym = Callable[[str], str]


def pseudonymizer(prefix: str = "redacted") -> Pseudonym:
    """A customer id → pseudonym mapping keyed by a random salt that is never stored: stable within one run,
    unlinkable to the customer afterwards."""
    salt = secrets.token_bytes(16)

    def pseudonym(customer_id: str) -> str:
        return f"{prefix}:{hashlib.sha256(salt + customer_id.encode()).hexdigest()[:16]}"

    return pseudonym
#: Fields that carry words or values, by event type (see bot/kernel/events.py).
_TEXT_FIELDS = {
    "user": ("text",), "bot": ("text",), "agent_message": ("text",), "agent_note": ("text",),
    "knowledge": ("query",),
}


def is_redacted(data: dict[str, Any], why: str | None = None) -> bool:
    """Whether ``data`` was redacted (for ``why``, when given)."""
    mark = data.get("redacted")
    return mark is not None and (why is None or mark == why or (isinstance(mark, list) and why in mark))


def _mark(data: dict[str, Any], why: str) -> None:
    mark = data.get("redacted")
    if mark is None:
        data["redacted"] = why
    elif mark != why and not (isinstance(mark, list) and why in mark):
        data["redacted"] = [*(mark if isinstance(mark, list) else [mark]), why]


def redact_transcript(kind: str, data: dict[str, Any], why: str,
                      pseudonym: Pseudonym | None = None) -> dict[str, Any] | None:
    """The event's data without words or values (``None`` when it was already redacted for ``why``); customer ids
    become ``pseudonym(id)`` (``None`` without one)."""
    if is_redacted(data, why):
        return None
    out = dict(data)

    def hidden(value: Any) -> Any:
        return pseudonym(str(value)) if pseudonym is not None and value not in (None, "") else None

    for name in _TEXT_FIELDS.get(kind, ()):
        if out.get(name):
            out[name] = ""
    if kind == "user":
        given = out.get("metadata")
        metadata: dict[str, Any] = given if isinstance(given, dict) else {}
        out["metadata"] = {k: hidden(metadata[k]) for k in CUSTOMER_KEYS if metadata.get(k) not in (None, "")}
        out["entities"] = [{"entity": e.get("entity")} for e in out.get("entities") or [] if isinstance(e, dict)]
    if kind == "bot":
        out["buttons"] = []
        out["custom"] = {}
    if kind == "slot" and out.get("value") is not None and out.get("name") not in KEPT_SLOTS:
        out["value"] = hidden(out["value"]) if out.get("name") == "customer_id" else None
    if kind == "escalated":
        out["context"] = {}
        out["signals"] = [_signal(s) for s in out.get("signals") or []]
    if kind == "guardrail":
        out["signals"] = [_signal(s) for s in out.get("signals") or []]
    if kind == "matter_offered" and out.get("customer_id"):
        out["customer_id"] = hidden(out["customer_id"]) or ""
    if kind == "agent_joined" and out.get("display_name"):
        out["display_name"] = None
    _mark(out, why)
    return out


def _signal(signal: Any) -> Any:
    if isinstance(signal, dict):
        return {k: ("" if k == "evidence" else v) for k, v in signal.items()}
    return signal


class SensitiveValues:
    """Drops the values of ``names`` (sensitive slots) from one conversation's events, oldest first: feed every
    event to :meth:`rewrite` in order."""

    def __init__(self, names: Iterable[str], why: str = "sensitive_slots") -> None:
        self.names = frozenset(names)
        self.why = why
        self.values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def collect(self, kind: str, data: dict[str, Any]) -> None:
        """Learn a sensitive value the conversation holds (first pass over all its events)."""
        if kind == "slot" and data.get("name") in self.names and data.get("value") not in (None, "", False, True):
            text = str(data["value"]).strip()
            if len(text) >= 2:
                self.values.add(text)
                self._pattern = None

    def _cut(self, text: str) -> str:
        if not self.values:
            return text
        if self._pattern is None:
            alternatives = sorted(self.values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives), re.IGNORECASE)
        return self._pattern.sub(REMOVED, text)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._cut(value)
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        return value

    def rewrite(self, kind: str, data: dict[str, Any], *, gave_value: bool) -> dict[str, Any] | None:
        """The event without sensitive values (``None`` when nothing changes). ``gave_value`` marks the customer
        message whose turn set a sensitive slot: its whole text goes."""
        out = dict(data)
        if kind == "slot" and out.get("name") in self.names and out.get("value") is not None:
            out["value"] = None
        elif kind == "user" and gave_value and out.get("text"):
            out["text"] = REMOVED
            out["entities"] = [{"entity": e.get("entity")} for e in out.get("entities") or [] if isinstance(e, dict)]
            out["metadata"] = {}
        else:
            out = {k: (v if k == "redacted" else self._scrub(v)) for k, v in out.items()}
        if out == data:
            return None
        _mark(out, self.why)
        return out
