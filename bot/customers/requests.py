"""Data-subject requests: export everything held about a customer, erase it; both audited.

Coverage is the data registry (:mod:`bot.customers.registry`): export reads every registered table that is in
the database, by the customer id or by the customer's linked conversations; erasure treats each table as its
registration says — ``redact`` (the events of the customer's conversations, redacted in place: KPIs keep their
counts), ``delete``, or ``keep`` (the audit trails). A table in the database that nobody registered is refused
(:class:`UncoveredTables`) rather than silently left out.

Every request is a row of ``careline_data_requests``: who asked (``actor``), what (``export``, ``erase``,
``erase_requested``, ``erase_confirmed``), when, and counts — never an erased value. With
``customers.erase_confirmation: two_person`` an erasure is first requested by one operator and runs when a
different one confirms it (:meth:`DataRequests.erase` with ``confirm=<request id>``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.customers.redaction import pseudonymizer
from bot.customers.registry import registered, tables_in
from bot.customers.retention import rewrite_events
from bot.customers.store import CustomerStore
from bot.infra.logs import get_logger
from bot.kernel.errors import CarelineError, RequestError
from bot.project import Project
from bot.storage import Database

log = get_logger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS careline_data_requests (
        id {id},
        at {float} NOT NULL,
        customer_id TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        confirms INTEGER,
        detail {json} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS careline_data_requests_customer ON careline_data_requests (customer_id, at)",
)
ERASURE = "erasure"
"""The redaction mark erased events carry."""


class UncoveredTables(CarelineError):
    """The database holds tables no package registered: export/erase would miss them (a bug: register them)."""


class ConfirmationRequired(RequestError):
    """Two-person erasure: the request is recorded and waits for a second operator (HTTP 202)."""

    status = 202

    def __init__(self, request_id: int) -> None:
        super().__init__(f"erasure request {request_id} recorded; a second operator must confirm it")
        self.request_id = request_id


class ConfirmationRefused(RequestError):
    """The confirmation names no pending request for this customer, or its own requester (HTTP 409)."""

    status = 409


@dataclass(slots=True)
class Erasure:
    """What an erasure did."""

    customer_id: str
    conversations: list[str]
    events_redacted: int = 0
    rows_deleted: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    request_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "conversations": self.conversations,
                "events_redacted": self.events_redacted, "rows_deleted": self.rows_deleted, "kept": self.kept,
                "request_id": self.request_id}


class DataRequests:
    """Export and erasure for one database and project."""

    def __init__(self, db: Database, project: Project, *, clock: Callable[[], float] | None = None,
                 forget: Callable[[str], object] | None = None) -> None:
        self.db = db
        self.project = project
        self.customers = CustomerStore(db)
        self.clock: Callable[[], float] = clock or time.time
        self.forget = forget or (lambda _conversation_id: None)

    async def setup(self) -> None:
        await self.customers.setup()
        await self.db.migrate(SCHEMA)

    async def _tables(self) -> list[Any]:
        present = await tables_in(self.db)
        known = registered()
        missing = sorted(present - set(known))
        if missing:
            raise UncoveredTables(f"tables not covered by export/erase: {', '.join(missing)}; register them in "
                                  "bot.customers.registry")
        return [known[name] for name in sorted(present)]

    async def conversations(self, customer_id: str) -> list[str]:
        return sorted({link.conversation_id for link in await self.customers.links(customer_id, limit=100_000)})

    async def export(self, customer_id: str, *, actor: str) -> dict[str, Any]:
        """Everything held about the customer, table by table (events decoded), and an audit row."""
        await self.setup()
        conversations = await self.conversations(customer_id)
        tables: dict[str, list[dict[str, Any]]] = {}
        for table in await self._tables():
            if table.holds == "none" or table.key is None:
                continue
            rows = await self._rows(table.name, table.key, customer_id if table.holds == "customer" else None,
                                    conversations)
            if table.name == "events":
                rows = [{**{k: v for k, v in r.items() if k != "data"}, "data": json.loads(r["data"])} for r in rows]
            tables[table.name] = [_portable(r) for r in rows]
        await self._audit(customer_id, "export", actor, detail={t: len(r) for t, r in tables.items()})
        log.info("customer_exported", customer_id=customer_id, actor=actor, conversations=len(conversations))
        return {"customer_id": customer_id, "exported_at": self.clock(), "conversations": conversations,
                "tables": tables}

    async def _rows(self, table: str, key: str, customer_id: str | None,
                    conversations: list[str]) -> list[dict[str, Any]]:
        # table and column names come from the registry (declared by code); values are bound
        if customer_id is not None:
            return await self.db.fetch(f"SELECT * FROM {table} WHERE {key} = ?", customer_id)  # noqa: S608
        out: list[dict[str, Any]] = []
        for start in range(0, len(conversations), 200):
            chunk = conversations[start:start + 200]
            marks = ", ".join("?" * len(chunk))
            out.extend(await self.db.fetch(f"SELECT * FROM {table} WHERE {key} IN ({marks})", *chunk))  # noqa: S608
        return out

    async def erase(self, customer_id: str, *, actor: str, confirm: int | None = None) -> Erasure:
        """Erase the customer (see the module docstring); raises :class:`ConfirmationRequired` when a second
        operator must confirm first."""
        await self.setup()
        tables = await self._tables()
        if self.project.config.customers.erase_confirmation == "two_person":
            if confirm is None:
                request_id = await self._audit(customer_id, "erase_requested", actor, detail={})
                log.info("erasure_requested", customer_id=customer_id, actor=actor, request_id=request_id)
                raise ConfirmationRequired(request_id)
            await self._check_confirmation(customer_id, actor, confirm)
        conversations = await self.conversations(customer_id)
        result = Erasure(customer_id, conversations)
        for table in tables:
            if table.holds == "none" or table.key is None:
                continue
            if table.erase == "keep":
                result.kept.append(table.name)
            elif table.erase == "redact":
                pseudonym = pseudonymizer("erased")  # one for all their conversations: repeat-contact KPIs stay
                for conversation_id in conversations:
                    async with self.db.transaction() as tx:
                        changed, _ = await rewrite_events(tx, conversation_id, ERASURE, (), pseudonym)
                    result.events_redacted += changed
                    self.forget(conversation_id)
            elif table.name not in ("careline_customer_links",):
                result.rows_deleted[table.name] = await self._delete(table.name, table.key, customer_id, table.holds,
                                                                     conversations)
        # the links go last: they are how the conversations above were found
        result.rows_deleted["careline_customer_links"] = await self._delete(
            "careline_customer_links", "customer_id", customer_id, "customer", conversations)
        result.request_id = await self._audit(customer_id, "erase", actor, confirms=confirm,
                                              detail={k: v for k, v in result.to_dict().items()
                                                      if k not in ("customer_id", "request_id")})
        log.warning("customer_erased", customer_id=customer_id, actor=actor, conversations=len(conversations),
                    events=result.events_redacted, confirmed=confirm)
        return result

    async def _check_confirmation(self, customer_id: str, actor: str, request_id: int) -> None:
        row = await self.db.fetchrow("SELECT customer_id, actor FROM careline_data_requests WHERE id = ? "
                                     "AND action = 'erase_requested'", request_id)
        if row is None or row["customer_id"] != customer_id:
            raise ConfirmationRefused(f"no erasure request {request_id} for customer {customer_id!r}")
        if row["actor"] == actor:
            raise ConfirmationRefused("the operator who asked for an erasure cannot confirm it: a second one must")
        done = await self.db.fetchrow("SELECT id FROM careline_data_requests WHERE action = 'erase' AND confirms = ?",
                                      request_id)
        if done is not None:
            raise ConfirmationRefused(f"erasure request {request_id} was already carried out")
        await self._audit(customer_id, "erase_confirmed", actor, confirms=request_id, detail={})

    async def _delete(self, table: str, key: str, customer_id: str, holds: str, conversations: list[str]) -> int:
        values = [customer_id] if holds == "customer" else conversations
        deleted = 0
        async with self.db.transaction() as tx:
            for start in range(0, len(values), 200):
                chunk = values[start:start + 200]
                marks = ", ".join("?" * len(chunk))
                count = await tx.fetchval(f"SELECT COUNT(*) AS n FROM {table} WHERE {key} IN ({marks})",  # noqa: S608
                                          *chunk)
                await tx.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", *chunk)  # noqa: S608
                deleted += int(count or 0)
        return deleted

    async def _audit(self, customer_id: str, action: str, actor: str, *, detail: dict[str, Any],
                     confirms: int | None = None) -> int:
        async with self.db.transaction() as tx:
            await tx.execute("INSERT INTO careline_data_requests (at, customer_id, action, actor, confirms, detail) "
                             "VALUES (?, ?, ?, ?, ?, ?)", self.clock(), customer_id, action, actor, confirms,
                             json.dumps(detail, default=str))
            value = await tx.fetchval("SELECT MAX(id) AS id FROM careline_data_requests WHERE customer_id = ? "
                                      "AND actor = ? AND action = ?", customer_id, actor, action)
        return int(value)

    async def history(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's requests, oldest first (the audit trail)."""
        await self.setup()
        rows = await self.db.fetch("SELECT id, at, action, actor, confirms, detail FROM careline_data_requests "
                                   "WHERE customer_id = ? ORDER BY id", customer_id)
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]


def _portable(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON can carry it: binary values (a call recording's WAV) as ``{"base64": ...}``."""
    return {k: {"base64": base64.b64encode(bytes(v)).decode("ascii")} if isinstance(v, bytes | memoryview) else v
            for k, v in row.items()}
