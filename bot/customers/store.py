"""Customer records: the backend's customer id, its contact points and the conversations linked to it.

A conversation is linked to a customer only when the customer *verified* in it (the flow runner's
``authenticated`` + ``customer_id`` slots), never on an identifier, a caller id or a device alone: an
unverified contact point never reaches anybody's history. Contact points (``email``, ``phone``, ``device``)
are recorded with the verification that proved them; a caller id that matches one is only a hint
(:meth:`CustomerStore.hinted`), never proof.

Tables (conversation database, SQLite or PostgreSQL): ``careline_customers``, ``careline_customer_contacts``,
``careline_customer_links``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

from bot.storage import Database

ContactKind = Literal["email", "phone", "device"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS careline_customers (
        customer_id TEXT PRIMARY KEY,
        first_seen {float} NOT NULL,
        last_seen {float} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS careline_customer_contacts (
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        verified_at {float} NOT NULL,
        PRIMARY KEY (customer_id, kind, value))""",
    "CREATE INDEX IF NOT EXISTS careline_customer_contacts_value ON careline_customer_contacts (kind, value)",
    """CREATE TABLE IF NOT EXISTS careline_customer_links (
        customer_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        channel TEXT,
        linked_at {float} NOT NULL,
        PRIMARY KEY (customer_id, conversation_id))""",
    "CREATE INDEX IF NOT EXISTS careline_customer_links_conversation ON careline_customer_links (conversation_id)",
)


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact point proved by a verification."""

    kind: ContactKind
    value: str


@dataclass(frozen=True, slots=True)
class Link:
    """A conversation in which the customer verified."""

    customer_id: str
    conversation_id: str
    channel: str | None
    linked_at: float


def normalize_contact(kind: ContactKind, value: str) -> str:
    """The stored form of a contact point: e-mail lower-cased, phone numbers digits only (``+`` dropped)."""
    text = value.strip()
    if kind == "email":
        return text.lower()
    if kind == "phone":
        return "".join(ch for ch in text if ch.isdigit())
    return text


def contact_of(identifier: str) -> Contact | None:
    """The contact point an identifier a customer gave names (an e-mail or a phone number), else ``None``."""
    text = identifier.strip()
    if "@" in text:
        return Contact("email", normalize_contact("email", text))
    digits = normalize_contact("phone", text)
    if len(digits) >= 7 and all(ch.isdigit() or ch in "+ -()" for ch in text):
        return Contact("phone", digits)
    return None


class CustomerStore:
    """Customer records in the conversation database; the tables are created on first use."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ready = False
        self._setup_lock = asyncio.Lock()

    async def setup(self) -> None:
        """Create the tables if they do not exist."""
        async with self._setup_lock:
            if not self._ready:
                await self.db.migrate(SCHEMA)
                self._ready = True

    async def _db(self) -> Database:
        if not self._ready:
            await self.setup()
        return self.db

    async def link(self, customer_id: str, conversation_id: str, *, channel: str | None,
                   contacts: tuple[Contact, ...] = (), at: float | None = None) -> None:
        """Record that ``customer_id`` verified in ``conversation_id`` (idempotent) with the contact points the
        verification proved."""
        now = time.time() if at is None else at
        db = await self._db()
        async with db.transaction() as tx:
            if await tx.fetchrow("SELECT 1 AS one FROM careline_customers WHERE customer_id = ?", customer_id):
                await tx.execute("UPDATE careline_customers SET last_seen = ? WHERE customer_id = ? AND last_seen < ?",
                                 now, customer_id, now)
            else:
                await tx.execute("INSERT INTO careline_customers (customer_id, first_seen, last_seen) VALUES (?, ?, ?)",
                                 customer_id, now, now)
            if not await tx.fetchrow("SELECT 1 AS one FROM careline_customer_links WHERE customer_id = ? AND "
                                     "conversation_id = ?", customer_id, conversation_id):
                await tx.execute("INSERT INTO careline_customer_links (customer_id, conversation_id, channel, "
                                 "linked_at) VALUES (?, ?, ?, ?)", customer_id, conversation_id, channel, now)
            for contact in contacts:
                value = normalize_contact(contact.kind, contact.value)
                if not value:
                    continue
                if await tx.fetchrow("SELECT 1 AS one FROM careline_customer_contacts WHERE customer_id = ? "
                                     "AND kind = ? AND value = ?", customer_id, contact.kind, value):
                    await tx.execute("UPDATE careline_customer_contacts SET verified_at = ? WHERE customer_id = ? "
                                     "AND kind = ? AND value = ?", now, customer_id, contact.kind, value)
                else:
                    await tx.execute("INSERT INTO careline_customer_contacts (customer_id, kind, value, verified_at) "
                                     "VALUES (?, ?, ?, ?)", customer_id, contact.kind, value, now)

    async def links(self, customer_id: str, *, limit: int = 100) -> list[Link]:
        """The customer's verified conversations, newest link first."""
        db = await self._db()
        rows = await db.fetch("SELECT customer_id, conversation_id, channel, linked_at FROM careline_customer_links "
                              "WHERE customer_id = ? ORDER BY linked_at DESC LIMIT ?", customer_id, limit)
        return [Link(r["customer_id"], r["conversation_id"], r["channel"], float(r["linked_at"])) for r in rows]

    async def customer_of(self, conversation_id: str) -> str | None:
        """The customer verified in ``conversation_id`` (the latest, should several have been), or ``None``."""
        db = await self._db()
        value = await db.fetchval("SELECT customer_id FROM careline_customer_links WHERE conversation_id = ? "
                                  "ORDER BY linked_at DESC LIMIT 1", conversation_id)
        return None if value is None else str(value)

    async def contacts(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's proved contact points (``kind``, ``value``, ``verified_at``)."""
        db = await self._db()
        return await db.fetch("SELECT kind, value, verified_at FROM careline_customer_contacts WHERE customer_id = ? "
                              "ORDER BY kind, value", customer_id)

    async def hinted(self, kind: ContactKind, value: str) -> list[str]:
        """Customers a contact point (a caller id) was proved for: a hint for routing and agents, never proof —
        nothing of theirs is shown until the caller verifies."""
        db = await self._db()
        rows = await db.fetch("SELECT DISTINCT customer_id FROM careline_customer_contacts WHERE kind = ? "
                              "AND value = ?", kind, normalize_contact(kind, value))
        return sorted(str(r["customer_id"]) for r in rows)

    async def record(self, customer_id: str) -> dict[str, Any] | None:
        """The customer row (``first_seen``, ``last_seen``), or ``None`` for an unknown customer."""
        db = await self._db()
        return await db.fetchrow("SELECT customer_id, first_seen, last_seen FROM careline_customers "
                                 "WHERE customer_id = ?", customer_id)
