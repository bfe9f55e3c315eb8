"""Verification lockout across conversations: failed verifications per customer account and per client source.

A conversation locks itself after ``auth.max_attempts`` failures (the ``auth_locked`` slot), but an attacker
can open another conversation. So every failed verification is also recorded here, keyed by the identified
account (when the identifier matched one) and by the client source's pseudonym (``UserUttered.client``).
When, within ``auth.lockout_seconds``, an account reaches ``max_failures_per_customer`` or a source reaches
``max_failures_per_client``, it is locked for ``lockout_seconds`` (the cooldown): verification then fails even
with the right proof, and the customer hears the same neutral wording as for a wrong one.

Failures counted toward a lock are those since the subject's previous lock ended (and inside the window),
so a cooldown really ends. Each lock is an audit row (``careline_auth_locks``) and a ``verification_locked``
warning with the customer id and client pseudonym; no proof value is ever stored or logged.

:class:`StoredLockout` keeps this in the conversation database, so every worker sharing it sees the same
locks; :class:`MemoryLockout` (one process, tests, no database) follows the same policy.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.infra.logs import get_logger
from bot.project.schema import AuthConfig
from bot.storage import Database

log = get_logger(__name__)

Clock = Callable[[], float]
Kind = Literal["customer", "client"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS careline_auth_failures (
        id {id},
        at {float} NOT NULL,
        customer_id TEXT,
        client TEXT,
        conversation_id TEXT)""",
    "CREATE INDEX IF NOT EXISTS careline_auth_failures_customer ON careline_auth_failures (customer_id, at)",
    "CREATE INDEX IF NOT EXISTS careline_auth_failures_client ON careline_auth_failures (client, at)",
    "CREATE INDEX IF NOT EXISTS careline_auth_failures_at ON careline_auth_failures (at)",
    """CREATE TABLE IF NOT EXISTS careline_auth_locks (
        id {id},
        at {float} NOT NULL,
        until {float} NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        customer_id TEXT,
        client TEXT,
        conversation_id TEXT,
        failures INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS careline_auth_locks_subject ON careline_auth_locks (kind, subject, until)",
)

#: How failures of each kind of subject are counted.
_COUNT: dict[Kind, str] = {
    "customer": "SELECT COUNT(*) AS n FROM careline_auth_failures WHERE customer_id = ? AND at > ?",
    "client": "SELECT COUNT(*) AS n FROM careline_auth_failures WHERE client = ? AND at > ?",
}


@dataclass(frozen=True, slots=True)
class Lock:
    """One lock: an account (``kind="customer"``) or a client source (``"client"``) refused until ``until``."""

    kind: Kind
    subject: str
    """The customer id or the client pseudonym that is locked."""
    at: float
    until: float
    failures: int
    """Failures counted when the lock was set."""
    customer_id: str | None = None
    """The account the failure that set the lock was about (``None`` for an unknown identifier)."""
    client: str | None = None
    """The client source (pseudonym) of the failure that set the lock."""
    conversation_id: str | None = None


class Lockout(abc.ABC):
    """The policy (``config``) over a place to keep failures and locks; ``clock`` is injectable for tests."""

    def __init__(self, config: AuthConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or AuthConfig()
        self.clock: Clock = clock or time.time

    async def locked(self, customer_id: str | None, client: str | None) -> Lock | None:
        """The lock in force on the account or the client source, if any."""
        now = self.clock()
        subjects: tuple[tuple[Kind, str | None], ...] = (("customer", customer_id), ("client", client))
        for kind, subject in subjects:
            if subject is not None:
                lock = await self._active(kind, subject, now)
                if lock is not None:
                    return lock
        return None

    async def failed(self, customer_id: str | None, client: str | None, *,
                     conversation_id: str | None = None) -> list[Lock]:
        """Record a failed verification; returns the locks it set (already locked subjects are not re-locked)."""
        now = self.clock()
        if customer_id is None and client is None:
            return []  # nothing to count it against (an unknown identifier from a source-less channel)
        await self._record(now, customer_id, client, conversation_id)
        limits: tuple[tuple[Kind, str | None, int], ...] = (
            ("customer", customer_id, self.config.max_failures_per_customer),
            ("client", client, self.config.max_failures_per_client),
        )
        new: list[Lock] = []
        for kind, subject, limit in limits:
            if subject is None or await self._active(kind, subject, now) is not None:
                continue
            since = max(now - self.config.lockout_seconds, await self._last_until(kind, subject))
            failures = await self._count(kind, subject, since)
            if failures < limit:
                continue
            lock = Lock(kind, subject, now, now + self.config.lockout_seconds, failures, customer_id, client,
                        conversation_id)
            await self._save(lock)
            log.warning("verification_locked", kind=kind, customer_id=customer_id, client=client,
                        failures=failures, until=lock.until, lockout_seconds=self.config.lockout_seconds)
            new.append(lock)
        return new

    @abc.abstractmethod
    async def _record(self, at: float, customer_id: str | None, client: str | None,
                      conversation_id: str | None) -> None:
        """Keep one failure (and forget those older than the window: they never count again)."""

    @abc.abstractmethod
    async def _count(self, kind: Kind, subject: str, since: float) -> int:
        """Failures of ``subject`` after ``since``."""

    @abc.abstractmethod
    async def _active(self, kind: Kind, subject: str, now: float) -> Lock | None:
        """The lock on ``subject`` in force at ``now``."""

    @abc.abstractmethod
    async def _last_until(self, kind: Kind, subject: str) -> float:
        """When the subject's latest lock ended (``0`` when it never was locked)."""

    @abc.abstractmethod
    async def _save(self, lock: Lock) -> None:
        """Keep a new lock (the audit record)."""

    @abc.abstractmethod
    async def locks(self, *, limit: int = 100) -> list[Lock]:
        """The latest locks, newest first (the audit trail)."""


class MemoryLockout(Lockout):
    """Failures and locks in this process only (a single worker without a database, tests)."""

    def __init__(self, config: AuthConfig | None = None, *, clock: Clock | None = None) -> None:
        super().__init__(config, clock=clock)
        self._failures: list[tuple[float, str | None, str | None]] = []
        self._locks: list[Lock] = []

    async def _record(self, at: float, customer_id: str | None, client: str | None,
                      conversation_id: str | None) -> None:
        horizon = at - self.config.lockout_seconds
        self._failures = [f for f in self._failures if f[0] >= horizon]
        self._failures.append((at, customer_id, client))

    async def _count(self, kind: Kind, subject: str, since: float) -> int:
        position = 1 if kind == "customer" else 2
        return sum(1 for f in self._failures if f[position] == subject and f[0] > since)

    async def _active(self, kind: Kind, subject: str, now: float) -> Lock | None:
        return next((lock for lock in reversed(self._locks)
                     if lock.kind == kind and lock.subject == subject and lock.until > now), None)

    async def _last_until(self, kind: Kind, subject: str) -> float:
        return max((lock.until for lock in self._locks if lock.kind == kind and lock.subject == subject), default=0.0)

    async def _save(self, lock: Lock) -> None:
        self._locks.append(lock)

    async def locks(self, *, limit: int = 100) -> list[Lock]:
        return list(reversed(self._locks))[:limit]


class StoredLockout(Lockout):
    """Failures and locks in the conversation database (SQLite or PostgreSQL), shared by every worker on it.

    The tables are created on first use (or by :meth:`setup`).
    """

    def __init__(self, db: Database, config: AuthConfig | None = None, *, clock: Clock | None = None) -> None:
        super().__init__(config, clock=clock)
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

    async def _record(self, at: float, customer_id: str | None, client: str | None,
                      conversation_id: str | None) -> None:
        db = await self._db()
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM careline_auth_failures WHERE at < ?", at - self.config.lockout_seconds)
            await tx.execute("INSERT INTO careline_auth_failures (at, customer_id, client, conversation_id) "
                             "VALUES (?, ?, ?, ?)", at, customer_id, client, conversation_id)

    async def _count(self, kind: Kind, subject: str, since: float) -> int:
        db = await self._db()
        value = await db.fetchval(_COUNT[kind], subject, since)
        return int(value or 0)

    async def _active(self, kind: Kind, subject: str, now: float) -> Lock | None:
        db = await self._db()
        row = await db.fetchrow(
            "SELECT kind, subject, at, until, failures, customer_id, client, conversation_id FROM careline_auth_locks "
            "WHERE kind = ? AND subject = ? AND until > ? ORDER BY until DESC LIMIT 1", kind, subject, now)
        return _lock(row) if row is not None else None

    async def _last_until(self, kind: Kind, subject: str) -> float:
        db = await self._db()
        value = await db.fetchval("SELECT MAX(until) AS until FROM careline_auth_locks WHERE kind = ? AND subject = ?",
                                  kind, subject)
        return float(value or 0.0)

    async def _save(self, lock: Lock) -> None:
        db = await self._db()
        await db.execute(
            "INSERT INTO careline_auth_locks (at, until, kind, subject, customer_id, client, conversation_id, "
            "failures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", lock.at, lock.until, lock.kind, lock.subject,
            lock.customer_id, lock.client, lock.conversation_id, lock.failures)

    async def locks(self, *, limit: int = 100) -> list[Lock]:
        db = await self._db()
        rows = await db.fetch(
            "SELECT kind, subject, at, until, failures, customer_id, client, conversation_id FROM careline_auth_locks "
            "ORDER BY at DESC, id DESC LIMIT ?", limit)
        return [_lock(row) for row in rows]


def _lock(row: Mapping[str, Any]) -> Lock:
    kind: Kind = "customer" if row["kind"] == "customer" else "client"
    return Lock(kind, str(row["subject"]), float(row["at"]), float(row["until"]), int(row["failures"]),
                _text(row["customer_id"]), _text(row["client"]), _text(row["conversation_id"]))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
