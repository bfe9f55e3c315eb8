"""The handoff queue: a view over the conversation index, so it can never disagree with the conversations.

A conversation is *waiting* while its status is ``handoff`` and *in progress* while an agent owns it
(``agent``). The index columns (reason, team, priority, waiting_since, agent) are written in the same
transaction as the events that change them (see :mod:`bot.storage.conversations`). Waiting entries are
served by priority (safety > regulated > emotional > auth_failed > requested > complex > scope), then by
how long they have waited.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from bot.storage import Database


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One conversation in the queue."""

    conversation_id: str
    channel: str | None
    status: str
    """``handoff`` (waiting) or ``agent`` (claimed)."""
    reason: str | None
    team: str | None
    priority: int
    waiting_since: float
    agent: str | None
    updated_at: float

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        data = asdict(self)
        data["waiting_seconds"] = round((now or time.time()) - self.waiting_since, 1)
        return data


@dataclass(frozen=True, slots=True)
class Position:
    """Where a new escalation stands: 1 is next; ``expected_wait`` in seconds when history allows a guess."""

    position: int
    expected_wait: float | None

    @property
    def wait_minutes(self) -> int | None:
        return None if self.expected_wait is None else max(1, math.ceil(self.expected_wait / 60))


class HandoffQueue:
    """Reads the queue from the conversation index of ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def entries(self, *, team: str | None = None, include_claimed: bool = True,
                      limit: int = 500) -> list[QueueEntry]:
        """Waiting conversations first (priority, then longest wait), then claimed ones the same way."""
        sql = ("SELECT conversation_id, channel, status, reason, team, priority, waiting_since, agent, updated_at "
               "FROM conversations WHERE status IN (?, ?)")
        args: list[Any] = ["handoff", "agent" if include_claimed else "handoff"]
        if team is not None:
            sql += " AND team = ?"
            args.append(team)
        sql += " ORDER BY CASE WHEN status = 'handoff' THEN 0 ELSE 1 END, priority DESC, waiting_since ASC LIMIT ?"
        args.append(limit)
        rows = await self.db.fetch(sql, *args)
        return [QueueEntry(**{**r, "priority": r["priority"] or 0,
                              "waiting_since": r["waiting_since"] or r["updated_at"]}) for r in rows]

    async def position(self, *, team: str | None, priority: int, expected_wait: float | None = None) -> Position:
        """The place a conversation escalated now with ``priority`` would take in ``team``'s queue."""
        sql = "SELECT COUNT(*) AS n FROM conversations WHERE status = 'handoff' AND priority >= ?"
        args: list[Any] = [priority]
        if team is not None:
            sql += " AND team = ?"
            args.append(team)
        ahead = int(await self.db.fetchval(sql, *args) or 0)
        return Position(ahead + 1, expected_wait)
