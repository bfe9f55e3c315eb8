"""Per-conversation facts for KPIs, read from the ``events`` table in one query.

Analytics never replays full events: the query selects only the event types KPIs need and pulls the
few JSON fields they use (intent, reason, score, ...) in SQL, so the database does the parsing and
bot utterances, flow steps and actions never leave it. :func:`fold` then walks one conversation's
rows in order and keeps what the KPI definitions in :mod:`bot.analytics.kpis` count.

Nothing stored can make this read fail. Event JSON is written by Python's ``json.dumps``, which writes
non-finite numbers as ``NaN``/``Infinity`` and may hold ``\\u0000`` or lone surrogate escapes: text
PostgreSQL refuses as ``jsonb`` and SQLite's JSON functions refuse as malformed. The query parses only
rows the database can read (SQLite: ``json_valid``; PostgreSQL: no such token, see :data:`PG_UNREADABLE`)
and hands the others over raw, to be read in Python (:func:`salvage`); a row nobody can read keeps its
type and time and loses its fields. Should PostgreSQL still refuse a row, the read is retried with every
row read in Python. Client-chosen values (metadata, slot values, scores) are only ever compared or used
as keys, never trusted as numbers.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from bot.infra.logs import get_logger
from bot.kernel.errors import StoreError
from bot.storage import Database

#: Event types that KPIs read (everything else stays in the database).
KPI_EVENT_TYPES = ("user", "escalated", "agent_joined", "returned_to_bot", "closed", "csat", "knowledge",
                   "flow_started", "slot")
#: Slots that matter to KPIs: verification and the customer identity (for repeat contacts).
KPI_SLOTS = ("authenticated", "customer_id")
#: Keys of a user event's ``metadata`` naming the customer when the channel knows them.
CUSTOMER_METADATA_KEYS = ("customer_id", "user_id")

#: A PostgreSQL regex matching event text that may not cast to ``jsonb``: non-finite numbers, NUL and lone
#: surrogate escapes (conservative: the word "NaN" in a message also matches, and that row is read in Python).
#: Bound as a query parameter (the store rewrites every ``?`` in SQL text into a placeholder).
PG_UNREADABLE = (r"NaN|Infinity|\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                 r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]")
#: The JSON field each KPI event type contributes as ``v`` (``w`` is ``for_agent`` / a slot's ``value``).
VALUE_FIELDS = {"user": "intent", "escalated": "reason", "csat": "score", "knowledge": "answered",
                "flow_started": "flow_id", "slot": "name"}

log = get_logger(__name__)

INDEXES = ("CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_at)",)


def json_field(db: Database, *path: str, in_sql: bool = True) -> str:
    """SQL reading the text of ``data``'s field ``path`` (nested keys allowed) in ``db``'s dialect; ``NULL``
    for a row the database cannot read (or for every row when not ``in_sql``)."""
    if not in_sql:
        return "NULL"
    if db.dialect == "postgres":
        inner = "".join(f" -> '{key}'" for key in path[:-1])
        return f"(e.j{inner} ->> '{path[-1]}')"
    return f"CASE WHEN json_valid(e.data) THEN json_extract(e.data, '$.{'.'.join(path)}') END"


def _readable(db: Database, in_sql: bool) -> str:
    """SQL that is true when the database parsed the row's JSON."""
    if not in_sql:
        return "FALSE" if db.dialect == "postgres" else "0"
    return "e.j IS NOT NULL" if db.dialect == "postgres" else "json_valid(e.data)"


def facts_sql(db: Database, *, in_sql: bool = True) -> str:
    """The query behind :func:`load_facts`: KPI-relevant events of conversations created in a range (on
    PostgreSQL its first parameter is :data:`PG_UNREADABLE`). ``in_sql=False`` leaves all parsing to Python."""
    def f(*path: str) -> str:
        return json_field(db, *path, in_sql=in_sql)

    value = "CASE e.type " + " ".join(f"WHEN '{t}' THEN {f(k)}" for t, k in VALUE_FIELDS.items()) + " END"
    detail = f"CASE e.type WHEN 'user' THEN {f('for_agent')} WHEN 'slot' THEN {f('value')} END"
    customer = "COALESCE(" + ", ".join(f("metadata", k) for k in CUSTOMER_METADATA_KEYS) + ")"
    types = ", ".join(f"'{t}'" for t in KPI_EVENT_TYPES)
    slots = ", ".join(f"'{s}'" for s in KPI_SLOTS)
    readable = _readable(db, in_sql)
    if db.dialect == "postgres":
        parsed = "CASE WHEN data !~ ? THEN data::jsonb END" if in_sql else "NULL::jsonb"
        events = (f"(SELECT conversation_id, seq, type, timestamp, data, {parsed} AS j "  # noqa: S608
                  f"FROM events WHERE type IN ({types})) e")
    else:
        events = "events e"
    # Casts give both dialects the same column type (text): SQLite's json_extract returns numbers as numbers.
    # Only module constants and fixed JSON paths are interpolated; the time range is bound as parameters.
    cast = "TEXT"
    return f"""
        SELECT c.conversation_id AS cid, c.channel AS channel, c.created_at AS created_at,
               c.updated_at AS updated_at, e.type AS type, e.timestamp AS ts,
               CAST({value} AS {cast}) AS v, CAST({detail} AS {cast}) AS w,
               CASE WHEN e.type = 'user' THEN CAST({customer} AS {cast}) END AS who,
               CASE WHEN NOT ({readable}) THEN e.data END AS raw
        FROM conversations c JOIN {events} ON e.conversation_id = c.conversation_id
        WHERE c.created_at >= ? AND c.created_at < ? AND e.type IN ({types})
          AND (e.type <> 'slot' OR NOT ({readable}) OR {f('name')} IN ({slots}))
        ORDER BY c.conversation_id, e.seq"""  # noqa: S608


def as_text(value: Any) -> str | None:
    """A parsed JSON value as the query's text columns hold it (booleans as ``true``/``false``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, default=str)


def salvage(row: dict[str, Any]) -> dict[str, Any] | None:
    """A row whose JSON the database did not parse, its fields read in Python (what Python's ``json`` reads:
    ``NaN``, ``Infinity``, NUL and lone surrogates); ``None`` for a slot KPIs do not need."""
    try:
        data = json.loads(row["raw"])
    except (ValueError, TypeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        data = {}
    kind = row["type"]
    value = as_text(data.get(VALUE_FIELDS.get(kind, "")))
    if kind == "slot" and value not in KPI_SLOTS:
        return None
    detail = as_text(data.get("for_agent") if kind == "user" else data.get("value") if kind == "slot" else None)
    who = None
    metadata = data.get("metadata")
    if kind == "user" and isinstance(metadata, dict):
        who = next((as_text(metadata[k]) for k in CUSTOMER_METADATA_KEYS if metadata.get(k) is not None), None)
    return {**row, "v": value, "w": detail, "who": who, "raw": None}


def score(value: Any) -> int | None:
    """A stored CSAT score as an integer 1-5, or ``None`` for anything else (text, infinities, out of range)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or not 1 <= round(number) <= 5:
        return None
    return round(number)


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
        elif kind == "csat" and (rating := score(value)) is not None:
            facts.csat.append(rating)
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


def fold_all(rows: Iterable[dict[str, Any]], *, small_talk: frozenset[str],
             stop: threading.Event | None = None) -> list[ConversationFacts]:
    """Rows of many conversations (grouped by conversation) → their facts; stops early once ``stop`` is set
    (the caller went away and discards the result)."""
    out = []
    for _cid, group in groupby(rows, key=lambda r: r["cid"]):
        if stop is not None and stop.is_set():
            break
        out.append(fold(list(group), small_talk=small_talk))
    return out


async def load_rows(db: Database, since: float, until: float) -> list[dict[str, Any]]:
    """The KPI rows (see :func:`facts_sql`) of every conversation created in ``[since, until)``; rows the
    database could not parse are read in Python (:func:`salvage`)."""
    try:
        rows = await db.fetch(facts_sql(db), *([PG_UNREADABLE] if db.dialect == "postgres" else []), since, until)
    except StoreError as exc:
        if db.dialect != "postgres" or not _is_data_error(exc):
            raise
        log.warning("kpi_rows_parsed_in_python", error=str(exc)[:200])
        rows = await db.fetch(facts_sql(db, in_sql=False), since, until)
    return [r for r in (salvage(row) if row["raw"] is not None else row for row in rows) if r is not None]


def _is_data_error(exc: BaseException) -> bool:
    """Whether PostgreSQL refused a value (bad JSON text), as opposed to being unreachable."""
    import asyncpg

    return isinstance(exc.__cause__, asyncpg.DataError)


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
