"""Per-conversation locks: two messages of one conversation never run their turns at once.

In-process by default; with several workers, a Redis lock (``redis://...``) so the workers agree.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.errors import StoreError


class ConversationLocks(abc.ABC):
    """``async with locks.hold(conversation_id):`` — exclusive for that conversation."""

    @abc.abstractmethod
    def hold(self, conversation_id: str) -> Any:
        """An async context manager holding the conversation's lock."""

    async def close(self) -> None:
        """Release resources."""


class InProcessLocks(ConversationLocks):
    """asyncio locks keyed by conversation id; unused ones are dropped so memory stays bounded."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] = self._users.get(conversation_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[conversation_id] -= 1
            if self._users[conversation_id] == 0:
                del self._users[conversation_id]
                del self._locks[conversation_id]

    def __len__(self) -> int:
        return len(self._locks)


class RedisLocks(ConversationLocks):
    """Redis locks shared by every worker; a lock expires after ``timeout`` s if its holder dies."""

    def __init__(self, url: str, *, timeout: float = 30.0, wait: float = 30.0, prefix: str = "careline:lock:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._timeout = timeout
        self._wait = wait
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        import redis.exceptions

        lock = self._redis.lock(self._prefix + conversation_id, timeout=self._timeout, blocking_timeout=self._wait)
        try:
            acquired = await lock.acquire()
        except redis.exceptions.RedisError as exc:
            raise StoreError(f"Redis lock failed: {exc}") from exc
        if not acquired:
            raise StoreError(f"conversation {conversation_id} stayed locked for {self._wait} s")
        try:
            yield
        finally:
            # expired while held: the next holder already has it, so there is nothing to release
            with contextlib.suppress(redis.exceptions.LockError):
                await lock.release()

    async def close(self) -> None:
        await self._redis.aclose()


def make_locks(redis_url: str | None) -> ConversationLocks:
    """Redis locks when a URL is configured, in-process ones otherwise."""
    return RedisLocks(redis_url) if redis_url else InProcessLocks()
