"""Human handoff: the context package, the queue and routing, agent actions, return-to-bot and CSAT.

Modules, in the order a handoff meets them:

- :mod:`~bot.handoff.config` — the ``handoff:`` section of config.yml (routing reason → team, CSAT...).
- :mod:`~bot.handoff.context` — the context package (JSON schema in ``context.schema.json``), with
  :mod:`~bot.handoff.sentiment` and :mod:`~bot.handoff.summary` (extractive, or an LLM when configured).
- :mod:`~bot.handoff.queue` — the queue, a view over the conversation index (priority, then wait).
- :mod:`~bot.handoff.service` — :class:`HandoffService`: claim, reply, note, transfer, return to bot,
  close; every view and action recorded by :mod:`~bot.handoff.audit`.
- :mod:`~bot.handoff.csat` — the turn stage that records the customer's 1-5 rating.

Importing this package stays cheap (the project schema imports its config); the names below load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HandoffConfig": "bot.handoff.config",
    "build_context": "bot.handoff.context",
    "context_schema": "bot.handoff.context",
    "SCHEMA_VERSION": "bot.handoff.context",
    "HandoffQueue": "bot.handoff.queue",
    "AuditLog": "bot.handoff.audit",
    "HandoffService": "bot.handoff.service",
    "HandoffDesk": "bot.handoff.service",
    "HandoffRefused": "bot.handoff.errors",
    "UnknownConversation": "bot.handoff.errors",
    "NotYourConversation": "bot.handoff.errors",
    "UnknownTeam": "bot.handoff.errors",
    "RecordCsat": "bot.handoff.csat",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bot.handoff' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
