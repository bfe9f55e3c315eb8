"""Deliver conversation events to helpdesk targets, each event once, retrying failures with backoff.

The dispatcher listens to the engine's bus for every conversation. Each (target, event) pair gets an
idempotency key; the key is first claimed in the ``helpdesk_deliveries`` table, so with several workers
(a Redis bus delivers every event to every worker) only one of them sends it, and the outcome
(delivered, failed, attempts, last error) stays on record.

Targets receive events masked for agents (``redact``, wired by :mod:`.routes` with the conversation's
:class:`bot.handoff.privacy.Redactor`): verification answers and sensitive values never leave for a
helpdesk. The idempotency key is taken from the stored event, so it does not change when masking does.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.customers.registry import DataTable, register
from bot.infra.bus import EventBus
from bot.infra.logs import get_logger
from bot.kernel.errors import ConcurrentWriteError, ProviderError, StoreError
from bot.kernel.events import Event
from bot.storage import Database

log = get_logger(__name__)

#: Masks one event of a conversation for the helpdesk: ``(conversation_id, event) -> event``.
Redact = Callable[[str, Event], Awaitable[Event]]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS helpdesk_deliveries (
        key TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        at {float} NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT)""",
)
register(DataTable("helpdesk_deliveries", "conversation", "conversation_id", "keep",
                   "which events were delivered to a helpdesk (idempotency keys and status, no content); kept so a "
                   "retry never re-sends", owner="connectors.helpdesk"))


def idempotency_key(target: str, conversation_id: str, event: Event) -> str:
    """A stable key for delivering ``event`` of ``conversation_id`` to ``target``."""
    raw = json.dumps([target, conversation_id, event.to_dict()], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


class Target(abc.ABC):
    """A helpdesk that hears about handoffs."""

    name: str = "target"
    max_attempts: int = 5
    backoff: float = 0.5

    @abc.abstractmethod
    def wants(self, event: Event) -> bool:
        """True when this target cares about ``event``."""

    @abc.abstractmethod
    async def deliver(self, conversation_id: str, event: Event, key: str) -> None:
        """Deliver once; raise :class:`ProviderError` (``permanent`` or not) on failure."""

    async def close(self) -> None:
        """Release connections."""


class Dispatcher:
    """Runs deliveries for ``targets`` in the background while started."""

    def __init__(self, bus: EventBus, db: Database, targets: Sequence[Target], *,
                 redact: Redact | None = None) -> None:
        self.bus = bus
        self.db = db
        self.targets = list(targets)
        self.redact = redact
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._subscribed = asyncio.Event()
        self._inbox: asyncio.Queue[Any] | None = None
        self._order: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def start(self) -> None:
        """Create the table and start listening."""
        await self.db.migrate(SCHEMA)
        self._task = asyncio.create_task(self._listen())
        await self._subscribed.wait()

    async def _listen(self) -> None:
        async with self.bus.subscribe(None) as inbox:
            self._inbox = inbox
            self._subscribed.set()
            while True:
                conversation_id, event = await inbox.get()
                for target in self.targets:
                    if target.wants(event):
                        task = asyncio.create_task(self._deliver(target, conversation_id, event))
                        self._deliveries.add(task)
                        task.add_done_callback(self._deliveries.discard)

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait (at most ``seconds``) until every event heard so far is delivered or given up (tests, shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await asyncio.sleep(0)
            if self._inbox is not None and not self._inbox.empty():
                await asyncio.sleep(0.01)
                continue
            if not self._deliveries:
                return
            await asyncio.wait(set(self._deliveries), timeout=max(0.0, deadline - loop.time()))

    async def close(self) -> None:
        """Finish deliveries under way (briefly), stop listening, close the targets."""
        await self.drain(5.0)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._deliveries):
            task.cancel()
        for target in self.targets:
            await target.close()

    async def _claim(self, key: str, target: Target, conversation_id: str, event: Event) -> bool:
        try:
            await self.db.execute(
                "INSERT INTO helpdesk_deliveries (key, target, conversation_id, event_type, at, status, attempts) "
                "VALUES (?, ?, ?, ?, ?, 'pending', 0)", key, target.name, conversation_id, event.type, time.time())
        except ConcurrentWriteError:
            return False
        return True

    async def _deliver(self, target: Target, conversation_id: str, event: Event) -> None:
        """Deliveries of one conversation to one target happen in event order (asyncio locks wake FIFO)."""
        slot = (target.name, conversation_id)
        lock, users = self._order.get(slot, (asyncio.Lock(), 0))
        self._order[slot] = (lock, users + 1)
        try:
            async with lock:
                await self._deliver_in_order(target, conversation_id, event)
        finally:
            lock, users = self._order[slot]
            if users == 1:
                del self._order[slot]
            else:
                self._order[slot] = (lock, users - 1)

    async def _deliver_in_order(self, target: Target, conversation_id: str, event: Event) -> None:
        key = idempotency_key(target.name, conversation_id, event)
        if not await self._claim(key, target, conversation_id, event):
            return
        delay = target.backoff
        error: str | None = None
        for attempt in range(1, target.max_attempts + 1):
            try:
                await target.deliver(conversation_id, await self._masked(conversation_id, event), key)
            except ProviderError as exc:
                error = str(exc)
                log.warning("helpdesk_delivery_failed", target=target.name, conversation_id=conversation_id,
                            event_type=event.type, attempt=attempt, permanent=exc.permanent, error=error)
                if exc.permanent or attempt == target.max_attempts:
                    await self._finish(key, "failed", attempt, error)
                    return
                await asyncio.sleep(delay)
                delay *= 2
                continue
            await self._finish(key, "delivered", attempt, None)
            log.info("helpdesk_delivered", target=target.name, conversation_id=conversation_id,
                     event_type=event.type, attempts=attempt)
            return

    async def _masked(self, conversation_id: str, event: Event) -> Event:
        """``event`` as the helpdesk may read it; a store failure is retried like a delivery failure."""
        if self.redact is None:
            return event
        try:
            return await self.redact(conversation_id, event)
        except StoreError as exc:
            raise ProviderError(f"could not load the conversation to mask the event: {exc}",
                                provider="careline_store") from exc

    async def _finish(self, key: str, status: str, attempts: int, error: str | None) -> None:
        await self.db.execute("UPDATE helpdesk_deliveries SET status = ?, attempts = ?, error = ? WHERE key = ?",
                              status, attempts, error, key)

    async def deliveries(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Delivery records, oldest first."""
        sql = "SELECT * FROM helpdesk_deliveries"
        args: list[Any] = []
        if conversation_id is not None:
            sql += " WHERE conversation_id = ?"
            args.append(conversation_id)
        return await self.db.fetch(sql + " ORDER BY at", *args)
