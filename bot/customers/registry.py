"""The data registry: every table of the conversation database, what it holds about a customer, and how
export, erasure and retention treat it.

A package that creates a table registers it here (:func:`register`), next to its ``CREATE TABLE``; the
test ``tests/customers/test_coverage.py`` lists the tables of a database every package has set up and fails on
one that is not registered. Ways a table relates to a customer (``holds``):

* ``conversation`` — rows keyed by ``conversation_id`` (``key``): exported and erased for the customer's linked
  conversations;
* ``customer`` — rows keyed by the backend's customer id (``key``);
* ``none`` — nothing about any one customer (configuration history, release snapshots); ``why`` says so.

Erasure (``erase``): ``redact`` (the conversation events: texts and values redacted in place, the events'
kinds, times, intents and ratings kept, so KPIs keep their counts), ``delete`` (rows removed), ``keep`` (kept
as they are, ``why`` says why: the audit trail of who did what).

Retention (``retention``): the data kind of ``retention:`` in config.yml that ages the table's rows by
``time_column``; ``id_column`` is the key deletions are batched by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Holds = Literal["conversation", "customer", "none"]
Erase = Literal["redact", "delete", "keep"]
Kind = Literal["transcripts", "sensitive_slots", "voice_audio", "qa_scores", "audit_log"]
KINDS: tuple[Kind, ...] = ("transcripts", "sensitive_slots", "voice_audio", "qa_scores", "audit_log")


@dataclass(frozen=True, slots=True)
class DataTable:
    """One table and its place in export, erasure and retention."""

    name: str
    holds: Holds
    key: str | None
    """The column rows are found by (``conversation_id`` or ``customer_id``); ``None`` with ``holds="none"``."""
    erase: Erase
    why: str
    """What the table holds, and for ``keep`` why erasure leaves it."""
    retention: Kind | None = None
    time_column: str | None = None
    id_column: str = "id"
    owner: str = "bot"
    """The package that creates the table."""

    def __post_init__(self) -> None:
        if (self.holds == "none") != (self.key is None):
            raise ValueError(f"table {self.name!r}: a key column is needed exactly when it holds customer data")
        if self.retention is not None and self.time_column is None:
            raise ValueError(f"table {self.name!r}: a retention kind needs the time column it ages rows by")


_TABLES: dict[str, DataTable] = {}


def register(*tables: DataTable) -> None:
    """Declare tables (registering the same declaration again is harmless; a different one is an error)."""
    for table in tables:
        known = _TABLES.get(table.name)
        if known is not None and known != table:
            raise ValueError(f"table {table.name!r} is already registered by {known.owner}")
        _TABLES[table.name] = table


def registered() -> dict[str, DataTable]:
    """Every registered table by name."""
    return dict(_TABLES)


register(
    DataTable("events", "conversation", "conversation_id", "redact", "every conversation's events",
              owner="bot.storage"),
    DataTable("conversations", "conversation", "conversation_id", "keep",
              "the conversation index (channel, status, times, escalation reason, team, agent): no customer "
              "words or values; kept so queue and KPI counts stay whole", owner="bot.storage"),
    DataTable("message_ids", "conversation", "conversation_id", "keep",
              "client message ids (random) for at-most-once delivery; nothing personal", owner="bot.storage"),
    DataTable("careline_auth_failures", "customer", "customer_id", "delete",
              "failed verifications per account and client source", retention="audit_log", time_column="at",
              owner="bot.flows.lockout"),
    DataTable("careline_auth_locks", "customer", "customer_id", "keep",
              "verification lockouts (the security audit trail), aged by retention.audit_log",
              retention="audit_log", time_column="at", owner="bot.flows.lockout"),
    DataTable("handoff_audit", "conversation", "conversation_id", "keep",
              "who viewed or acted on a conversation (the audit trail), aged by retention.audit_log",
              retention="audit_log", time_column="at", owner="bot.handoff.audit"),
    DataTable("careline_scope_versions", "none", None, "keep", "automation scope history (configuration)",
              owner="bot.ops.scope"),
    DataTable("careline_project_releases", "none", None, "keep", "project file snapshots (configuration)",
              owner="bot.ops.releases"),
    DataTable("careline_customers", "customer", "customer_id", "delete", "customer records (first and last seen)",
              owner="bot.customers"),
    DataTable("careline_customer_contacts", "customer", "customer_id", "delete",
              "contact points proved by verification (e-mail, phone, widget device)", owner="bot.customers"),
    DataTable("careline_customer_links", "customer", "customer_id", "delete",
              "which conversations the customer verified in", owner="bot.customers"),
    DataTable("careline_data_requests", "customer", "customer_id", "keep",
              "the audit trail of exports and erasures (who, what, when); names no erased value",
              retention="audit_log", time_column="at", owner="bot.customers"),
    DataTable("careline_job_leases", "none", None, "keep", "which worker runs a scheduled job", owner="bot.customers"),
)

register(DataTable("careline_retention_done", "conversation", "conversation_id", "keep",
                   "how far the retention job has aged each conversation (sequence numbers only)",
                   owner="bot.customers.retention"))


async def tables_in(db: Any) -> set[str]:
    """The tables of ``db`` (its schema on PostgreSQL)."""
    if db.dialect == "sqlite":
        rows = await db.fetch("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {str(r["name"]) for r in rows}
    rows = await db.fetch("SELECT table_name AS name FROM information_schema.tables "
                          "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    return {str(r["name"]) for r in rows}
