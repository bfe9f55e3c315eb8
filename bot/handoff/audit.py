"""The audit trail: every view of the queue or a context and every agent action, with who did it and when.

Rows live in the ``handoff_audit`` table of the conversation database and are never updated or deleted
by Careline. Claims record how long the customer waited, which gives the expected wait told to customers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bot.infra.settings import Principal
from bot.storage import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS handoff_audit (
        id {id},
        at {float} NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        conversation_id TEXT,
        team TEXT,
        waited {float},
        detail {json} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS handoff_audit_conversation ON handoff_audit (conversation_id, at)",
    "CREATE INDEX IF NOT EXISTS handoff_audit_claims ON handoff_audit (action, team, at)",
)

#: How many recent claims the expected wait is averaged over, and how many are needed to guess at all.
WAIT_SAMPLE, WAIT_MINIMUM = 20, 3


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited view or action."""

    at: float
    actor: str
    role: str
    action: str
    conversation_id: str | None
    team: str | None
    waited: float | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "role": self.role, "action": self.action,
                "conversation_id": self.conversation_id, "team": self.team, "waited": self.waited,
                "detail": self.detail}


class AuditLog:
    """Append-only audit rows in ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def setup(self) -> None:
        """Create the table if it does not exist."""
        await self.db.migrate(SCHEMA)

    async def record(self, principal: Principal, action: str, conversation_id: str | None = None, *,
                     team: str | None = None, waited: float | None = None, **detail: Any) -> None:
        """Append one row (``detail`` is stored as JSON)."""
        await self.db.execute(
            "INSERT INTO handoff_audit (at, actor, role, action, conversation_id, team, waited, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            time.time(), principal.name, principal.role, action, conversation_id, team, waited,
            json.dumps(detail, default=str),
        )

    async def records(self, *, conversation_id: str | None = None, actor: str | None = None,
                      limit: int = 200) -> list[AuditRecord]:
        """The latest rows, newest first, optionally for one conversation or actor."""
        sql = "SELECT at, actor, role, action, conversation_id, team, waited, detail FROM handoff_audit WHERE 1 = 1"
        args: list[Any] = []
        if conversation_id is not None:
            sql += " AND conversation_id = ?"
            args.append(conversation_id)
        if actor is not None:
            sql += " AND actor = ?"
            args.append(actor)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        rows = await self.db.fetch(sql, *args)
        return [AuditRecord(**{**r, "detail": json.loads(r["detail"])}) for r in rows]

    async def expected_wait(self, team: str | None) -> float | None:
        """Mean wait (seconds) of the team's latest claims, or ``None`` with too little history."""
        sql = "SELECT waited FROM handoff_audit WHERE action = 'claim' AND waited IS NOT NULL"
        args: list[Any] = []
        if team is not None:
            sql += " AND team = ?"
            args.append(team)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(WAIT_SAMPLE)
        waits = [float(r["waited"]) for r in await self.db.fetch(sql, *args)]
        return sum(waits) / len(waits) if len(waits) >= WAIT_MINIMUM else None
