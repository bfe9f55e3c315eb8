"""Per-conversation locks: two messages of one conversation never run their turns at once.

In-process by default; with several workers, a Redis lock (``redis://...``) so the workers agree.

A Redis lock is a **lease**: it expires ``lease`` seconds after it was last renewed, and the holder renews
it in the background while its turn runs. A worker that dies (``kill -9``) stops renewing, so the
conversation is free again within ``lease`` seconds, not after a long fixed timeout. A holder whose lease
ran out is **fenced**: :meth:`Lease.check` raises :class:`LockLost` before it commits, and the store's
expected sequence number (:class:`~bot.kernel.errors.ConcurrentWriteError`) refuses the rare write that races
past that check, since the new holder appends first.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.infra.logs import get_logger
from bot.kernel.errors import StoreError

log = get_logger(__name__)


class LockLost(StoreError):
    """The holder's lease ran out (it could not renew it in time); its turn must not be committed."""


class Lease:
    """What :meth:`ConversationLocks.hold` yields: proof of holding the conversation, until ``lost``."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.lost = False
        """True once the holder knows another worker may hold the conversation."""

    async def check(self) -> None:
        """Raise :class:`LockLost` unless the lease is still held (called right before committing)."""
        if self.lost:
            raise LockLost(f"lost the lock of conversation {self.conversation_id}")


class ConversationLocks(abc.ABC):
    """``async with locks.hold(conversation_id) as lease:`` — exclusive for that conversation."""

    @abc.abstractmethod
    def hold(self, conversation_id: str) -> Any:
        """An async context manager holding the conversation's lock; yields a :class:`Lease`."""

    async def ping(self) -> None:
        """Raise :class:`StoreError` when the lock service does not answer (readiness)."""

    async def close(self) -> None:
        """Release resources."""


class InProcessLocks(ConversationLocks):
    """asyncio locks keyed by conversation id; unused ones are dropped so memory stays bounded."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[Lease]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] = self._users.get(conversation_id, 0) + 1
        try:
            async with lock:
                yield Lease(conversation_id)
        finally:
            self._users[conversation_id] -= 1
            if self._users[conversation_id] == 0:
                del self._users[conversation_id]
                del self._locks[conversation_id]

    def __len__(self) -> int:
        return len(self._locks)


class _RedisLease(Lease):
    """A Redis lock renewed every ``lease / 3`` seconds until released; ``lost`` once a renewal fails."""

    def __init__(self, conversation_id: str, lock: Any, lease: float) -> None:
        super().__init__(conversation_id)
        self._lock = lock
        self._lease = lease
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        import redis.exceptions

        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await asyncio.wait_for(self._lock.reacquire(), timeout=self._lease / 3)
            except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
                self.lost = True
                log.warning("conversation_lock_lost", conversation_id=self.conversation_id, error=str(exc))
                return

    async def check(self) -> None:
        """Renew once more, now: raises :class:`LockLost` when the key is no longer ours."""
        import redis.exceptions

        await super().check()
        try:
            await asyncio.wait_for(self._lock.reacquire(), timeout=self._lease / 2)
        except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
            self.lost = True
            raise LockLost(f"lost the lock of conversation {self.conversation_id}: {exc}") from exc

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class RedisLocks(ConversationLocks):
    """Redis locks shared by every worker: a lease of ``lease`` s renewed by its holder, so a dead worker's
    lock frees itself within ``lease`` s; waiting for a busy conversation gives up after ``wait`` s."""

    def __init__(self, url: str, *, lease: float = 5.0, wait: float = 20.0, prefix: str = "careline:lock:",
                 timeout: float = 2.0) -> None:
        import redis.asyncio as redis

        if lease <= 0 or wait <= 0:
            raise ValueError(f"lease and wait must be positive, got lease={lease!r} wait={wait!r}")
        self._redis = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._lease = lease
        self._wait = wait
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[Lease]:
        import redis.exceptions

        lock = self._redis.lock(self._prefix + conversation_id, timeout=self._lease, blocking_timeout=self._wait,
                                sleep=0.05, thread_local=False)
        try:
            acquired = await lock.acquire()
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StoreError(f"Redis lock failed: {exc}") from exc
        if not acquired:
            raise StoreError(f"conversation {conversation_id} stayed locked for {self._wait} s")
        lease = _RedisLease(conversation_id, lock, self._lease)
        lease.start()
        try:
            yield lease
        finally:
            await lease.stop()
            # expired while held (the next holder may already have it) or Redis is gone: nothing to release
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await lock.release()

    async def ping(self) -> None:
        import redis.exceptions

        try:
            await self._redis.ping()
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StoreError(f"Redis does not answer: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()


def make_locks(redis_url: str | None) -> ConversationLocks:
    """Redis locks when a URL is configured, in-process ones otherwise."""
    return RedisLocks(redis_url) if redis_url else InProcessLocks()
