"""Per-conversation facts for KPIs, read from the ``events`` table in one query.

Analytics never replays full events: the query selects only the event types KPIs need and pulls the
few JSON fields they use (intent, reason, score, ...) in SQL, so the database does the parsing and
bot utterances, flow steps and actions never leave it. :func:`fold` then walks one conversation's
rows in order and keeps what the KPI definitions in :mod:`bot.analytics.kpis` count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from bot.storage import Database

#: Event types that KPIs read (everything else stays in the database).
KPI_EVENT_TYPES = ("user", "escalated", "agent_joined", "returned_to_bot", "closed", "csat", "knowledge",
                   "flow_started", "slot")
#: Slots that matter to KPIs: verification and the customer identity (for repeat contacts).
KPI_SLOTS = ("authenticated", "customer_id")
#: Keys of a user event's ``metadata`` naming the customer when the channel knows them.
CUSTOMER_METADATA_KEYS = ("customer_id", "user_id")

INDEXES = ("CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_at)",)


def json_field(db: Database, *path: str) -> str:
    """SQL reading the text of ``data``'s field ``path`` (nested keys allowed) in ``db``'s dialect."""
    if db.dialect == "postgres":
        inner = "".join(f" -> '{key}'" for key in path[:-1])
        return f"(e.data::jsonb{inner} ->> '{path[-1]}')"
    return f"json_extract(e.data, '$.{'.'.join(path)}')"


def facts_sql(db: Database) -> str:
    """The query behind :func:`load_facts`: KPI-relevant events of conversations created in a range."""
    value = (f"CASE e.type WHEN 'user' THEN {json_field(db, 'intent')} "
             f"WHEN 'escalated' THEN {json_field(db, 'reason')} "
             f"WHEN 'csat' THEN {json_field(db, 'score')} "
             f"WHEN 'knowledge' THEN {json_field(db, 'answered')} "
             f"WHEN 'flow_started' THEN {json_field(db, 'flow_id')} "
             f"WHEN 'slot' THEN {json_field(db, 'name')} END")
    detail = (f"CASE e.type WHEN 'user' THEN {json_field(db, 'for_agent')} "
              f"WHEN 'slot' THEN {json_field(db, 'value')} END")
    customer = "COALESCE(" + ", ".join(json_field(db, "metadata", k) for k in CUSTOMER_METADATA_KEYS) + ")"
    types = ", ".join(f"'{t}'" for t in KPI_EVENT_TYPES)
    slots = ", ".join(f"'{s}'" for s in KPI_SLOTS)
    # Casts give both dialects the same column type (text): SQLite's json_extract returns numbers as numbers.
    # Only module constants and fixed JSON paths are interpolated; the time range is bound as parameters.
    cast = "TEXT"
    return f"""
        SELECT c.conversation_id AS cid, c.channel AS channel, c.created_at AS created_at,
               c.updated_at AS updated_at, e.type AS type, e.timestamp AS ts,
               CAST({value} AS {cast}) AS v, CAST({detail} AS {cast}) AS w,
               CASE WHEN e.type = 'user' THEN CAST({customer} AS {cast}) END AS who
        FROM conversations c JOIN events e ON e.conversation_id = c.conversation_id
        WHERE c.created_at >= ? AND c.created_at < ? AND e.type IN ({types})
          AND (e.type <> 'slot' OR {json_field(db, 'name')} IN ({slots}))
        ORDER BY c.conversation_id, e.seq"""  # noqa: S608


def truthy(value: Any) -> bool:
    """A JSON boolean as either dialect returns it (SQLite ``1``, PostgreSQL ``'true'``)."""
    return str(value).lower() in ("1", "true")


@dataclass(slots=True)
class ConversationFacts:
    """What KPIs need to know about one conversation."""

    conversation_id: str
    channel: str
    created_at: float
    updated_at: float
    ended_at: float = 0.0
    """The first ``closed`` event, else the conversation's last event."""
    customer: str | None = None
    """Who the customer is across conversations: the ``customer_id`` slot, else the channel's metadata."""
    topic: str | None = None
    """The first intent the customer expressed that is not small talk (for the FCR proxy)."""
    flows: list[str] = field(default_factory=list)
    escalation_reasons: list[str] = field(default_factory=list)
    reopened_at: float | None = None
    """When the customer wrote again after the conversation was closed."""
    knowledge_answered: int = 0
    knowledge_dont_know: int = 0
    authenticated: bool = False
    csat: list[int] = field(default_factory=list)
    pickup_seconds: list[float] = field(default_factory=list)
    """From each escalation to the agent who picked it up."""
    bot_seconds: float = 0.0
    agent_seconds: float = 0.0
    agent_sessions: int = 0

    @property
    def escalated(self) -> bool:
        return bool(self.escalation_reasons)


def fold(rows: Sequence[dict[str, Any]], *, small_talk: frozenset[str]) -> ConversationFacts:
    """One conversation's rows (oldest first, as :func:`facts_sql` returns them) → its facts."""
    head = rows[0]
    facts = ConversationFacts(head["cid"], head["channel"] or "unknown", head["created_at"], head["updated_at"])
    owner = "bot"
    segment_start = head["created_at"]
    last_bot_activity = segment_start
    escalated_at: float | None = None
    closed_at: float | None = None
    metadata_customer: str | None = None
    for row in rows:
        kind, ts, value = row["type"], row["ts"], row["v"]
        if kind == "user":
            if truthy(row["w"]):
                continue
            if closed_at is not None and facts.reopened_at is None:
                facts.reopened_at = ts
            if owner == "closed":
                owner, segment_start = "bot", ts
            if owner == "bot":
                last_bot_activity = ts
            if value and value not in small_talk and facts.topic is None:
                facts.topic = value
            metadata_customer = metadata_customer or row["who"]
        elif kind == "escalated":
            facts.escalation_reasons.append(value or "unknown")
            if owner == "bot":
                facts.bot_seconds += ts - segment_start
            elif owner == "agent":  # a transfer: this agent's session ends
                facts.agent_seconds += ts - segment_start
            owner, escalated_at = "handoff", ts
        elif kind == "agent_joined":
            if escalated_at is not None:
                facts.pickup_seconds.append(ts - escalated_at)
                escalated_at = None
            if owner == "bot":
                facts.bot_seconds += ts - segment_start
            if owner != "agent":
                facts.agent_sessions += 1
                owner, segment_start = "agent", ts
        elif kind in ("returned_to_bot", "closed"):
            if owner == "agent":
                facts.agent_seconds += ts - segment_start
            elif owner == "bot":
                facts.bot_seconds += ts - segment_start
            owner, segment_start = ("bot" if kind == "returned_to_bot" else "closed"), ts
            last_bot_activity = ts
            escalated_at = None
            if kind == "closed" and closed_at is None:
                closed_at = ts
        elif kind == "csat" and value is not None:
            facts.csat.append(int(float(value)))
        elif kind == "knowledge":
            if truthy(value):
                facts.knowledge_answered += 1
            else:
                facts.knowledge_dont_know += 1
        elif kind == "flow_started" and value and value not in facts.flows:
            facts.flows.append(value)
        elif kind == "slot":
            if value == "authenticated" and truthy(row["w"]):
                facts.authenticated = True
            elif value == "customer_id" and row["w"] and facts.customer is None:
                facts.customer = row["w"]
    if owner == "bot":
        facts.bot_seconds += last_bot_activity - segment_start
    elif owner == "agent":
        facts.agent_seconds += facts.updated_at - segment_start
    facts.customer = facts.customer or metadata_customer
    facts.ended_at = closed_at if closed_at is not None else facts.updated_at
    return facts


def fold_all(rows: Iterable[dict[str, Any]], *, small_talk: frozenset[str]) -> list[ConversationFacts]:
    """Rows of many conversations (grouped by conversation) → their facts."""
    return [fold(list(group), small_talk=small_talk) for _cid, group in groupby(rows, key=lambda r: r["cid"])]


async def load_rows(db: Database, since: float, until: float) -> list[dict[str, Any]]:
    """The KPI rows (see :func:`facts_sql`) of every conversation created in ``[since, until)``."""
    return await db.fetch(facts_sql(db), since, until)


async def load_facts(db: Database, since: float, until: float, *,
                     small_talk: frozenset[str]) -> list[ConversationFacts]:
    """Facts of every conversation created in ``[since, until)``."""
    return fold_all(await load_rows(db, since, until), small_talk=small_talk)


async def queue_length(db: Database) -> int:
    """Conversations waiting for an agent now (status ``handoff``)."""
    return int(await db.fetchval("SELECT COUNT(*) AS n FROM conversations WHERE status = ?", "handoff") or 0)


async def ensure_indexes(db: Database) -> None:
    """Create the index KPI queries range over (idempotent)."""
    await db.migrate(INDEXES)
