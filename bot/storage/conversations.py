"""The conversation store: append-only event lists, one per conversation.

Appends carry the sequence number the writer last saw; a second writer that raced it gets
:class:`~bot.kernel.errors.ConcurrentWriteError` instead of interleaving events (the per-conversation
lock makes that rare; the primary key makes it impossible). A user message carrying a client message id
is stored at most once per conversation (table ``message_ids``): a second one is refused with
:class:`DuplicateMessage`, even from a worker that raced past the lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.kernel.conversation import ConversationState, Status, derive
from bot.kernel.errors import ConcurrentWriteError
from bot.kernel.events import (
    AgentJoined,
    ConversationEnded,
    Escalated,
    Event,
    ReturnedToBot,
    UserUttered,
    event_from_dict,
)
from bot.storage.database import Database


class DuplicateMessage(ConcurrentWriteError):
    """The conversation already holds a user message with this client message id (answer from it)."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        timestamp {float} NOT NULL,
        data {json} NOT NULL,
        PRIMARY KEY (conversation_id, seq))""",
    """CREATE TABLE IF NOT EXISTS conversations (
        conversation_id TEXT PRIMARY KEY,
        channel TEXT,
        status TEXT NOT NULL,
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL,
        last_seq INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_at)",
    """CREATE TABLE IF NOT EXISTS message_ids (
        conversation_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, message_id))""",
)

EVENTS_PER_INSERT = 100
"""Events written by one multi-row INSERT (5 parameters each, well under SQLite's limit of 32,766)."""

QUEUE_INDEX = "CREATE INDEX IF NOT EXISTS conversations_queue ON conversations (status, team, priority)"
"""The queue's position count and views read conversations by status (created once the columns exist)."""

#: Columns the index keeps about the current handoff (the queue is a view over them); added to older
#: tables by :meth:`ConversationStore.setup`.
HANDOFF_COLUMNS = {
    "reason": "TEXT",
    "team": "TEXT",
    "priority": "INTEGER",
    "waiting_since": "{float}",
    "agent": "TEXT",
}


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One row of the conversation index (for lists and analytics)."""

    conversation_id: str
    channel: str | None
    status: str
    created_at: float
    updated_at: float
    last_seq: int
    reason: str | None = None
    """Reason of the latest escalation (kept after it ends, for analytics)."""
    team: str | None = None
    """Team the latest escalation was routed or transferred to."""
    priority: int | None = None
    """Priority of the latest escalation (higher is served first)."""
    waiting_since: float | None = None
    """When the current handoff began (a transfer keeps it)."""
    agent: str | None = None
    """The agent who owns the conversation now, if any."""


class ConversationStore:
    """Events of every conversation, in a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def setup(self) -> None:
        """Create the tables if they do not exist."""
        await self.db.migrate(SCHEMA)
        await self._add_handoff_columns()
        await self.db.migrate([QUEUE_INDEX])

    async def _add_handoff_columns(self) -> None:
        if self.db.dialect == "sqlite":
            rows = await self.db.fetch("PRAGMA table_info(conversations)")
        else:
            rows = await self.db.fetch(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_name = 'conversations' AND table_schema = current_schema()"
            )
        present = {r["name"] for r in rows}
        for name, kind in HANDOFF_COLUMNS.items():
            if name not in present:
                await self.db.execute(self.db.ddl(f"ALTER TABLE conversations ADD COLUMN {name} {kind}"))

    async def load(self, conversation_id: str) -> ConversationState:
        """The conversation's derived state (empty for a new id); ``len(state.events)`` is its last seq."""
        rows = await self.db.fetch(
            "SELECT type, timestamp, data FROM events WHERE conversation_id = ? ORDER BY seq", conversation_id
        )
        return derive(conversation_id, [_event(r) for r in rows])

    async def last_seq(self, conversation_id: str) -> int:
        """The sequence number of the conversation's last stored event (0 for a new id)."""
        row = await self.db.fetchrow("SELECT last_seq FROM conversations WHERE conversation_id = ?", conversation_id)
        return int(row["last_seq"]) if row is not None else 0

    async def events_after(self, conversation_id: str, seq: int) -> list[Event]:
        """The conversation's events after sequence ``seq``, oldest first."""
        rows = await self.db.fetch(
            "SELECT type, timestamp, data FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq",
            conversation_id, seq,
        )
        return [_event(r) for r in rows]

    async def append(self, conversation_id: str, events: Sequence[Event], *, expected_seq: int) -> int:
        """Append ``events`` after sequence ``expected_seq``; returns the new last seq.

        Raises :class:`ConcurrentWriteError` when another writer appended since ``expected_seq``, and
        :class:`DuplicateMessage` when a user event's ``message_id`` is already stored in the conversation.
        """
        if not events:
            return expected_seq
        async with self.db.transaction() as tx:
            rows = []
            for seq, event in enumerate(events, start=expected_seq + 1):
                if isinstance(event, UserUttered) and event.message_id is not None:
                    try:
                        await tx.execute("INSERT INTO message_ids (conversation_id, message_id, seq) VALUES (?, ?, ?)",
                                         conversation_id, event.message_id, seq)
                    except ConcurrentWriteError as exc:
                        raise DuplicateMessage(f"message {event.message_id!r} is already stored") from exc
                data = event.to_dict()
                data.pop("type")
                data.pop("timestamp")
                rows.append((conversation_id, seq, event.type, event.timestamp, json.dumps(data, default=str)))
            # one statement for the turn's events; a concurrent writer's rows collide on (conversation_id, seq)
            for start in range(0, len(rows), EVENTS_PER_INSERT):
                chunk = rows[start:start + EVENTS_PER_INSERT]
                placeholders = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))  # only placeholders: values are bound
                await tx.execute("INSERT INTO events (conversation_id, seq, type, timestamp, data) "  # noqa: S608
                                 f"VALUES {placeholders}", *(v for row in chunk for v in row))
            seq = expected_seq + len(events)
            channel = next((e.channel for e in events if hasattr(e, "channel")), None)
            index = await self._index_after(tx, conversation_id, events)
            now = events[-1].timestamp
            await tx.execute(
                """INSERT INTO conversations (conversation_id, channel, status, created_at, updated_at, last_seq,
                                              reason, team, priority, waiting_since, agent)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (conversation_id) DO UPDATE SET
                     status = excluded.status, updated_at = excluded.updated_at, last_seq = excluded.last_seq,
                     channel = COALESCE(conversations.channel, excluded.channel),
                     reason = excluded.reason, team = excluded.team, priority = excluded.priority,
                     waiting_since = excluded.waiting_since, agent = excluded.agent""",
                conversation_id,
                channel,
                index["status"],
                events[0].timestamp,
                now,
                seq,
                index["reason"],
                index["team"],
                index["priority"],
                index["waiting_since"],
                index["agent"],
            )
        return seq

    @staticmethod
    async def _index_after(tx: Any, conversation_id: str, events: Sequence[Event]) -> dict[str, Any]:
        """The index row after ``events``: status and the current handoff (reason, team, waiting_since, agent)."""
        row = await tx.fetchrow(
            "SELECT status, reason, team, priority, waiting_since, agent FROM conversations WHERE conversation_id = ?",
            conversation_id,
        )
        index: dict[str, Any] = dict(row) if row is not None else dict.fromkeys(HANDOFF_COLUMNS)
        state = derive(conversation_id, [])
        if row is not None:
            state.status = Status(row["status"])
        for event in events:
            before = state.status
            state.apply(event)
            if isinstance(event, Escalated):
                if before not in (Status.HANDOFF, Status.AGENT):
                    index["waiting_since"] = event.timestamp
                index.update(reason=event.reason, team=event.team, priority=event.priority, agent=None)
            elif isinstance(event, AgentJoined):
                index["agent"] = event.agent
            elif isinstance(event, ReturnedToBot | ConversationEnded):
                index["agent"] = None
        index["status"] = str(state.status)
        return index

    async def list(
        self, *, status: str | None = None, updated_since: float | None = None, limit: int = 1000
    ) -> list[ConversationSummary]:
        """Conversations, most recently updated first, optionally filtered."""
        sql = "SELECT * FROM conversations WHERE 1 = 1"
        args: list[Any] = []
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if updated_since is not None:
            sql += " AND updated_at >= ?"
            args.append(updated_since)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        args.append(limit)
        return [ConversationSummary(**r) for r in await self.db.fetch(sql, *args)]


def _event(row: dict[str, Any]) -> Event:
    data = json.loads(row["data"])
    return event_from_dict({"type": row["type"], "timestamp": row["timestamp"], **data})
