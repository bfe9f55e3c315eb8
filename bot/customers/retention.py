"""The retention job: ages data past ``retention:`` in config.yml, on every backend, idempotent and batched.

Per data kind (days; unset keeps the data):

* ``transcripts`` — conversations whose last event is older: every event redacted in place
  (:func:`~bot.customers.redaction.redact_transcript`); the events themselves stay, so KPIs keep their counts.
* ``sensitive_slots`` — conversations whose last event is older: the sensitive slot values go
  (:class:`~bot.customers.redaction.SensitiveValues`); with ``drop_sensitive_at_end`` also every ended
  conversation, and at once when it ends (:meth:`RetentionJob.observe`).
* ``qa_scores``, ``voice_audio``, ``audit_log`` — rows of the tables registered with that kind
  (:mod:`bot.customers.registry`) older than the limit are deleted, ``batch_size`` per transaction.

Which part of a conversation was done is kept in ``careline_retention_done`` (the last event seq covered per
kind), so a run never redoes work and a reopened conversation is aged again from its new last event. One run
at a time across workers: the job takes a lease row in ``careline_job_leases`` (a worker whose lease is held
elsewhere skips the run); every rewrite is idempotent anyway, so a lease lost mid-run repeats nothing
harmful. Each run logs ``retention_run`` with the count per kind.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.customers.config import DAY, RetentionConfig
from bot.customers.redaction import Pseudonym, SensitiveValues, pseudonymizer, redact_transcript
from bot.customers.registry import registered, tables_in
from bot.infra.logs import get_logger
from bot.kernel.errors import ConcurrentWriteError
from bot.kernel.events import ConversationEnded, Event
from bot.project import Project
from bot.storage import Database
from bot.storage.database import Executor

log = get_logger(__name__)

Clock = Callable[[], float]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS careline_job_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until {float} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS careline_retention_done (
        conversation_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        at {float} NOT NULL,
        PRIMARY KEY (conversation_id, kind))""",
)
LEASE = "retention"
LEASE_SECONDS = 600.0


@dataclass(slots=True)
class RetentionReport:
    """What one run changed: rows (events or table rows) per kind; ``skipped`` when another worker held the
    lease."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    def add(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


class Leases:
    """Named leases in the database: at most one holder per name until its lease runs out."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Whether ``holder`` holds the lease now (taken or renewed for ``seconds``)."""
        try:
            return await self._acquire(name, holder, seconds)
        except ConcurrentWriteError:
            return False  # another worker created the lease row at the same moment: it holds it

    async def _acquire(self, name: str, holder: str, seconds: float) -> bool:
        now = self.clock()
        async with self.db.transaction() as tx:
            row = await tx.fetchrow("SELECT holder, until FROM careline_job_leases WHERE name = ?", name)
            if row is None:
                await tx.execute("INSERT INTO careline_job_leases (name, holder, until) VALUES (?, ?, ?)",
                                 name, holder, now + seconds)
                return True
            if row["holder"] != holder and float(row["until"]) > now:
                return False
            # conditional: a worker that raced us here waits on the row and then finds it taken (PostgreSQL
            # re-checks the condition after the lock; SQLite runs one write transaction at a time)
            await tx.execute("UPDATE careline_job_leases SET holder = ?, until = ? WHERE name = ? "
                             "AND (holder = ? OR until <= ?)", holder, now + seconds, name, holder, now)
            taken = await tx.fetchval("SELECT holder FROM careline_job_leases WHERE name = ?", name)
            return bool(taken == holder)

    async def release(self, name: str, holder: str) -> None:
        await self.db.execute("UPDATE careline_job_leases SET until = 0 WHERE name = ? AND holder = ?", name, holder)


class RetentionJob:
    """Applies ``project.config.retention`` to ``db``; ``clock`` (seconds since the epoch) is injectable."""

    def __init__(self, db: Database, project: Project, *, clock: Clock | None = None,
                 forget: Callable[[str], object] | None = None, worker: str | None = None) -> None:
        self.db = db
        self.project = project
        self.config: RetentionConfig = project.config.retention
        self.clock: Clock = clock or time.time
        self.forget = forget or (lambda _conversation_id: None)
        """Drop a conversation's cached state after its events were rewritten (the engine's state cache)."""
        self.worker = worker or uuid.uuid4().hex[:12]
        self.leases = Leases(db, clock=self.clock)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def sensitive(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, spec in self.project.domain.slots.items() if spec.sensitive))

    async def setup(self) -> None:
        await self.db.migrate(SCHEMA)

    async def run(self) -> RetentionReport:
        """One pass over every kind (under the lease); returns what it changed."""
        await self.setup()
        report = RetentionReport()
        if not await self.leases.acquire(LEASE, self.worker, LEASE_SECONDS):
            log.info("retention_skipped", reason="another worker holds the lease")
            report.skipped = True
            return report
        try:
            now = self.clock()
            if self.config.transcripts is not None:
                report.add("transcripts", await self._conversations("transcripts", now - self.config.transcripts * DAY))
            if self.config.sensitive_slots is not None:
                report.add("sensitive_slots",
                           await self._conversations("sensitive_slots", now - self.config.sensitive_slots * DAY))
            if self.config.drop_sensitive_at_end:
                report.add("sensitive_slots", await self._conversations("sensitive_slots", None, closed=True))
            for kind in ("qa_scores", "voice_audio", "audit_log"):
                days = getattr(self.config, kind)
                if days is not None:
                    report.add(kind, await self._tables(kind, now - days * DAY))
        finally:
            await self.leases.release(LEASE, self.worker)
        log.info("retention_run", worker=self.worker, **report.counts)
        return report

    # --- conversations --------------------------------------------------------------------------

    async def _conversations(self, kind: str, before: float | None, *, closed: bool = False) -> int:
        """Rewrite the due conversations, ``batch_size`` at a time; returns the events changed."""
        changed = 0
        pseudonym = pseudonymizer()  # one per run: a customer's aged conversations keep one (unlinkable) id
        where = "c.status = 'closed'" if closed else "c.updated_at < ?"
        args: list[Any] = [] if closed else [before]
        sql = (f"SELECT c.conversation_id, c.last_seq FROM conversations c LEFT JOIN careline_retention_done d "  # noqa: S608
               f"ON d.conversation_id = c.conversation_id AND d.kind = ? WHERE {where} "
               "AND (d.last_seq IS NULL OR d.last_seq < c.last_seq) ORDER BY c.updated_at LIMIT ?")
        while True:
            rows = await self.db.fetch(sql, kind, *args, self.config.batch_size)
            for row in rows:
                changed += await self.rewrite(str(row["conversation_id"]), kind, pseudonym)
            if len(rows) < self.config.batch_size:
                return changed

    async def rewrite(self, conversation_id: str, kind: str, pseudonym: Pseudonym | None = None) -> int:
        """Apply ``kind`` (``transcripts``, ``sensitive_slots`` or an erasure reason) to every stored event of the
        conversation, in one transaction; returns the events changed."""
        async with self.db.transaction() as tx:
            changed, last = await rewrite_events(tx, conversation_id, kind, self.sensitive, pseudonym)
            await _done(tx, conversation_id, kind, last, self.clock())
        self.forget(conversation_id)
        if changed:
            log.info("conversation_redacted", conversation_id=conversation_id, kind=kind, events=changed)
        return changed

    # --- tables ---------------------------------------------------------------------------------

    async def _tables(self, kind: str, before: float) -> int:
        present = await tables_in(self.db)
        deleted = 0
        for table in registered().values():
            if table.retention != kind or table.name not in present or table.time_column is None:
                continue
            while True:
                n = await self._delete_batch(table.name, table.id_column, table.time_column, before)
                deleted += n
                if n < self.config.batch_size:
                    break
        return deleted

    async def _delete_batch(self, table: str, id_column: str, time_column: str, before: float) -> int:
        # identifiers come from the registry (declared by code), values are bound
        async with self.db.transaction() as tx:
            ids = await tx.fetch(f"SELECT {id_column} AS id FROM {table} WHERE {time_column} < ? "  # noqa: S608
                                 f"ORDER BY {id_column} LIMIT ?", before, self.config.batch_size)
            for chunk in _chunks([r["id"] for r in ids], 200):
                marks = ", ".join("?" * len(chunk))
                await tx.execute(f"DELETE FROM {table} WHERE {id_column} IN ({marks})", *chunk)  # noqa: S608
        return len(ids)

    # --- at conversation end --------------------------------------------------------------------

    def observe(self, conversation_id: str, events: Sequence[Event], _turn: object) -> None:
        """Engine observer: with ``drop_sensitive_at_end``, a conversation that just ended loses its sensitive slot
        values at once (in a task; the scheduled run catches any that a stopped process missed)."""
        if not self.config.drop_sensitive_at_end or not any(isinstance(e, ConversationEnded) for e in events):
            return
        task = asyncio.get_running_loop().create_task(self._drop_at_end(conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_at_end(self, conversation_id: str) -> None:
        try:
            await self.setup()
            await self.rewrite(conversation_id, "sensitive_slots")
        except Exception:  # a background task must log its failure; the scheduled run retries it
            log.exception("sensitive_drop_failed", conversation_id=conversation_id)

    async def settle(self) -> None:
        """Wait for the at-end drops in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- schedule -------------------------------------------------------------------------------

    async def forever(self, *, first_delay: float = 30.0) -> None:
        """Run every ``retention.interval`` seconds until cancelled (a failed run is logged and retried)."""
        await asyncio.sleep(first_delay)
        while True:
            try:
                await self.run()
            except Exception:  # the next run retries; the process must not lose its scheduler
                log.exception("retention_failed")
            await asyncio.sleep(self.config.interval)

    def configured(self) -> bool:
        """Whether any retention limit or the at-end drop is set."""
        c = self.config
        return c.drop_sensitive_at_end or any(getattr(c, k) is not None for k in
                                              ("transcripts", "sensitive_slots", "qa_scores", "voice_audio",
                                               "audit_log"))


async def rewrite_events(tx: Executor, conversation_id: str, kind: str, sensitive: Sequence[str],
                         pseudonym: Pseudonym | None = None) -> tuple[int, int]:
    """Rewrite one conversation's stored events for ``kind``; returns ``(events changed, last seq seen)``."""
    rows = await tx.fetch("SELECT seq, type, data FROM events WHERE conversation_id = ? ORDER BY seq", conversation_id)
    decoded = [(int(r["seq"]), str(r["type"]), json.loads(r["data"])) for r in rows]
    updates: list[tuple[int, dict[str, Any]]] = []
    if kind == "sensitive_slots":
        values = SensitiveValues(sensitive)
        for _, type_, data in decoded:
            values.collect(type_, data)
        gave = _messages_that_gave(decoded, values.names)
        for seq, type_, data in decoded:
            new = values.rewrite(type_, data, gave_value=seq in gave)
            if new is not None:
                updates.append((seq, new))
    else:
        for seq, type_, data in decoded:
            new = redact_transcript(type_, data, kind, pseudonym)
            if new is not None:
                updates.append((seq, new))
    for seq, data in updates:
        await tx.execute("UPDATE events SET data = ? WHERE conversation_id = ? AND seq = ?",
                         json.dumps(data, default=str), conversation_id, seq)
    return len(updates), decoded[-1][0] if decoded else 0


def _messages_that_gave(decoded: list[tuple[int, str, dict[str, Any]]], names: frozenset[str]) -> set[int]:
    """Seqs of the customer messages whose turn set a sensitive slot to a value."""
    out: set[int] = set()
    latest: int | None = None
    for seq, type_, data in decoded:
        if type_ == "user":
            latest = seq
        elif type_ == "slot" and data.get("name") in names and data.get("value") is not None and latest is not None:
            out.add(latest)
    return out


async def _done(tx: Executor, conversation_id: str, kind: str, last_seq: int, at: float) -> None:
    if await tx.fetchrow("SELECT 1 AS one FROM careline_retention_done WHERE conversation_id = ? AND kind = ?",
                         conversation_id, kind):
        await tx.execute("UPDATE careline_retention_done SET last_seq = ?, at = ? WHERE conversation_id = ? "
                         "AND kind = ?", last_seq, at, conversation_id, kind)
    else:
        await tx.execute("INSERT INTO careline_retention_done (conversation_id, kind, last_seq, at) "
                         "VALUES (?, ?, ?, ?)", conversation_id, kind, last_seq, at)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
